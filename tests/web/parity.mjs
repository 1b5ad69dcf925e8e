// parity.mjs — every patch of nodes/ (every entry of engine.json) rendered
// in the browser (OfflineAudioContext, the real worklet and engine.wasm —
// the multi-track engine, runtime/engine/ — commands through the command
// ring) is bit-identical to the native render of the same engine: `amp
// render PROJECT.json` of a project this test writes, which feeds
// runtime/engine/ natively the same music. On a difference, the test
// reports the number of differing samples, the largest difference and the
// first frame.
//
// The reference is a project, not `amp render FILE.amp --notes`: that runs
// the patch alone through host.c, not through the engine (no track, no
// fader, no mixer). The comparison is same engine against same engine;
// `amp render FILE.amp` is rendered too, and whether it agrees is logged,
// not asserted.
//
// Instruments: in the browser, track 0 (the instrument track engine.wasm
// makes at init, its fader at the engine's unity gain) gets the patch by
// set_instrument (a ready node from the patch's stock) and the notes as
// live note_on / note_off commands at their frames. Natively: one
// instrument track with the patch, the same fader gain, the notes as a
// clip. The project's tempo puts every frame on an exact binary fraction of
// a beat (lib.mjs, framesPerBeat: 703.125 bpm at 48 kHz, 4096 frames a
// beat), so each clip note starts and ends on the frame of the live note.
// Live notes and clip notes are two ways into the same instrument, on the
// same sample.
//
// Samplers (a patch whose metadata lists "samples"): the fixed input goes
// into the engine's pool as for an effect and every sample slot of the
// instrument is bound to it (load_sample, bind_sample at frame 0), then the
// notes; natively the project's track binds its slots to input.wav
// ("samples", PROJECT.md).
//
// Effects: the engine has no live audio input; the fixed input is a sample
// on an audio track with the effect as its insert. In the browser the
// sample goes into the engine's pool through the worklet (parked, handed
// over by load_sample), then add_track (audio, track 1), add_insert,
// set_gain (unity), place_region at 0, play. Natively: one audio track
// playing input.wav from beat 0 through the same insert, the same fader.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  check, compareBits, describeDifference, framesPerBeat, nativeRender, relativeTo, renderProject, testInput, waitFor,
  webDir, writeWav, pageReady } from './lib.mjs';
import { noteCommands, parseNotes, renderOffline, toBase64 } from './offline.mjs';

const RATE = 48000;
const SECONDS = 1.2;
const NOTES = '48@0:0.4 60@0.1:0.6 67@0.2:0.8';
const TRACK_AUDIO = 1;   // TrackKind.Audio

/** The project that plays `notes` (noteCommands' events) on patch `p`
 *  (`mode`: extra track fields, e.g. a legato voice mode with glide). */
function instrumentProject(p, events, frames, unityGainDb, dir, mode = {}) {
  const samples = p.meta.samples?.length
    ? { samples: Object.fromEntries(p.meta.samples.map((s) => [s, { file: 'input.wav' }])) } : {};
  const perBeat = framesPerBeat(RATE);
  const on = new Map(events.filter((e) => e.kind === 'on').map((e) => [e.id, e]));
  const notes = events.filter((e) => e.kind === 'off').map((off) => ({ on: on.get(off.id), off }))
    .sort((a, b) => a.on.frame - b.on.frame || a.on.id - b.on.id)
    .map(({ on: n, off }) => ({ key: n.key, start_beat: n.frame / perBeat,
                                length_beats: (off.frame - n.frame) / perBeat, velocity: n.velocity }));
  return {
    version: 1, sample_rate: RATE, tempo: (60 * RATE) / perBeat,
    length_beats: frames / perBeat, tail_seconds: 0,
    tracks: [{
      id: 1, kind: 'instrument', patch: { file: relativeTo(dir, p.source), unit: p.unit },
      fader: { gain_db: unityGainDb },
      clips: [{ start_beat: 0, length_beats: frames / perBeat, notes }],
      ...samples,
      ...mode,
    }],
  };
}

/** The project that plays input.wav (in `dir`) through effect `p`. */
function effectProject(p, frames, unityGainDb, dir) {
  const perBeat = framesPerBeat(RATE);
  return {
    version: 1, sample_rate: RATE, tempo: (60 * RATE) / perBeat,
    length_beats: frames / perBeat, tail_seconds: 0,
    tracks: [{
      id: 1, kind: 'audio',
      inserts: [{ patch: { file: relativeTo(dir, p.source), unit: p.unit } }],
      fader: { gain_db: unityGainDb },
      regions: [{ file: 'input.wav', start_beat: 0 }],
    }],
  };
}

