// smf.ts — Standard MIDI Files in the page: writing the project's notes
// (export) and reading a file's notes (import).
//
// Write: format 1 at 960 ticks per quarter; track 0 holds the tempo map
// and the time signatures, then one track per instrument track of the
// project with its clips' notes (loops unrolled, notes cut at the clip's
// end, as the engine plays them), named after the track, on channel 1
// (the drum kit on channel 10). Note-offs before note-ons at one tick.
//
// Read: formats 0 and 1 (2 is read as 1), running status, metrical time
// only (SMPTE division is refused). The engine's own reader
// (runtime/formats/smf.c) is not in engine.wasm, so the page has this one;
// `amp import` reads the same files natively.

import type { NoteDoc, PatchRef, ProjectDoc, TrackDoc } from '../doc/project';

const PPQ = 960;

export interface MidiFileTrack {
  name: string;
  channel: number;
  notes: NoteDoc[];
}

export interface MidiFileSong {
  tempo: number;
  tempoChanges: { beat: number; bpm: number }[];
  timeSignature: [number, number];
  signatureChanges: { beat: number; num: number; den: number }[];
  tracks: MidiFileTrack[];
}

// ---- writing ---------------------------------------------------------------

class SmfBytes {
  data: number[] = [];
  u8(v: number): void { this.data.push(v & 0xff); }
  u16(v: number): void { this.u8(v >> 8); this.u8(v); }
  u32(v: number): void { this.u16(v >>> 16); this.u16(v & 0xffff); }
  vlq(v: number): void {
    let n = Math.max(0, Math.round(v));
    const out = [n & 0x7f];
    while ((n >>= 7) > 0) out.unshift((n & 0x7f) | 0x80);
    for (const b of out) this.u8(b);
  }
  text(s: string): void {
    for (const b of new TextEncoder().encode(s)) this.u8(b);
  }
}

interface SmfEvent { tick: number; order: number; bytes: number[] }

function chunk(out: SmfBytes, id: string, events: SmfEvent[]): void {
  events.sort((a, b) => a.tick - b.tick || a.order - b.order);
  const body = new SmfBytes();
  let last = 0;
  for (const e of events) {
    body.vlq(e.tick - last);
    last = e.tick;
    for (const b of e.bytes) body.u8(b);
  }
  body.vlq(0);
  body.u8(0xff); body.u8(0x2f); body.u8(0);
  out.text(id);
  out.u32(body.data.length);
  out.data.push(...body.data);
}

function meta(type: number, payload: number[]): number[] {
  const b = new SmfBytes();
  b.u8(0xff);
  b.u8(type);
  b.vlq(payload.length);
  b.data.push(...payload);
  return b.data;
}

/** The notes of a track as the engine plays them, in beats from 0. */
export function trackNotes(track: TrackDoc): { key: number; start: number; end: number; velocity: number }[] {
  const out: { key: number; start: number; end: number; velocity: number }[] = [];
  for (const clip of track.clips ?? []) {
    const loop = clip.loop_beats;
    for (let off = 0; off < clip.length_beats; off += loop ?? clip.length_beats) {
      for (const n of clip.notes) {
        if (loop !== undefined && n.start_beat >= loop) continue;
        const s = off + n.start_beat;
        if (s >= clip.length_beats) continue;
        const e = Math.min(clip.length_beats, s + n.length_beats);
        out.push({ key: n.key, start: clip.start_beat + s, end: clip.start_beat + e, velocity: n.velocity ?? 0.8 });
      }
      if (loop === undefined) break;
    }
  }
  return out;
}

function isDrums(track: TrackDoc): boolean {
  const p = track.patch;
  const name = typeof p === 'string' ? p : p && 'builtin' in p ? p.builtin : p && 'file' in p ? p.file : '';
  return /drum/i.test(name);
}

