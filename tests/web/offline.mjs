// offline.mjs — render in the page with the real worklet and engine.wasm in
// an OfflineAudioContext, and the note lists both sides agree on.

import { fromBase64 } from './lib.mjs';

/** Runs in the page: start an engine in a fresh OfflineAudioContext; if
 *  `sample` (base64 float channels) is given, put it into the engine's
 *  sample pool (EngineClient.loadSample) first; if `patch` is a registry
 *  index, make it track 0's instrument at frame 0; send `commands` through
 *  the command ring before rendering; render `frames`. Returns the output
 *  channels as base64 and the engine's state region afterwards. A command
 *  is { kind, frame, ... }: on / off / param (track 0), or play, addTrack,
 *  addInsert, gain, loadSample (the handle of `sample`), region,
 *  bindSample (a sample slot of a track's instrument). */
async function renderInPage({ patch, frames, rate, commands, sample }) {
  const lib = globalThis.ampLib;
  globalThis.ampTestFiles ??= await lib.loadEngineFiles(new URL('./', location.href));
  const toFloats = (b64) => {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  };
  const toBase64 = (floats) => {
    const bytes = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000)
      bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  };
  const context = new OfflineAudioContext(2, frames, rate);
  const client = await lib.EngineClient.start(context, globalThis.ampTestFiles);
  client.node.connect(context.destination);
  let handle = -1, sampleFrames = 0;
  if (sample) {
    const channels = sample.map(toFloats);
    sampleFrames = channels[0].length;
    handle = await client.loadSample(channels);
  }
  const c = client.commands;
  let sent = 0;
  if (patch !== null && patch !== undefined && c.selectPatch(0, patch)) sent++;
  for (const m of commands) {
    const ok = m.kind === 'on' ? c.noteOn(m.frame, m.id, m.key, m.velocity)
      : m.kind === 'off' ? c.noteOff(m.frame, m.id)
      : m.kind === 'param' ? c.setParam(m.frame, m.param, m.value)
      : m.kind === 'play' ? c.play(m.frame)
      : m.kind === 'addTrack' ? c.addTrack(m.frame, m.track, m.trackKind)
      : m.kind === 'addInsert' ? c.addInsert(m.frame, m.track, m.position, m.patch)
      : m.kind === 'gain' ? c.setGain(m.frame, m.track, m.db ?? client.unityGainDb)
      : m.kind === 'loadSample' ? c.loadSample(m.frame, m.sample, handle, sampleFrames, rate, sample.length)
      : m.kind === 'region' ? c.placeRegion(m.frame, m.start, m.track, m.region, m.sample)
      : m.kind === 'voiceMode' ? c.setVoiceMode(m.frame, m.track, m.mode, m.priority, m.glide)
      : m.kind === 'bindSample' ? c.bindSample(m.frame, m.track, m.slot, m.sample)
      : false;
    if (!ok) throw new Error(`the ring refused ${JSON.stringify(m)}`);
    sent++;
  }
  const rendered = await context.startRendering();
  const channels = [];
  for (let ch = 0; ch < rendered.numberOfChannels; ch++) channels.push(toBase64(rendered.getChannelData(ch)));
  return { channels, sent, handle, hash: client.commands.hash, state: client.snapshot(),
           unityGainDb: client.unityGainDb };
}

export async function renderOffline(page, job) {
  const r = await page.evaluate(renderInPage, job);
  return { ...r, channels: r.channels.map(fromBase64) };
}

export function toBase64(floats) {
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString('base64');
}

/** A note list as `amp render --notes` reads it: KEY@START:END[/VEL]. */
export function parseNotes(text) {
  return text.trim().split(/[\s,]+/).map((tok) => {
    const m = tok.match(/^(\d+)@([\d.]+):([\d.]+)(?:\/([\d.]+))?$/);
    if (!m) throw new Error(`bad note ${tok}`);
    return { key: Number(m[1]), start: Number(m[2]), end: Number(m[3]), velocity: m[4] ? Number(m[4]) : 0.8 };
  });
}

/** The events runtime/formats/notes.c makes of a note list (notes_to_events): on at
 *  llround(start * rate), off at llround(end * rate) (at least one frame
 *  later), sorted by frame, offs first, then by note id (list order). */
export function noteCommands(notes, rate) {
  const events = [];
  notes.forEach((n, id) => {
    const on = Math.round(n.start * rate);
    let off = Math.round(n.end * rate);
    if (off <= on) off = on + 1;
    events.push({ kind: 'on', frame: on, id, key: n.key, velocity: Math.fround(n.velocity) });
    events.push({ kind: 'off', frame: off, id });
  });
  const rank = (e) => (e.kind === 'off' ? 0 : 1);
  return events.sort((a, b) => a.frame - b.frame || rank(a) - rank(b) || a.id - b.id);
}