export async function run(t) {
  const manifest = JSON.parse(await readFile(path.join(webDir, 'engine.json'), 'utf8'));
  check(manifest.patches.length > 0, 'engine.json lists no patches');
  const frames = Math.round(SECONDS * RATE);
  const input = testInput(frames, RATE);
  const inputWav = path.join(t.tmp, 'input.wav');
  await writeWav(inputWav, input, RATE);
  const events = noteCommands(parseNotes(NOTES), RATE);

  const page = await t.newPage();
  await pageReady(page);
  const failures = [];
  for (const p of manifest.patches) {
    const hasNotes = p.meta.voices > 0;
    const hasInput = p.meta.inputs.length > 0;
    const slots = hasNotes ? (p.meta.samples ?? []) : [];
    const browser = slots.length
      ? await renderOffline(page, {
        patch: p.index, frames, rate: RATE, sample: input.map(toBase64),
        commands: [
          { kind: 'loadSample', frame: 0, sample: 0 },
          ...slots.map((s, k) => ({ kind: 'bindSample', frame: 0, track: 0, slot: k, sample: 0 })),
          ...events,
        ],
      })
      : hasInput
      ? await renderOffline(page, {
        patch: null, frames, rate: RATE, sample: input.map(toBase64),
        commands: [
          { kind: 'loadSample', frame: 0, sample: 0 },
          { kind: 'addTrack', frame: 0, track: 1, trackKind: TRACK_AUDIO },
          { kind: 'addInsert', frame: 0, track: 1, position: 1, patch: p.index },
          { kind: 'gain', frame: 0, track: 1 },
          { kind: 'region', frame: 0, start: 0, track: 1, region: 0, sample: 0 },
          { kind: 'play', frame: 0 },
        ],
      })
      : await renderOffline(page, { patch: p.index, frames, rate: RATE, sample: null, commands: hasNotes ? events : [] });
    const doc = hasInput ? effectProject(p, frames, browser.unityGainDb, t.tmp)
      : instrumentProject(p, events, frames, browser.unityGainDb, t.tmp);
    const native = await renderProject(doc, t.tmp, p.unit, frames, RATE, t.cacheDir);

    const r = compareBits(native.channels, browser.channels);
    let peak = 0;
    for (const ch of native.channels) for (const x of ch) peak = Math.max(peak, Math.abs(x));

    // For the record: the patch alone through host.c (`amp render FILE.amp`).
    const args = [p.source, '--unit', p.unit, '--seconds', String(SECONDS), '--rate', String(RATE)];
    if (hasNotes) args.push('--notes', NOTES);
    for (const s of slots) args.push('--sample', `${s}=${inputWav}`);
    if (hasInput) args.push('--input', inputWav);
    const alone = await nativeRender(args, path.join(t.tmp, `${p.unit}-alone.wav`), t.cacheDir);
    const a = compareBits(alone.channels, browser.channels);

    const what = `${p.unit} (${p.meta.kind}, ${hasNotes ? `notes '${NOTES}'` : 'fixed stereo input on an audio track'}` +
      `${slots.length ? `, sample slots ${slots.join(' ')} bound to the fixed input` : ''}, ` +
      `${frames} frames x ${native.channels.length} ch, peak ${peak.toFixed(3)})`;
    t.log(`${what}: vs the native engine (project): ${describeDifference(r)}; ` +
          `vs the patch alone (amp render ${path.basename(p.source)}): ${describeDifference(a)}`);
    if (!r.identical) failures.push(`${p.unit}: ${describeDifference(r)}`);
    if (peak === 0) failures.push(`${p.unit}: the native render is silent, nothing was compared`);
    const s = browser.state;
    if (s.commandsRejected || s.commandsRefused || s.engineRefusals || s.commandsApplied !== browser.sent)
      failures.push(`${p.unit}: engine applied ${s.commandsApplied} of ${browser.sent} commands, rejected ` +
                    `${s.commandsRejected}, refused ${s.commandsRefused}, failed at their time ${s.engineRefusals}`);
    if (hasInput && browser.handle < 0) failures.push(`${p.unit}: the sample found no room in the engine's pool`);
  }

  // Legato with glide on every instrument: the pitch moves at every control
  // tick through the runtime's own exp2/log2, which must agree between the
  // two builds too.
  for (const p of manifest.patches.filter((q) => q.meta.voices > 0)) {
    const slots = p.meta.samples ?? [];
    const binds = slots.length ? [{ kind: 'loadSample', frame: 0, sample: 0 },
      ...slots.map((s, k) => ({ kind: 'bindSample', frame: 0, track: 0, slot: k, sample: 0 }))] : [];
    const legato = [...binds, { kind: 'voiceMode', frame: 0, track: 0, mode: 2, priority: 0, glide: 0.03 }, ...events];
    const browser = await renderOffline(page, { patch: p.index, frames, rate: RATE,
                                                sample: slots.length ? input.map(toBase64) : null, commands: legato });
    const doc = instrumentProject(p, events, frames, browser.unityGainDb, t.tmp,
                                  { voice_mode: 'legato', glide_seconds: 0.03 });
    const native = await renderProject(doc, t.tmp, `${p.unit}-legato`, frames, RATE, t.cacheDir);
    const r = compareBits(native.channels, browser.channels);
    t.log(`${p.unit} in legato with a 30 ms glide (notes '${NOTES}'): vs the native engine: ${describeDifference(r)}`);
    if (!r.identical) failures.push(`${p.unit} legato with glide: ${describeDifference(r)}`);
    if (browser.state.commandsApplied !== browser.sent)
      failures.push(`${p.unit} legato: the engine applied ${browser.state.commandsApplied} of ${browser.sent} commands`);
  }
  check(failures.length === 0, failures.join('; '));
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
