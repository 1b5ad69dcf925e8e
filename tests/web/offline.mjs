// offline.mjs — render in the page with the real worklet and engine.wasm in
// an OfflineAudioContext, and the note lists both sides agree on.

import { fromBase64 } from './lib.mjs';

/** Runs in the page: start an engine in a fresh OfflineAudioContext, feed
 *  it `input` (base64 float channels) through an AudioBufferSourceNode if
 *  given, select `patch` at frame 0, send `commands` through the command
 *  ring before rendering, render `frames`. Returns the output channels as
 *  base64 and the engine's state region afterwards. */
async function renderInPage({ patch, frames, rate, commands, input }) {
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
  if (input) {
    const buffer = new AudioBuffer({ numberOfChannels: input.length, length: frames, sampleRate: rate });
    input.forEach((b64, c) => buffer.copyToChannel(toFloats(b64), c));
    const source = new AudioBufferSourceNode(context, { buffer });
    source.connect(client.node);
    source.start(0);
  }
  let sent = client.commands.selectPatch(0, patch) ? 1 : 0;
  for (const c of commands) {
    const ok = c.kind === 'on' ? client.commands.noteOn(c.frame, c.id, c.key, c.velocity)
      : c.kind === 'off' ? client.commands.noteOff(c.frame, c.id)
      : client.commands.setParam(c.frame, c.param, c.value);
    if (ok) sent++;
  }
  const rendered = await context.startRendering();
  const channels = [];
  for (let c = 0; c < rendered.numberOfChannels; c++) channels.push(toBase64(rendered.getChannelData(c)));
  return { channels, sent, hash: client.commands.hash, state: client.snapshot() };
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

/** The events runtime/notes.c makes of a note list (notes_to_events): on at
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
