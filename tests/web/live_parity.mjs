// live_parity.mjs — the page's live engine, built by the DAW's own sync
// layer, plays what `amp render` renders, bit for bit; and edits made
// while it plays sound as they should.
//
// In the page, engine.wasm is driven directly (as the worklet does: the
// same exports, quanta of 128 frames, amp_refill after each; no
// AudioContext, so it runs faster than real time): a document goes into a
// DocStore, Sync + RingSink (web/src/engine/) write the command ring
// (format 3: engine clips, placements in beats, automation lanes,
// set_track_position, sends in dB, the tempo and signature maps, the
// metronome), the engine decodes the audio assets itself (amp_sample_wav:
// amp render's WAV reader and resampler), the build is let settle, then
// Sync.play() and, at the project's end frame, stop — as project_feed
// does. The output is compared with `amp render --format f32` of the same
// document:
//   - tests/projects/demo.json with built-in patches and its audio by
//     asset hash;
//   - a version-2 project (check_sync.c's): tempo changes, a signature
//     change, the transport loop, looped clips, a legato pad, an insert,
//     automation of a param and of a fader, a bus sending into a bus, an
//     audio track with an offset region, the metronome (enabled, and
//     export: true for amp render).
// Edits while playing, measured on the output: a clip moved and one of its
// notes moved (its onset lands on the new beat's sample), a track removed
// (its sound stops within a quantum of the edit).

import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { DOC_MODULES } from './doc.mjs';
import { buildDir, check, compareBits, describeDifference, fromBase64, readWav, repo } from './lib.mjs';

const execFileAsync = promisify(execFile);
const RATE = 48000;

const MODULES = `${DOC_MODULES}
export { Sync } from './engine/sync';
export { manifestRegistry } from './engine/sink';
export { RingSink } from './engine/ring-sink';
export { CommandSender } from './engine/commands';
export { RingWriter } from './engine/ring';
export { StateView, QUANTUM } from './engine/layout';
export { startEngine, createEngineMemory } from './engine/wasm';
export { loadEngineFiles } from './engine/client';
`;

export async function bundle() {
  const esbuild = createRequire(path.join(repo, 'web', 'package.json'))('esbuild');
  const out = await esbuild.build({
    stdin: { contents: MODULES, resolveDir: path.join(repo, 'web', 'src'), loader: 'ts' },
    bundle: true, format: 'iife', globalName: 'AmpLive', platform: 'browser', target: 'es2022',
    tsconfig: path.join(repo, 'web', 'tsconfig.app.json'), write: false, logLevel: 'warning',
  });
  return out.outputFiles[0].text;
}

const builtin = (p) => (typeof p === 'string' ? { builtin: path.basename(p) }
  : { builtin: path.basename(p.file), ...(p.unit ? { unit: p.unit } : {}) });

/** Built-in patches, every region's audio by asset hash. */
export function forThePage(doc, hash) {
  const d = structuredClone(doc);
  for (const t of d.tracks) {
    if (t.patch) t.patch = builtin(t.patch);
    for (const i of t.inserts ?? []) i.patch = builtin(i.patch);
    for (const r of t.regions ?? []) {
      delete r.file;
      r.asset = hash;
    }
  }
  return d;
}