export function writeSmf(doc: ProjectDoc): Uint8Array {
  const out = new SmfBytes();
  const instruments = doc.tracks.filter((t) => t.kind === 'instrument');
  out.text('MThd');
  out.u32(6);
  out.u16(1);
  out.u16(instruments.length + 1);
  out.u16(PPQ);
  const tick = (beat: number): number => Math.round(beat * PPQ);

  const conductor: SmfEvent[] = [];
  const tempo = (at: number, bpm: number): void => {
    const us = Math.round(60000000 / bpm);
    conductor.push({ tick: tick(at), order: 0, bytes: meta(0x51, [(us >> 16) & 255, (us >> 8) & 255, us & 255]) });
  };
  const signature = (at: number, num: number, den: number): void => {
    conductor.push({ tick: tick(at), order: 1, bytes: meta(0x58, [num, Math.round(Math.log2(den)), 24, 8]) });
  };
  const name = doc.ui?.name;
  if (typeof name === 'string') conductor.push({ tick: 0, order: -1, bytes: meta(0x03, [...new TextEncoder().encode(name)]) });
  tempo(0, doc.tempo ?? 120);
  for (const c of doc.tempo_changes ?? []) tempo(c.beat, c.bpm);
  const [num, den] = doc.time_signature ?? [4, 4];
  signature(0, num, den);
  for (const c of doc.time_signature_changes ?? []) signature(c.beat, c.num, c.den);
  chunk(out, 'MTrk', conductor);

  for (const t of instruments) {
    const channel = isDrums(t) ? 9 : 0;
    const events: SmfEvent[] = [{ tick: 0, order: -1, bytes: meta(0x03, [...new TextEncoder().encode(t.name ?? `Track ${t.id}`)]) }];
    for (const n of trackNotes(t)) {
      const vel = Math.max(1, Math.min(127, Math.round(n.velocity * 127)));
      const on = tick(n.start), off = Math.max(on + 1, tick(n.end));
      events.push({ tick: on, order: 1, bytes: [0x90 | channel, n.key, vel] });
      events.push({ tick: off, order: 0, bytes: [0x80 | channel, n.key, 0] });
    }
    chunk(out, 'MTrk', events);
  }
  return new Uint8Array(out.data);
}

// ---- reading ---------------------------------------------------------------

export class SmfError extends Error {}

export function readSmf(data: Uint8Array): MidiFileSong {
  let p = 0;
  const need = (n: number): void => {
    if (p + n > data.length) throw new SmfError('the file ends in the middle of a chunk');
  };
  const u8 = (): number => { need(1); return data[p++] as number; };
  const u16 = (): number => (u8() << 8) | u8();
  const u32 = (): number => ((u16() << 16) >>> 0) + u16();
  const id = (): string => String.fromCharCode(u8(), u8(), u8(), u8());
  const vlq = (): number => {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const b = u8();
      v = (v << 7) | (b & 0x7f);
      if (!(b & 0x80)) return v;
    }
    throw new SmfError('a variable-length number longer than 4 bytes');
  };
  if (data.length < 14 || id() !== 'MThd') throw new SmfError('not a Standard MIDI File (no MThd header)');
  const headerLength = u32();
  const format = u16(), count = u16(), division = u16();
  p += headerLength - 6;
  if (division & 0x8000) throw new SmfError('SMPTE time division is not supported');
  if (format > 2) throw new SmfError(`unknown format ${format}`);
  const ppq = division || PPQ;
  const song: MidiFileSong = { tempo: 120, tempoChanges: [], timeSignature: [4, 4], signatureChanges: [], tracks: [] };
  for (let t = 0; t < count && p < data.length; t++) {
    const kind = id();
    const length = u32();
    const end = p + length;
    if (kind !== 'MTrk') { p = end; continue; }
    let tick = 0, status = 0, name = '';
    const open = new Map<number, { tick: number; velocity: number }[]>();
    const byChannel = new Map<number, NoteDoc[]>();
    while (p < end) {
      tick += vlq();
      let b = u8();
      if (b === 0xff) {
        const type = u8(), len = vlq();
        need(len);
        const payload = data.subarray(p, p + len);
        p += len;
        const beat = tick / ppq;
        if (type === 0x03) name = new TextDecoder().decode(payload);
        else if (type === 0x51 && len === 3) {
          const bpm = 60000000 / (((payload[0] ?? 0) << 16) | ((payload[1] ?? 0) << 8) | (payload[2] ?? 0) || 500000);
          if (beat === 0) song.tempo = Math.round(bpm * 1000) / 1000;
          else song.tempoChanges.push({ beat, bpm: Math.round(bpm * 1000) / 1000 });
        } else if (type === 0x58 && len >= 2) {
          const num = payload[0] ?? 4, den = 2 ** (payload[1] ?? 2);
          if (beat === 0) song.timeSignature = [num, den];
          else song.signatureChanges.push({ beat, num, den });
        } else if (type === 0x2f) break;
        continue;
      }
      if (b === 0xf0 || b === 0xf7) { const len = vlq(); p += len; continue; }
      let first: number;
      if (b & 0x80) { status = b; first = u8(); } else {
        if (!status) throw new SmfError('a running status with no status before it');
        first = b;
        b = status;
      }
      const type = status & 0xf0, channel = status & 0x0f;
      const second = type === 0xc0 || type === 0xd0 ? 0 : u8();
      const slot = (channel << 8) | first;
      if (type === 0x90 && second > 0) {
        const list = open.get(slot) ?? [];
        list.push({ tick, velocity: second / 127 });
        open.set(slot, list);
      } else if (type === 0x80 || type === 0x90) {
        const on = open.get(slot)?.shift();
        if (!on) continue;
        const notes = byChannel.get(channel) ?? [];
        notes.push({ key: first, start_beat: on.tick / ppq, length_beats: Math.max(1, tick - on.tick) / ppq,
                     velocity: Math.round(on.velocity * 1000) / 1000 });
        byChannel.set(channel, notes);
      }
    }
    p = end;
    for (const [channel, notes] of byChannel) {
      notes.sort((a, b) => a.start_beat - b.start_beat || a.key - b.key);
      song.tracks.push({ name: name || `Track ${song.tracks.length + 1}`, channel, notes });
    }
  }
  return song;
}