/** check_sync.c's version-2 project, the metronome on. */
function version2() {
  const pad = 'nodes/pad.amp', epiano = 'nodes/epiano.amp', delay = 'nodes/stereo_delay.amp';
  return {
    version: 2, sample_rate: 48000, tempo: 100,
    tempo_changes: [{ beat: 4, bpm: 132.5 }, { beat: 10, bpm: 90 }],
    time_signature: [3, 4], time_signature_changes: [{ beat: 6, num: 7, den: 8 }],
    metronome: { enabled: true, gain_db: -12, export: true },
    loop: { enabled: true, start_beat: 2, end_beat: 11.5 },
    length_beats: 14, tail_seconds: 1, master: { gain_db: -1.5 },
    tracks: [
      { id: 10, kind: 'instrument', patch: pad, params: { cutoff: 900 }, fader: { gain_db: -4, pan: -0.3 },
        sends: [{ bus: 20, level_db: -6 }],
        clips: [{ start_beat: 0.5, length_beats: 12, loop_beats: 2.5, notes: [
          { key: 57, start_beat: 0, length_beats: 1.75, velocity: 0.6 }, { key: 64, start_beat: 0, length_beats: 3, velocity: 0.5 },
          { key: 60, start_beat: 1.25, length_beats: 0.5 }, { key: 72, start_beat: 2.75, length_beats: 1 }] }],
        automation: [{ target: { slot: 0, param: 'cutoff' }, points: [{ beat: 0, value: 400 }, { beat: 9, value: 3000 }] }] },
      { id: 11, kind: 'instrument', patch: epiano, inserts: [{ patch: delay, params: { time: 0.3, mix: 0.3 } }],
        fader: { gain_db: -146, pan: 0.4 }, sends: [{ bus: 21, level_db: -3 }],
        clips: [{ start_beat: 1, length_beats: 8, notes: [
          { key: 76, start_beat: 0, length_beats: 0.5, velocity: 0.9 }, { key: 79, start_beat: 0, length_beats: 0.25 },
          { key: 74, start_beat: 1.5, length_beats: 2 }] }],
        automation: [{ target: { fader: 'gain_db' }, points: [{ beat: 0, value: -2 }, { beat: 6, value: -12 }, { beat: 6, value: 0 }] }] },
      { id: 12, kind: 'instrument', patch: pad, voice_mode: 'legato', glide_seconds: 0.05,
        clips: [{ start_beat: 0, length_beats: 14, notes: [
          { key: 40, start_beat: 0, length_beats: 3 }, { key: 43, start_beat: 2.5, length_beats: 3 },
          { key: 45, start_beat: 7, length_beats: 2 }] }] },
      { id: 13, kind: 'instrument', patch: 'nodes/drums.amp', fader: { gain_db: -6 },
        clips: [{ start_beat: 0, length_beats: 14, loop_beats: 1, notes: [
          { key: 36, start_beat: 0, length_beats: 0.25 }, { key: 42, start_beat: 0.5, length_beats: 0.25 }] }] },
      { id: 14, kind: 'audio', fader: { gain_db: -3 }, sends: [{ bus: 21, level_db: -10 }],
        regions: [{ file: 'hats.wav', start_beat: 3, offset_seconds: 0.1, length_seconds: 0.3, gain_db: -2 },
                  { file: 'hats.wav', start_beat: 8 }] },
      { id: 20, kind: 'bus', inserts: [{ patch: delay, params: { time: 0.2, feedback: 0.5, mix: 1 } }],
        sends: [{ bus: 21, level_db: -4 }] },
      { id: 21, kind: 'bus', inserts: [{ patch: 'nodes/reverb.amp', params: { mix: 1 } }], fader: { gain_db: -2 } },
    ],
  };
}

/** Runs in the page: build `doc` through Sync + RingSink into engine.wasm,
 *  let the build settle, play, stop at the end frame, render `frames`;
 *  `edits` ([beat, name]) are made while it plays. */
export async function livePage(page, req) {
  return page.evaluate(async ({ doc, asset, frames, edits, IDLE_QUANTA }) => {
    const A = globalThis.AmpLive;
    const toBase64 = (f) => {
      const bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    };
    const assetBytes = asset ? Uint8Array.from(atob(asset), (c) => c.charCodeAt(0)).buffer : null;
    const files = await A.loadEngineFiles(new URL('./', location.href));
    const memory = A.createEngineMemory(files.manifest);
    const engine = A.startEngine(files.module, memory, 48000);
    const commands = new A.CommandSender(new A.RingWriter(memory.buffer, engine.amp_command_ring()));
    const state = new A.StateView(memory.buffer, engine.amp_state_region());
    const loadWav = async (bytes) => {
      const at = engine.amp_alloc(bytes.byteLength);
      new Uint8Array(memory.buffer).set(new Uint8Array(bytes), at);
      const handle = engine.amp_sample_wav(at, bytes.byteLength);
      engine.amp_free(at);
      return { handle, frames: engine.amp_sample_wav_frames(), channels: engine.amp_sample_wav_channels() };
    };
    const sink = new A.RingSink({ commands, sampleRate: 48000, frameAt: () => 0, loadWav },
                                { fetchAsset: async () => assetBytes });
    const sync = new A.Sync(sink, A.manifestRegistry(files.manifest.patches));
    const store = new A.DocStore(A.E.ensureIds(doc));
    sync.attach(store);
    await Promise.all([...sink.loading]);
    const outL = new Float32Array(memory.buffer, engine.amp_output(0), A.QUANTUM);
    const outR = new Float32Array(memory.buffer, engine.amp_output(1), A.QUANTUM);
    const quantum = (n) => { sink.flush(); engine.amp_process(n); engine.amp_refill(); };
    let settle = 0;
    for (;; settle++) {
      const s = state.read();
      if (sink.waiting === 0 && s && s.pending === 0 && s.commandsApplied + s.commandsRejected === commands.sent) break;
      if (settle > 100000) return { error: 'the build did not settle' };
      quantum(A.QUANTUM);
    }
    // Then a moment before play, as a musician's engine has: fader and
    // pan ramps of the build (add_track starts at 0 dB) run out.
    for (let i = 0; i < IDLE_QUANTA; i++) quantum(A.QUANTUM);
    const built = state.read();
    // Play from the next quantum; stop at the project's end frame (as
    // project_feed: engine_stop(project_end_frame)).
    const map = A.timing.tempoMap(store.doc);
    const endFrame = Math.round(A.timing.beatToSeconds(map, doc.length_beats) * 48000);
    const t0 = engine.amp_time();
    sync.play();
    commands.stop(t0 + endFrame);
    const left = new Float32Array(frames), right = new Float32Array(frames);
    const perBeat = (beat) => Math.round(A.timing.beatToSeconds(map, beat) * 48000);
    const pending = [...(edits ?? [])];
    const editAt = [];
    for (let q = 0; q < frames; q += A.QUANTUM) {
      while (pending.length && perBeat(pending[0][0]) <= q) {
        const [beat, name] = pending.shift();
        editAt.push([name, q, beat]);
        if (name === 'move') store.transact('Move', (d) => A.E.moveClip(d, 'c1', 2));
        if (name === 'note') store.transact('Note', (d) => A.E.moveNotes(d, 'c1', [0], 1, 0));
        if (name === 'remove') store.transact('Remove', (d) => A.E.removeTrack(d, 2));
      }
      const n = Math.min(A.QUANTUM, frames - q);
      quantum(n);
      left.set(outL.subarray(0, n), q);
      right.set(outR.subarray(0, n), q);
    }
    const s = state.read();
    return { left: toBase64(left), right: toBase64(right), settleQuanta: settle, sent: commands.sent,
             builtApplied: built.commandsApplied, rejected: s.commandsRejected, refused: s.commandsRefused,
             engineRefusals: s.engineRefusals, faults: s.faults, endFrame, editAt, outgrown: sink.outgrown };
  }, { IDLE_QUANTA: 200, ...req });
}

export async function ampRender(file, out, cacheDir) {
  await execFileAsync(path.join(buildDir, 'amp'), ['render', file, '--format', 'f32', '-o', out],
                      { cwd: repo, env: { ...process.env, AMP_CACHE: cacheDir } });
  return readWav(await readFile(out));
}

function peak(ch, from, to) {
  let p = 0;
  for (const c of ch) for (let i = Math.max(0, from); i < Math.min(to, c.length); i++) p = Math.max(p, Math.abs(c[i]));
  return p;
}