// ---- the native reader (runtime/formats/smf.c in the export worker) -----------

/** A MIDI file read by the export worker's native SMF reader (`{type:
 *  'import-midi', bytes, patch, drums}` -> `{type: 'midi-imported', json}`,
 *  the project `amp import` writes), as a MidiFileSong whose tracks keep
 *  the patch the reader chose. Null when the worker does not know the
 *  message or fails (the page's reader, readSmf, then reads the file). */
export function readSmfNative(workerUrl: string, bytes: ArrayBuffer, patch: string, drums: string):
  Promise<(MidiFileSong & { patches: (PatchRef | undefined)[] }) | null> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(workerUrl, { type: 'module', name: 'amp-import' });
    } catch {
      resolve(null);
      return;
    }
    const done = (v: (MidiFileSong & { patches: (PatchRef | undefined)[] }) | null): void => {
      worker.terminate();
      resolve(v);
    };
    worker.onerror = () => done(null);
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data as { type?: string; json?: string };
      if (data.type !== 'midi-imported' || typeof data.json !== 'string') {
        done(null);
        return;
      }
      try {
        done(songOfProject(JSON.parse(data.json) as ProjectDoc));
      } catch {
        done(null);
      }
    };
    worker.postMessage({ type: 'import-midi', bytes: bytes.slice(0), patch: { builtin: patch }, drums: { builtin: drums } });
  });
}

/** An imported project's tempo map and tracks; each track's clips become
 *  its notes on the song's beats. */
export function songOfProject(doc: ProjectDoc): MidiFileSong & { patches: (PatchRef | undefined)[] } {
  const tracks = doc.tracks.filter((t) => t.kind === 'instrument' || t.kind === undefined);
  return {
    tempo: doc.tempo ?? 120,
    tempoChanges: (doc.tempo_changes ?? []).map((c) => ({ beat: c.beat, bpm: c.bpm })),
    timeSignature: [doc.time_signature?.[0] ?? 4, doc.time_signature?.[1] ?? 4],
    signatureChanges: (doc.time_signature_changes ?? []).map((c) => ({ beat: c.beat, num: c.num, den: c.den })),
    tracks: tracks.map((t, i) => ({
      name: t.name ?? `Track ${i + 1}`,
      channel: typeof t.patch === 'object' && 'builtin' in t.patch && /drums/.test(t.patch.builtin) ? 9 : 0,
      notes: (t.clips ?? []).flatMap((c) => c.notes.map((n) => ({ ...n, start_beat: c.start_beat + n.start_beat }))),
    })).filter((t) => t.notes.length > 0),
    patches: tracks.filter((t) => (t.clips ?? []).some((c) => c.notes.length > 0)).map((t) => t.patch),
  };
}