export async function run(t) {
  const started = Date.now();
  const dir = path.join(t.tmp, 'live-parity');
  await mkdir(dir, { recursive: true });
  const hats = await readFile(path.join(repo, 'tests/projects/hats.wav'));
  const hash = createHash('sha256').update(hats).digest('hex');
  await mkdir(path.join(dir, 'assets', hash.slice(0, 2)), { recursive: true });
  await writeFile(path.join(dir, 'assets', hash.slice(0, 2), hash), hats);
  await copyFile(path.join(repo, 'tests/projects/hats.wav'), path.join(dir, 'hats.wav'));

  const page = await t.newPage();
  await page.addScriptTag({ content: await bundle() });
  const demo = JSON.parse(await readFile(path.join(repo, 'tests/projects/demo.json'), 'utf8'));
  const cases = [['demo.json (built-in patches, audio by asset)', forThePage(demo, hash)],
                 ['a version-2 project (check_sync.c\'s, metronome on)', forThePage(version2(), hash)]];
  let n = 0;
  for (const [what, doc] of cases) {
    const file = path.join(dir, `case${n++}.json`);
    await writeFile(file, JSON.stringify(doc, null, 2));
    const native = await ampRender(file, path.join(dir, `case${n}.wav`), t.cacheDir);
    const frames = native.channels[0].length;
    const got = await livePage(page, { doc, asset: hats.toString('base64'), frames });
    check(!got.error, `${what}: ${got.error}`);
    check(got.rejected === 0 && got.refused === 0 && got.engineRefusals === 0 && got.faults === 0 && !got.outgrown,
          `${what}: ${got.rejected} commands rejected, ${got.refused} refused, ${got.engineRefusals} failed, ` +
          `${got.faults} faults${got.outgrown ? ', the engine outgrown' : ''}`);
    const live = [fromBase64(got.left), fromBase64(got.right)];
    const r = compareBits(native.channels, live);
    const p = peak(native.channels, 0, frames);
    t.log(`${what}: ${got.builtApplied} commands built it in ${got.settleQuanta} quanta; ${frames} frames ` +
          `(stop at ${got.endFrame}), peak ${p.toFixed(3)}: live vs amp render: ${describeDifference(r)}`);
    check(p > 0.05, `${what}: the render is (nearly) silent`);
    check(r.identical, `${what}: the live engine differs from amp render: ${describeDifference(r)}`);
  }

  // Edits while playing. 120 bpm: 24000 frames a beat. Track 1 has one
  // note (clip c1 at beat 0, note at 4..5); track 2 a long note from beat
  // 8. At beat 1 the clip moves to beat 2, at beat 3 its note moves one
  // beat later: the first sound is at beat 2 + 5 = 7, frame 168000, to the
  // sample. At beat 10 track 2 is removed: silence within a quantum.
  let doc = {
    version: 2, sample_rate: 48000, tempo: 120, length_beats: 16, tail_seconds: 0,
    tracks: [
      { id: 1, kind: 'instrument', patch: { builtin: 'epiano.amp' },
        clips: [{ start_beat: 0, length_beats: 8, notes: [{ key: 72, start_beat: 4, length_beats: 1 }] }] },
      { id: 2, kind: 'instrument', patch: { builtin: 'pad.amp' },
        clips: [{ start_beat: 8, length_beats: 8, notes: [{ key: 48, start_beat: 0, length_beats: 8 }] }] },
    ],
  };
  const frames = 12 * 24000;
  const still = await livePage(page, { doc, asset: null, frames });
  const edited = await livePage(page, { doc, asset: null, frames, edits: [[1, 'move'], [3, 'note'], [10, 'remove']] });
  check(!still.error && !edited.error, `edits: ${still.error ?? edited.error}`);
  const firstSound = (ch) => {
    for (let i = 0; i < ch[0].length; i++) if (ch[0][i] !== 0 || ch[1][i] !== 0) return i;
    return -1;
  };
  const a = [fromBase64(still.left), fromBase64(still.right)];
  const b = [fromBase64(edited.left), fromBase64(edited.right)];
  const removedAt = edited.editAt.find((e) => e[0] === 'remove')[1];
  const before = peak(b, removedAt - 24000, removedAt);
  const after = peak(b, removedAt + 128, removedAt + 24000);
  const stillAfter = peak(a, removedAt + 128, removedAt + 24000);
  t.log(`edits while playing: the first sound at frame ${firstSound(a)} unedited, ${firstSound(b)} after the clip ` +
        `and its note moved (want 168001); track 2 removed at frame ${removedAt}: peak ${before.toFixed(4)} the beat ` +
        `before, ${after.toExponential(2)} from the next quantum (unedited ${stillAfter.toFixed(4)})`);
  // (epiano's first sample of a note is 0: its sine starts at phase 0.)
  check(firstSound(a) === 96001, `unedited, the note sounds from frame ${firstSound(a)}, want 96001`);
  check(firstSound(b) === firstSound(a) + 72000,
        `moved clip and note: the first sound at frame ${firstSound(b)}, want ${firstSound(a) + 72000}`);
  check(before > 0.01 && stillAfter > 0.01 && after === 0,
        `a removed track: peak ${before} before, ${after} after (unedited ${stillAfter}): want silence after`);
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
  t.log(`live parity in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
