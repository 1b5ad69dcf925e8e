// edits.ts — every change the UI makes to a project, as a pure function
// (doc, args) => doc.
//
// Each returns a new document that shares every object it did not change
// with the old one (so the sync layer and the views see what changed by
// identity), or the same document when the edit changes nothing or is
// refused (a refused edit records no undo step: DocStore.transact). Values
// are clamped to PROJECT.md's ranges; an edit never makes a document that
// `amp render` would refuse.
//
// Addressing: tracks by their `id`; clips and regions by `ui.id`, a string
// given when they are made (newClipId) and by ensureIds for documents from
// elsewhere; notes by their index in their clip (an edit never reorders
// notes, except deleteNotes, which removes its set).

import {
  DEFAULTS,
  type Clip,
  type Fader,
  type Insert,
  type Loop,
  type Metronome,
  type NoteDoc,
  type NotePriority,
  type PatchRef,
  type ProjectDoc,
  type RegionDoc,
  type SampleRef,
  type SendDoc,
  type Tail,
  type TempoChange,
  type TimeSignatureChange,
  type TrackDoc,
  type TrackKind,
  type VoiceMode,
} from './project';

// ---- limits (PROJECT.md) ------------------------------------------------------

export const LIMITS = {
  tracks: DEFAULTS.maxTracks,
  inserts: DEFAULTS.maxInserts,
  keyMin: 0,
  keyMax: 127,
  gainDbMin: DEFAULTS.gainDbMin,
  gainDbMax: DEFAULTS.gainDbMax,
  tempoMin: 1,
  tempoMax: 1000,
  beatMax: 999999999,
  /** The shortest note or clip an edit makes: one tick of 960 to the beat. */
  minLength: 1 / 960,
  glideMax: 10,
  tailMax: 600,
  signatureNumMax: 64,
  signatureDenMax: 64,
  sampleSlots: DEFAULTS.maxSampleSlots,
} as const;

export const TRACK_COLORS: readonly string[] = [
  '#e2574c', '#f29a38', '#e8c547', '#8cc152', '#3bb58f', '#37bc9b',
  '#3bafda', '#4a89dc', '#7d6bd6', '#b06ad8', '#d770ad', '#a0826d',
];

const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);
const finite = (x: number, fallback: number): number => (Number.isFinite(x) ? x : fallback);
const clampBeat = (b: number): number => clamp(finite(b, 0), 0, LIMITS.beatMax);
const clampLength = (b: number): number => clamp(finite(b, LIMITS.minLength), LIMITS.minLength, LIMITS.beatMax);
const clampGain = (db: number): number => clamp(finite(db, 0), LIMITS.gainDbMin, LIMITS.gainDbMax);
const clampKey = (k: number): number => clamp(Math.round(finite(k, 60)), LIMITS.keyMin, LIMITS.keyMax);
const clampVelocity = (v: number): number => clamp(finite(v, DEFAULTS.velocity), 0, 1);
const clampTempo = (bpm: number): number => clamp(finite(bpm, DEFAULTS.tempo), LIMITS.tempoMin, LIMITS.tempoMax);

/** `obj` without the key `k` (optional fields are absent, never undefined). */
function omit<T extends object, K extends keyof T>(obj: T, k: K): T {
  if (!(k in obj)) return obj;
  const copy = { ...obj };
  delete copy[k];
  return copy;
}

/** Replace element i of a readonly array. */
function replaceAt<T>(list: readonly T[], i: number, value: T): readonly T[] {
  if (list[i] === value) return list;
  const out = list.slice();
  out[i] = value;
  return out;
}

// ---- ids ----------------------------------------------------------------------

function maxSuffix(ids: Iterable<string | undefined>, prefix: string): number {
  let max = 0;
  for (const id of ids) {
    if (!id || !id.startsWith(prefix)) continue;
    const n = Number(id.slice(prefix.length));
    if (Number.isInteger(n) && n > max) max = n;
  }
  return max;
}

function* clipIds(doc: ProjectDoc): Generator<string | undefined> {
  for (const t of doc.tracks) {
    for (const c of t.clips ?? []) yield c.ui?.id;
    for (const r of t.regions ?? []) yield r.ui?.id;
  }
}

/** `count` fresh clip ids ("c1", "c2", ...) not used in `doc`. Regions share
 *  the id space. */
export function newClipIds(doc: ProjectDoc, count: number): string[] {
  const base = maxSuffix(clipIds(doc), 'c');
  return Array.from({ length: count }, (_, i) => `c${base + i + 1}`);
}

export function newClipId(doc: ProjectDoc): string {
  return newClipIds(doc, 1)[0]!;
}

/** A fresh track id: one more than the largest. */
export function newTrackId(doc: ProjectDoc): number {
  return doc.tracks.reduce((m, t) => Math.max(m, t.id), 0) + 1;
}

/** Give every clip and region a unique `ui.id` (documents imported or
 *  written by hand have none); unchanged when they all have one. */
export function ensureIds(doc: ProjectDoc): ProjectDoc {
  const seen = new Set<string>();
  let next = maxSuffix(clipIds(doc), 'c');
  const fresh = (id: string | undefined): string | null => {
    if (id && !seen.has(id)) {
      seen.add(id);
      return null;
    }
    const made = `c${++next}`;
    seen.add(made);
    return made;
  };
  let changed = false;
  const tracks = doc.tracks.map((t) => {
    let tc = false;
    const clips = t.clips?.map((c) => {
      const id = fresh(c.ui?.id);
      if (id === null) return c;
      tc = true;
      return { ...c, ui: { ...c.ui, id } };
    });
    const regions = t.regions?.map((r) => {
      const id = fresh(r.ui?.id);
      if (id === null) return r;
      tc = true;
      return { ...r, ui: { ...r.ui, id } };
    });
    if (!tc) return t;
    changed = true;
    let out: TrackDoc = t;
    if (clips) out = { ...out, clips };
    if (regions) out = { ...out, regions };
    return out;
  });
  return changed ? { ...doc, tracks } : doc;
}

// ---- finding things -------------------------------------------------------------

export function trackIndex(doc: ProjectDoc, trackId: number): number {
  return doc.tracks.findIndex((t) => t.id === trackId);
}

export function findTrack(doc: ProjectDoc, trackId: number): TrackDoc | undefined {
  return doc.tracks.find((t) => t.id === trackId);
}

export interface ClipLocation {
  readonly track: TrackDoc;
  readonly trackIndex: number;
  readonly clip: Clip;
  readonly clipIndex: number;
}

export function findClip(doc: ProjectDoc, clipId: string): ClipLocation | undefined {
  for (let ti = 0; ti < doc.tracks.length; ti++) {
    const track = doc.tracks[ti]!;
    const clips = track.clips ?? [];
    for (let ci = 0; ci < clips.length; ci++) {
      const clip = clips[ci]!;
      if (clip.ui?.id === clipId) return { track, trackIndex: ti, clip, clipIndex: ci };
    }
  }
  return undefined;
}

function withTrack(doc: ProjectDoc, trackId: number, fn: (t: TrackDoc) => TrackDoc): ProjectDoc {
  const i = trackIndex(doc, trackId);
  if (i < 0) return doc;
  const t = doc.tracks[i]!;
  const n = fn(t);
  return n === t ? doc : { ...doc, tracks: replaceAt(doc.tracks, i, n) };
}

function withClip(doc: ProjectDoc, clipId: string, fn: (c: Clip) => Clip): ProjectDoc {
  const at = findClip(doc, clipId);
  if (!at) return doc;
  const n = fn(at.clip);
  if (n === at.clip) return doc;
  const track = { ...at.track, clips: replaceAt(at.track.clips ?? [], at.clipIndex, n) };
  return { ...doc, tracks: replaceAt(doc.tracks, at.trackIndex, track) };
}

// ---- the project ------------------------------------------------------------------

export function setName(doc: ProjectDoc, name: string): ProjectDoc {
  if (doc.ui?.name === name) return doc;
  return { ...doc, ui: { ...doc.ui, name } };
}

/** Base tempo (1..1000 bpm). */
export function setTempo(doc: ProjectDoc, bpm: number): ProjectDoc {
  const v = clampTempo(bpm);
  return doc.tempo === v ? doc : { ...doc, tempo: v };
}

function sortTempo(changes: readonly TempoChange[]): readonly TempoChange[] {
  return changes.slice().sort((a, b) => a.beat - b.beat);
}

/** A tempo change at `beat` (> 0); one already at that beat takes the new
 *  tempo. Kept sorted by beat, so indices are positions in time. */
export function addTempoChange(doc: ProjectDoc, beat: number, bpm: number): ProjectDoc {
  const b = clampBeat(beat);
  const v = clampTempo(bpm);
  if (b <= 0) return setTempo(doc, v);
  const list = doc.tempo_changes ?? [];
  const same = list.findIndex((c) => c.beat === b);
  if (same >= 0) return list[same]!.bpm === v ? doc : { ...doc, tempo_changes: replaceAt(list, same, { beat: b, bpm: v }) };
  return { ...doc, tempo_changes: sortTempo([...list, { beat: b, bpm: v }]) };
}

/** Move change `index` to `beat` (> 0); refused onto another change's beat. */
export function moveTempoChange(doc: ProjectDoc, index: number, beat: number): ProjectDoc {
  const list = doc.tempo_changes ?? [];
  const c = list[index];
  const b = clampBeat(beat);
  if (!c || b <= 0 || c.beat === b || list.some((o, i) => i !== index && o.beat === b)) return doc;
  return { ...doc, tempo_changes: sortTempo(replaceAt(list, index, { ...c, beat: b })) };
}

export function setTempoChangeBpm(doc: ProjectDoc, index: number, bpm: number): ProjectDoc {
  const list = doc.tempo_changes ?? [];
  const c = list[index];
  const v = clampTempo(bpm);
  if (!c || c.bpm === v) return doc;
  return { ...doc, tempo_changes: replaceAt(list, index, { ...c, bpm: v }) };
}

export function removeTempoChange(doc: ProjectDoc, index: number): ProjectDoc {
  const list = doc.tempo_changes ?? [];
  if (!list[index]) return doc;
  const rest = list.filter((_, i) => i !== index);
  return rest.length ? { ...doc, tempo_changes: rest } : omit(doc, 'tempo_changes');
}

function validSignature(num: number, den: number): boolean {
  return Number.isInteger(num) && num >= 1 && num <= LIMITS.signatureNumMax &&
    Number.isInteger(den) && den >= 1 && den <= LIMITS.signatureDenMax && (den & (den - 1)) === 0;
}

/** The signature from beat 0; refused unless num 1..64, den a power of two up to 64. */
export function setTimeSignature(doc: ProjectDoc, num: number, den: number): ProjectDoc {
  if (!validSignature(num, den)) return doc;
  const [n, d] = doc.time_signature ?? DEFAULTS.timeSignature;
  return n === num && d === den && doc.time_signature ? doc : { ...doc, time_signature: [num, den] };
}

function sortSignatures(list: readonly TimeSignatureChange[]): readonly TimeSignatureChange[] {
  return list.slice().sort((a, b) => a.beat - b.beat);
}

export function addTimeSignatureChange(doc: ProjectDoc, beat: number, num: number, den: number): ProjectDoc {
  const b = clampBeat(beat);
  if (!validSignature(num, den)) return doc;
  if (b <= 0) return setTimeSignature(doc, num, den);
  const list = doc.time_signature_changes ?? [];
  const same = list.findIndex((c) => c.beat === b);
  if (same >= 0) {
    const c = list[same]!;
    return c.num === num && c.den === den ? doc
      : { ...doc, time_signature_changes: replaceAt(list, same, { beat: b, num, den }) };
  }
  return { ...doc, time_signature_changes: sortSignatures([...list, { beat: b, num, den }]) };
}

export function moveTimeSignatureChange(doc: ProjectDoc, index: number, beat: number): ProjectDoc {
  const list = doc.time_signature_changes ?? [];
  const c = list[index];
  const b = clampBeat(beat);
  if (!c || b <= 0 || c.beat === b || list.some((o, i) => i !== index && o.beat === b)) return doc;
  return { ...doc, time_signature_changes: sortSignatures(replaceAt(list, index, { ...c, beat: b })) };
}

export function setTimeSignatureChange(doc: ProjectDoc, index: number, num: number, den: number): ProjectDoc {
  const list = doc.time_signature_changes ?? [];
  const c = list[index];
  if (!c || !validSignature(num, den) || (c.num === num && c.den === den)) return doc;
  return { ...doc, time_signature_changes: replaceAt(list, index, { ...c, num, den }) };
}

export function removeTimeSignatureChange(doc: ProjectDoc, index: number): ProjectDoc {
  const list = doc.time_signature_changes ?? [];
  if (!list[index]) return doc;
  const rest = list.filter((_, i) => i !== index);
  return rest.length ? { ...doc, time_signature_changes: rest } : omit(doc, 'time_signature_changes');
}

/** The loop region; fields not given keep their value. An enabled loop
 *  needs end > start (refused otherwise). */
export function setLoop(doc: ProjectDoc, loop: Partial<Loop>): ProjectDoc {
  if (!doc.loop && loop.enabled === false && loop.start_beat === undefined && loop.end_beat === undefined) return doc;
  const old = doc.loop ?? { enabled: false, start_beat: 0, end_beat: 4 };
  const next: Loop = {
    enabled: loop.enabled ?? old.enabled,
    start_beat: clampBeat(loop.start_beat ?? old.start_beat),
    end_beat: clampBeat(loop.end_beat ?? old.end_beat),
  };
  if (next.end_beat <= next.start_beat) return doc;
  if (doc.loop && doc.loop.enabled === next.enabled && doc.loop.start_beat === next.start_beat &&
      doc.loop.end_beat === next.end_beat) return doc;
  return { ...doc, loop: next };
}

export function setMetronome(doc: ProjectDoc, m: Partial<Metronome>): ProjectDoc {
  const old: Metronome = doc.metronome ?? { enabled: false };
  let next: Metronome = { ...old, ...m };
  if (next.gain_db !== undefined) next = { ...next, gain_db: clampGain(next.gain_db) };
  if (doc.metronome && next.enabled === old.enabled && next.gain_db === old.gain_db && next.export === old.export)
    return doc;
  return { ...doc, metronome: next };
}

export function setMasterGain(doc: ProjectDoc, db: number): ProjectDoc {
  const v = clampGain(db);
  return doc.master?.gain_db === v ? doc : { ...doc, master: { ...doc.master, gain_db: v } };
}

/** Where the arrangement ends; undefined: the end of the last clip. */
export function setLength(doc: ProjectDoc, beats: number | undefined): ProjectDoc {
  if (beats === undefined) return omit(doc, 'length_beats');
  const v = clampLength(beats);
  return doc.length_beats === v ? doc : { ...doc, length_beats: v };
}

/** The render's tail rule (version 2). */
export function setTail(doc: ProjectDoc, tail: Tail): ProjectDoc {
  const next: Tail = {
    ...(tail.until_db !== undefined ? { until_db: clamp(tail.until_db, -150, 0) } : {}),
    ...(tail.max_seconds !== undefined ? { max_seconds: clamp(tail.max_seconds, 0, LIMITS.tailMax) } : {}),
  };
  return { ...doc, tail: next };
}

// ---- tracks ---------------------------------------------------------------------------

export interface NewTrack {
  readonly kind: TrackKind;
  /** Default: newTrackId(doc). Refused if taken. */
  readonly id?: number;
  readonly name?: string;
  readonly patch?: PatchRef;
  readonly params?: Readonly<Record<string, number>>;
  readonly color?: string;
  /** Position in the list; default: the end. */
  readonly index?: number;
}

const KIND_NAMES: Record<TrackKind, string> = { instrument: 'Instrument', audio: 'Audio', bus: 'Bus' };

/** Add a track (at most 64). An instrument track needs a patch to be
 *  rendered; the UI gives one. */
export function addTrack(doc: ProjectDoc, spec: NewTrack): ProjectDoc {
  if (doc.tracks.length >= LIMITS.tracks) return doc;
  const id = spec.id ?? newTrackId(doc);
  if (!Number.isInteger(id) || id < 0 || findTrack(doc, id)) return doc;
  const color = spec.color ?? TRACK_COLORS[(id - 1 + TRACK_COLORS.length) % TRACK_COLORS.length]!;
  const sameKind = doc.tracks.filter((t) => t.kind === spec.kind).length;
  let track: TrackDoc = {
    id,
    name: spec.name ?? `${KIND_NAMES[spec.kind]} ${sameKind + 1}`,
    kind: spec.kind,
    ui: { color },
  };
  if (spec.kind === 'instrument') {
    if (spec.patch !== undefined) track = { ...track, patch: spec.patch };
    if (spec.params) track = { ...track, params: spec.params };
    track = { ...track, clips: [] };
  } else if (spec.kind === 'audio') {
    track = { ...track, regions: [] };
  }
  const at = clamp(spec.index ?? doc.tracks.length, 0, doc.tracks.length);
  const tracks = [...doc.tracks.slice(0, at), track, ...doc.tracks.slice(at)];
  if (!busOrderOk(tracks)) return doc;
  return { ...doc, tracks };
}

/** Remove a track, and every send to it. */
export function removeTrack(doc: ProjectDoc, trackId: number): ProjectDoc {
  const i = trackIndex(doc, trackId);
  if (i < 0) return doc;
  const tracks = doc.tracks.filter((t) => t.id !== trackId).map((t) => {
    if (!t.sends?.some((s) => s.bus === trackId)) return t;
    const sends = t.sends.filter((s) => s.bus !== trackId);
    return sends.length ? { ...t, sends } : omit(t, 'sends');
  });
  return { ...doc, tracks };
}

/** Whether every send of a bus goes to a bus listed after it, and every
 *  send goes to a bus (PROJECT.md). */
export function busOrderOk(tracks: readonly TrackDoc[]): boolean {
  const position = new Map(tracks.map((t, i) => [t.id, i]));
  for (let i = 0; i < tracks.length; i++) {
    const t = tracks[i]!;
    for (const s of t.sends ?? []) {
      const j = position.get(s.bus);
      if (j === undefined || tracks[j]!.kind !== 'bus' || s.bus === t.id) return false;
      if (t.kind === 'bus' && j <= i) return false;
    }
  }
  return true;
}

/** Move a track to position `index`. Refused when a bus would then send to
 *  a bus listed before it. */
export function moveTrack(doc: ProjectDoc, trackId: number, index: number): ProjectDoc {
  const from = trackIndex(doc, trackId);
  if (from < 0) return doc;
  const to = clamp(Math.round(index), 0, doc.tracks.length - 1);
  if (to === from) return doc;
  const tracks = doc.tracks.slice();
  const [t] = tracks.splice(from, 1);
  tracks.splice(to, 0, t!);
  return busOrderOk(tracks) ? { ...doc, tracks } : doc;
}

export function renameTrack(doc: ProjectDoc, trackId: number, name: string): ProjectDoc {
  return withTrack(doc, trackId, (t) => (t.name === name ? t : { ...t, name }));
}

export function setTrackColor(doc: ProjectDoc, trackId: number, color: string): ProjectDoc {
  return withTrack(doc, trackId, (t) => (t.ui?.color === color ? t : { ...t, ui: { ...t.ui, color } }));
}

export function setTrackUi(doc: ProjectDoc, trackId: number, ui: { height?: number; collapsed?: boolean }): ProjectDoc {
  return withTrack(doc, trackId, (t) => {
    const next = { ...t.ui, ...ui };
    return next.height === t.ui?.height && next.collapsed === t.ui?.collapsed ? t : { ...t, ui: next };
  });
}

/** Fader fields (gain -150..24 dB, pan -1..1, mute, solo); those not given
 *  keep their value. */
export function setFader(doc: ProjectDoc, trackId: number, fader: Fader): ProjectDoc {
  return withTrack(doc, trackId, (t) => {
    const old: Fader = t.fader ?? {};
    const next: Fader = {
      ...old,
      ...(fader.gain_db !== undefined ? { gain_db: clampGain(fader.gain_db) } : {}),
      ...(fader.pan !== undefined ? { pan: clamp(finite(fader.pan, 0), -1, 1) } : {}),
      ...(fader.mute !== undefined ? { mute: fader.mute } : {}),
      ...(fader.solo !== undefined ? { solo: fader.solo } : {}),
    };
    if (next.gain_db === old.gain_db && next.pan === old.pan && next.mute === old.mute && next.solo === old.solo)
      return t;
    return { ...t, fader: next };
  });
}

export const setGain = (doc: ProjectDoc, trackId: number, db: number): ProjectDoc => setFader(doc, trackId, { gain_db: db });
export const setPan = (doc: ProjectDoc, trackId: number, pan: number): ProjectDoc => setFader(doc, trackId, { pan });
export const setMute = (doc: ProjectDoc, trackId: number, mute: boolean): ProjectDoc => setFader(doc, trackId, { mute });
export const setSolo = (doc: ProjectDoc, trackId: number, solo: boolean): ProjectDoc => setFader(doc, trackId, { solo });

/** A send from a track to a bus at `levelDb` (null: remove it). Refused to
 *  a track that is not a bus, to itself, or from a bus to a bus listed
 *  before it. */
export function setSend(doc: ProjectDoc, trackId: number, busId: number, levelDb: number | null): ProjectDoc {
  return withTrack(doc, trackId, (t) => {
    const sends = t.sends ?? [];
    const i = sends.findIndex((s) => s.bus === busId);
    if (levelDb === null) {
      if (i < 0) return t;
      const rest = sends.filter((_, k) => k !== i);
      return rest.length ? { ...t, sends: rest } : omit(t, 'sends');
    }
    const send: SendDoc = { bus: busId, level_db: clampGain(levelDb) };
    if (i >= 0 && sends[i]!.level_db === send.level_db) return t;
    const next = { ...t, sends: i >= 0 ? replaceAt(sends, i, send) : [...sends, send] };
    return busOrderOk(doc.tracks.map((o) => (o.id === t.id ? next : o))) ? next : t;
  });
}

/** The instrument of an instrument track. A new patch starts from its own
 *  defaults: the old params and the automation of slot 0 name the old
 *  patch's params, so they go (unless `params` is given). Its sample
 *  bindings stay for the slots the new patch has too (`slots`, its
 *  metadata's "samples"; a slot it lacks would make the document one
 *  `amp render` refuses), the others go. */
export function setInstrument(doc: ProjectDoc, trackId: number, patch: PatchRef,
                              params: Readonly<Record<string, number>> = {},
                              slots: readonly string[] = []): ProjectDoc {
  return withTrack(doc, trackId, (t) => {
    if (t.kind !== 'instrument') return t;
    if (samePatch(t.patch, patch) && JSON.stringify(t.params ?? {}) === JSON.stringify(params)) return t;
    let next: TrackDoc = { ...t, patch };
    next = Object.keys(params).length ? { ...next, params } : omit(next, 'params');
    if (!samePatch(t.patch, patch) && t.automation) {
      const lanes = t.automation.filter((a) => !('slot' in a.target && a.target.slot === 0));
      next = lanes.length ? { ...next, automation: lanes } : omit(next, 'automation');
    }
    if (!samePatch(t.patch, patch) && t.samples) {
      const kept = Object.entries(t.samples).filter(([name]) => slots.includes(name));
      next = kept.length === Object.keys(t.samples).length ? next
        : kept.length ? { ...next, samples: Object.fromEntries(kept) } : omit(next, 'samples');
    }
    return next;
  });
}

// ---- sample slots (PROJECT.md "Sample slots") -------------------------------------

const ASSET_HASH = /^[0-9a-f]{64}$/;

/** Bind sample slot `slot` of a track's instrument to `ref` (an asset by
 *  hash, or a file; `ui.name` kept for the view), or unbind it (null).
 *  Refused (the same document back): not an instrument track, a slot
 *  past the 8 an instrument has, a reference the project reader would
 *  refuse (neither or both of file and asset, an asset that is not a
 *  SHA-256 in 64 lowercase hex digits, an empty file name). The caller
 *  names a slot the patch has (its metadata's "samples"). */
export function bindSample(doc: ProjectDoc, trackId: number, slot: string, ref: SampleRef | null): ProjectDoc {
  if (!slot) return doc;
  return withTrack(doc, trackId, (t) => {
    if (t.kind !== 'instrument') return t;
    const now = t.samples ?? {};
    if (ref === null) {
      if (!(slot in now)) return t;
      const rest = Object.fromEntries(Object.entries(now).filter(([name]) => name !== slot));
      return Object.keys(rest).length ? { ...t, samples: rest } : omit(t, 'samples');
    }
    if (sampleRefError(ref) !== null) return t;
    if (!(slot in now) && Object.keys(now).length >= LIMITS.sampleSlots) return t;
    const value: SampleRef = {
      ...(ref.asset !== undefined ? { asset: ref.asset } : {}),
      ...(ref.file !== undefined ? { file: ref.file } : {}),
      ...(ref.ui?.name ? { ui: { name: ref.ui.name } } : {}),
    };
    if (JSON.stringify(now[slot]) === JSON.stringify(value)) return t;
    return { ...t, samples: { ...now, [slot]: value } };
  });
}

/** The project reader's message for a sample reference (read_region_sample
 *  in runtime/formats/project_read.c), without its path; null when it
 *  reads. */
function sampleRefError(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `expected an object, got ${shown(v)}`;
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (key !== 'file' && key !== 'asset' && key !== 'ui') return `unknown field "${key}" (known: file, asset)`;
  if (!('asset' in o)) {
    if (!('file' in o)) return 'missing "file" (or "asset")';
    return typeof o['file'] === 'string' && o['file'] !== '' ? null : `.file: expected a non-empty string, got ${shown(o['file'])}`;
  }
  if ('file' in o) return 'a region names its sample by "file" or by "asset", not both';
  if (typeof o['asset'] !== 'string' || o['asset'] === '') return `.asset: expected a non-empty string, got ${shown(o['asset'])}`;
  if (!ASSET_HASH.test(o['asset'])) return `.asset: expected a SHA-256 in 64 lowercase hex digits, got ${shown(o['asset'])}`;
  return null;
}

/** A JSON value as the reader shows it in "got ..." (at most 40
 *  characters, else 37 and "..."). */
function shown(v: unknown): string {
  const text = v === undefined ? 'null' : JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** What `amp render` says of track `index`'s "samples" (its reader, and
 *  its resolver when `slots`, the patch's metadata "samples", is given:
 *  a name the patch lacks), or null when it would play it. The same
 *  messages, path first ("tracks[0].samples.p.wav: ..."). For documents
 *  from elsewhere (an import, another tab); the edits never make one. */
export function samplesError(track: TrackDoc, index: number, slots?: readonly string[]): string | null {
  const at = `tracks[${index}]`;
  const samples = (track as { samples?: unknown }).samples;
  if (samples === undefined) return null;
  if (track.kind !== 'instrument') return `${at}: "samples" belongs to instrument tracks, this one is ${track.kind}`;
  if (typeof samples !== 'object' || samples === null || Array.isArray(samples))
    return `${at}.samples: expected an object, got ${shown(samples)}`;
  const names = Object.keys(samples);
  if (names.length > LIMITS.sampleSlots)
    return `${at}.samples: ${names.length} sample slots; an instrument has at most ${LIMITS.sampleSlots}`;
  for (const name of names) {
    const e = sampleRefError((samples as Record<string, unknown>)[name]);
    if (e !== null) return `${at}.samples.${name}${e.startsWith('.') ? e : `: ${e}`}`;
  }
  if (slots)
    for (const name of names)
      if (!slots.includes(name))
        return `${at}.samples.${name}: the patch has no sample slot '${name}' (its slots:` +
          `${slots.length ? slots.map((s) => ` '${s}'`).join('') : ' none'})`;
  return null;
}

export function samePatch(a: PatchRef | undefined, b: PatchRef | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One param of the instrument (slot 0) or of insert `slot` (1..8), in its
 *  unit (the caller clamps it to the patch's range, which it knows). */
export function setParam(doc: ProjectDoc, trackId: number, name: string, value: number, slot = 0): ProjectDoc {
  if (!Number.isFinite(value)) return doc;
  return withTrack(doc, trackId, (t) => {
    if (slot === 0) {
      if (t.params?.[name] === value) return t;
      return { ...t, params: { ...t.params, [name]: value } };
    }
    const inserts = t.inserts ?? [];
    const ins = inserts[slot - 1];
    if (!ins || ins.params?.[name] === value) return t;
    return { ...t, inserts: replaceAt(inserts, slot - 1, { ...ins, params: { ...ins.params, [name]: value } }) };
  });
}

export function setVoiceMode(doc: ProjectDoc, trackId: number, mode: VoiceMode,
                             priority?: NotePriority, glideSeconds?: number): ProjectDoc {
  return withTrack(doc, trackId, (t) => {
    if (t.kind !== 'instrument') return t;
    let next: TrackDoc = mode === 'poly' ? omit(t, 'voice_mode') : { ...t, voice_mode: mode };
    if (priority !== undefined) next = priority === 'last' ? omit(next, 'note_priority') : { ...next, note_priority: priority };
    if (glideSeconds !== undefined) {
      const g = clamp(finite(glideSeconds, 0), 0, LIMITS.glideMax);
      next = g === 0 ? omit(next, 'glide_seconds') : { ...next, glide_seconds: g };
    }
    return next.voice_mode === t.voice_mode && next.note_priority === t.note_priority &&
      next.glide_seconds === t.glide_seconds ? t : next;
  });
}

/** An insert at `position` (1 = first; default: last); at most 8. */
export function addInsert(doc: ProjectDoc, trackId: number, patch: PatchRef, position?: number): ProjectDoc {
  return withTrack(doc, trackId, (t) => {
    const inserts = t.inserts ?? [];
    if (inserts.length >= LIMITS.inserts) return t;
    const at = clamp((position ?? inserts.length + 1) - 1, 0, inserts.length);
    const ins: Insert = { patch };
    return { ...t, inserts: [...inserts.slice(0, at), ins, ...inserts.slice(at)] };
  });
}

/** Remove insert `slot` (1..8), and the automation of its params. */
export function removeInsert(doc: ProjectDoc, trackId: number, slot: number): ProjectDoc {
  return withTrack(doc, trackId, (t) => {
    const inserts = t.inserts ?? [];
    if (!inserts[slot - 1]) return t;
    const rest = inserts.filter((_, i) => i !== slot - 1);
    let next: TrackDoc = rest.length ? { ...t, inserts: rest } : omit(t, 'inserts');
    if (t.automation) {
      const lanes = t.automation
        .filter((a) => !('slot' in a.target && a.target.slot === slot))
        .map((a) => ('slot' in a.target && a.target.slot > slot
          ? { ...a, target: { ...a.target, slot: a.target.slot - 1 } } : a));
      next = lanes.length ? { ...next, automation: lanes } : omit(next, 'automation');
    }
    return next;
  });
}

// ---- clips ---------------------------------------------------------------------------------

export interface NewClip {
  readonly id?: string;
  readonly start_beat: number;
  readonly length_beats: number;
  readonly notes?: readonly NoteDoc[];
  readonly loop_beats?: number;
  readonly name?: string;
  readonly color?: string;
}

function sanitizeNote(n: NoteDoc): NoteDoc {
  const key = clampKey(n.key);
  const start_beat = clampBeat(n.start_beat);
  const length_beats = clampLength(n.length_beats);
  const out: NoteDoc = { ...n, key, start_beat, length_beats };
  return n.velocity === undefined ? out : { ...out, velocity: clampVelocity(n.velocity) };
}

/** A clip on an instrument track. */
export function addClip(doc: ProjectDoc, trackId: number, spec: NewClip): ProjectDoc {
  const id = spec.id ?? newClipId(doc);
  if (findClip(doc, id)) return doc;
  return withTrack(doc, trackId, (t) => {
    if (t.kind !== 'instrument') return t;
    let clip: Clip = {
      start_beat: clampBeat(spec.start_beat),
      length_beats: clampLength(spec.length_beats),
      notes: (spec.notes ?? []).map(sanitizeNote),
      ui: {
        id,
        ...(spec.name !== undefined ? { name: spec.name } : {}),
        ...(spec.color !== undefined ? { color: spec.color } : {}),
      },
    };
    if (spec.loop_beats !== undefined) clip = { ...clip, loop_beats: clampLength(spec.loop_beats) };
    return { ...t, clips: [...(t.clips ?? []), clip] };
  });
}

/** Replace a clip's value (the UI's own computed clip); its id is kept. */
export function setClip(doc: ProjectDoc, clipId: string, clip: Clip): ProjectDoc {
  return withClip(doc, clipId, (c) => (c === clip ? c : { ...clip, ui: { ...clip.ui, id: clipId } }));
}

/** Move a clip to `startBeat`, and to another instrument track if given. */
export function moveClip(doc: ProjectDoc, clipId: string, startBeat: number, toTrackId?: number): ProjectDoc {
  const at = findClip(doc, clipId);
  if (!at) return doc;
  const start = clampBeat(startBeat);
  if (toTrackId === undefined || toTrackId === at.track.id)
    return withClip(doc, clipId, (c) => (c.start_beat === start ? c : { ...c, start_beat: start }));
  const dest = findTrack(doc, toTrackId);
  if (!dest || dest.kind !== 'instrument') return doc;
  const moved = { ...at.clip, start_beat: start };
  const without = withTrack(doc, at.track.id, (t) => ({ ...t, clips: (t.clips ?? []).filter((c) => c !== at.clip) }));
  return withTrack(without, toTrackId, (t) => ({ ...t, clips: [...(t.clips ?? []), moved] }));
}

/** Move a set of clips by `dbeat` and `dtrack` track positions (a drag of
 *  a selection). The set moves as one: the offsets are limited so that
 *  every clip stays at or after beat 0 and on an instrument track; refused
 *  when a clip would land on a track that is not an instrument track. */
export function moveClips(doc: ProjectDoc, clipIds: readonly string[], dbeat: number, dtrack = 0): ProjectDoc {
  const found = clipIds.map((id) => findClip(doc, id)).filter((x): x is ClipLocation => !!x);
  if (!found.length) return doc;
  const minStart = Math.min(...found.map((f) => f.clip.start_beat));
  const db = Math.max(finite(dbeat, 0), -minStart);
  let out = doc;
  for (const f of found) {
    const dest = doc.tracks[f.trackIndex + dtrack];
    if (!dest || dest.kind !== 'instrument') return doc;
  }
  for (const f of found) {
    const dest = doc.tracks[f.trackIndex + dtrack]!;
    out = moveClip(out, f.clip.ui!.id!, f.clip.start_beat + db, dest.id);
  }
  return out;
}

/** Drag one edge of a clip to `beat`. The right edge sets the length; the
 *  left edge moves the start and shifts the notes the other way, so they
 *  stay where they sound on the timeline (notes that would start before
 *  the new start are dropped: a clip plays no note before its start). A
 *  looped clip keeps its loop length; its loop then starts at the new
 *  start. */
export function resizeClip(doc: ProjectDoc, clipId: string, edge: 'left' | 'right', beat: number): ProjectDoc {
  return withClip(doc, clipId, (c) => {
    const end = c.start_beat + c.length_beats;
    if (edge === 'right') {
      const length = clampLength(clampBeat(beat) - c.start_beat);
      return length === c.length_beats ? c : { ...c, length_beats: length };
    }
    const start = clamp(clampBeat(beat), 0, end - LIMITS.minLength);
    if (start === c.start_beat) return c;
    const shift = c.start_beat - start;   // > 0: notes move later in the clip
    const notes = c.notes
      .map((n) => ({ ...n, start_beat: n.start_beat + shift }))
      .filter((n) => n.start_beat >= 0);
    return { ...c, start_beat: start, length_beats: end - start, notes };
  });
}

/** Set (or remove, with undefined) a clip's loop length: its notes in
 *  [0, loop) repeat until the clip's end. */
export function setClipLoop(doc: ProjectDoc, clipId: string, loopBeats: number | undefined): ProjectDoc {
  return withClip(doc, clipId, (c) => {
    if (loopBeats === undefined) return omit(c, 'loop_beats');
    const v = clampLength(loopBeats);
    return c.loop_beats === v ? c : { ...c, loop_beats: v };
  });
}

export function renameClip(doc: ProjectDoc, clipId: string, name: string): ProjectDoc {
  return withClip(doc, clipId, (c) => (c.ui?.name === name ? c : { ...c, ui: { ...c.ui, name } }));
}

export function setClipColor(doc: ProjectDoc, clipId: string, color: string): ProjectDoc {
  return withClip(doc, clipId, (c) => (c.ui?.color === color ? c : { ...c, ui: { ...c.ui, color } }));
}

/** Split a clip at timeline beat `beat` (strictly inside it) into two: the
 *  left keeps the id and the notes that start before the split (they are
 *  cut at its new end, as every note at a clip's end); the right gets
 *  `newId` and the notes from the split on. A looped clip's right part
 *  keeps the loop, its notes rotated so that it sounds the same. */
export function splitClip(doc: ProjectDoc, clipId: string, beat: number, newId?: string): ProjectDoc {
  const at = findClip(doc, clipId);
  if (!at) return doc;
  const c = at.clip;
  const offset = beat - c.start_beat;
  if (!(offset > 0 && offset < c.length_beats)) return doc;
  const id = newId ?? newClipId(doc);
  if (findClip(doc, id)) return doc;
  let rightNotes: NoteDoc[];
  if (c.loop_beats !== undefined) {
    const L = c.loop_beats;
    const phase = offset % L;
    rightNotes = c.notes.filter((n) => n.start_beat < L).map((n) => {
      let s = n.start_beat - phase;
      if (s < 0) s += L;
      return { ...n, start_beat: s };
    }).sort((a, b) => a.start_beat - b.start_beat);
  } else {
    rightNotes = c.notes.filter((n) => n.start_beat >= offset)
      .map((n) => ({ ...n, start_beat: n.start_beat - offset }));
  }
  const left: Clip = {
    ...c,
    length_beats: offset,
    notes: c.loop_beats !== undefined ? c.notes : c.notes.filter((n) => n.start_beat < offset),
  };
  const right: Clip = { ...c, start_beat: beat, length_beats: c.length_beats - offset, notes: rightNotes,
                        ui: { ...c.ui, id } };
  const clips = (at.track.clips ?? []).slice();
  clips.splice(at.clipIndex, 1, left, right);
  return { ...doc, tracks: replaceAt(doc.tracks, at.trackIndex, { ...at.track, clips }) };
}

/** A copy of the clip right after it on the same track. */
export function duplicateClip(doc: ProjectDoc, clipId: string, newId?: string): ProjectDoc {
  const at = findClip(doc, clipId);
  if (!at) return doc;
  const id = newId ?? newClipId(doc);
  if (findClip(doc, id)) return doc;
  const copy: Clip = { ...at.clip, start_beat: at.clip.start_beat + at.clip.length_beats, ui: { ...at.clip.ui, id } };
  return withTrack(doc, at.track.id, (t) => ({ ...t, clips: [...(t.clips ?? []), copy] }));
}

export function deleteClips(doc: ProjectDoc, clipIds: readonly string[]): ProjectDoc {
  const gone = new Set(clipIds);
  let changed = false;
  const tracks = doc.tracks.map((t) => {
    if (!t.clips?.some((c) => gone.has(c.ui?.id ?? ''))) return t;
    changed = true;
    return { ...t, clips: t.clips.filter((c) => !gone.has(c.ui?.id ?? '')) };
  });
  return changed ? { ...doc, tracks } : doc;
}

export const deleteClip = (doc: ProjectDoc, clipId: string): ProjectDoc => deleteClips(doc, [clipId]);

/** What copy puts on the clipboard: clips with their start relative to
 *  the earliest, and their track relative to the topmost. */
export interface Clipboard {
  readonly clips: readonly { readonly trackOffset: number; readonly clip: Clip }[];
}

export function copyClips(doc: ProjectDoc, clipIds: readonly string[]): Clipboard {
  const found = clipIds.map((id) => findClip(doc, id)).filter((x): x is ClipLocation => !!x);
  if (!found.length) return { clips: [] };
  const first = Math.min(...found.map((f) => f.clip.start_beat));
  const top = Math.min(...found.map((f) => f.trackIndex));
  return {
    clips: found.map((f) => ({ trackOffset: f.trackIndex - top, clip: { ...f.clip, start_beat: f.clip.start_beat - first } })),
  };
}

/** Paste at `beat` with the topmost clip on track `trackId`; each clip gets
 *  a fresh id (returned in `ids` when given, in clipboard order). Clips
 *  whose track would not be an instrument track are left out. */
export function pasteClips(doc: ProjectDoc, board: Clipboard, trackId: number, beat: number, ids?: string[]): ProjectDoc {
  const top = trackIndex(doc, trackId);
  if (top < 0 || !board.clips.length) return doc;
  const fresh = newClipIds(doc, board.clips.length);
  let out = doc;
  let next = 0;
  board.clips.forEach((entry) => {
    const t = doc.tracks[top + entry.trackOffset];
    if (!t || t.kind !== 'instrument') return;
    const id = fresh[next++]!;
    const clip: Clip = { ...entry.clip, start_beat: clampBeat(beat + entry.clip.start_beat), ui: { ...entry.clip.ui, id } };
    out = withTrack(out, t.id, (tr) => ({ ...tr, clips: [...(tr.clips ?? []), clip] }));
    ids?.push(id);
  });
  return out;
}

// ---- notes -----------------------------------------------------------------------------------

function withNotes(doc: ProjectDoc, clipId: string, fn: (notes: readonly NoteDoc[]) => readonly NoteDoc[]): ProjectDoc {
  return withClip(doc, clipId, (c) => {
    const notes = fn(c.notes);
    return notes === c.notes ? c : { ...c, notes };
  });
}

function mapNotes(notes: readonly NoteDoc[], indices: readonly number[], fn: (n: NoteDoc) => NoteDoc): readonly NoteDoc[] {
  let out: NoteDoc[] | null = null;
  for (const i of new Set(indices)) {
    const n = notes[i];
    if (!n) continue;
    const m = fn(n);
    if (m === n) continue;
    out ??= notes.slice();
    out[i] = m;
  }
  return out ?? notes;
}

/** Add a note to a clip (start from the clip's start); it goes last, so its
 *  index is the clip's note count before. */
export function addNote(doc: ProjectDoc, clipId: string, note: NoteDoc): ProjectDoc {
  return withNotes(doc, clipId, (notes) => [...notes, sanitizeNote(note)]);
}

/** Add several notes (a recorded take). */
export function addNotes(doc: ProjectDoc, clipId: string, added: readonly NoteDoc[]): ProjectDoc {
  if (!added.length) return doc;
  return withNotes(doc, clipId, (notes) => [...notes, ...added.map(sanitizeNote)]);
}

/** Move notes by `dbeat` and `dkey` together: the offsets are limited so
 *  that the whole set stays inside keys 0..127 and at or after the clip's
 *  start (the chord keeps its shape). */
export function moveNotes(doc: ProjectDoc, clipId: string, indices: readonly number[], dbeat: number, dkey: number): ProjectDoc {
  return withNotes(doc, clipId, (notes) => {
    const set = indices.map((i) => notes[i]).filter((n): n is NoteDoc => !!n);
    if (!set.length) return notes;
    const lo = Math.min(...set.map((n) => n.key));
    const hi = Math.max(...set.map((n) => n.key));
    const first = Math.min(...set.map((n) => n.start_beat));
    const dk = clamp(Math.round(finite(dkey, 0)), LIMITS.keyMin - lo, LIMITS.keyMax - hi);
    const db = Math.max(finite(dbeat, 0), -first);
    if (dk === 0 && db === 0) return notes;
    return mapNotes(notes, indices, (n) => ({ ...n, key: n.key + dk, start_beat: n.start_beat + db }));
  });
}

/** Resize notes by `dlength` beats at their end (`right`) or start
 *  (`left`: the start moves, the end stays); every note keeps at least
 *  the minimum length. */
export function resizeNotes(doc: ProjectDoc, clipId: string, indices: readonly number[], dlength: number,
                            edge: 'left' | 'right' = 'right'): ProjectDoc {
  return withNotes(doc, clipId, (notes) => mapNotes(notes, indices, (n) => {
    if (edge === 'right') {
      const length = clampLength(n.length_beats + finite(dlength, 0));
      return length === n.length_beats ? n : { ...n, length_beats: length };
    }
    const end = n.start_beat + n.length_beats;
    const start = clamp(n.start_beat - finite(dlength, 0), 0, end - LIMITS.minLength);
    return start === n.start_beat ? n : { ...n, start_beat: start, length_beats: end - start };
  }));
}

/** Set the notes' lengths to `length` beats. */
export function setNoteLength(doc: ProjectDoc, clipId: string, indices: readonly number[], length: number): ProjectDoc {
  const v = clampLength(length);
  return withNotes(doc, clipId, (notes) => mapNotes(notes, indices, (n) => (n.length_beats === v ? n : { ...n, length_beats: v })));
}

export function deleteNotes(doc: ProjectDoc, clipId: string, indices: readonly number[]): ProjectDoc {
  const gone = new Set(indices);
  return withNotes(doc, clipId, (notes) => (notes.some((_, i) => gone.has(i)) ? notes.filter((_, i) => !gone.has(i)) : notes));
}

/** Velocity of a set of notes: a value, or a function of each note's
 *  (default 0.8 when absent); clamped to 0..1. */
export function setVelocity(doc: ProjectDoc, clipId: string, indices: readonly number[],
                            velocity: number | ((v: number) => number)): ProjectDoc {
  return withNotes(doc, clipId, (notes) => mapNotes(notes, indices, (n) => {
    const old = n.velocity ?? DEFAULTS.velocity;
    const v = clampVelocity(typeof velocity === 'number' ? velocity : velocity(old));
    return n.velocity === v ? n : { ...n, velocity: v };
  }));
}

/** Quantize the notes' starts toward the grid (`grid` beats, on the
 *  timeline: a clip that starts off the grid is allowed for) by `strength`
 *  (0..1: 1 lands on the grid, 0.5 halves the distance). With `ends`, the
 *  note ends are quantized too (a note keeps at least one grid step). */
export function quantizeNotes(doc: ProjectDoc, clipId: string, indices: readonly number[], grid: number,
                              strength = 1, ends = false): ProjectDoc {
  if (!(grid > 0)) return doc;
  const k = clamp(finite(strength, 1), 0, 1);
  const at = findClip(doc, clipId);
  if (!at) return doc;
  const origin = at.clip.start_beat;
  return withNotes(doc, clipId, (notes) => mapNotes(notes, indices, (n) => {
    const abs = origin + n.start_beat;
    const target = Math.round(abs / grid) * grid;
    const start = Math.max(0, (k === 1 ? target : abs + (target - abs) * k) - origin);
    let length = n.length_beats;
    if (ends) {
      const endAbs = abs + n.length_beats;
      const endTarget = Math.max(target + grid, Math.round(endAbs / grid) * grid);
      const end = k === 1 ? endTarget : endAbs + (endTarget - endAbs) * k;
      length = clampLength(end - (start + origin));
    }
    return start === n.start_beat && length === n.length_beats ? n : { ...n, start_beat: start, length_beats: length };
  }));
}

/** Notes on the clipboard: starts relative to the earliest. */
export interface NoteClipboard {
  readonly notes: readonly NoteDoc[];
}

export function copyNotes(doc: ProjectDoc, clipId: string, indices: readonly number[]): NoteClipboard {
  const notes = findClip(doc, clipId)?.clip.notes ?? [];
  const set = [...new Set(indices)].sort((a, b) => a - b).map((i) => notes[i]).filter((n): n is NoteDoc => !!n);
  if (!set.length) return { notes: [] };
  const first = Math.min(...set.map((n) => n.start_beat));
  return { notes: set.map((n) => ({ ...n, start_beat: n.start_beat - first })) };
}

/** Paste notes into a clip from `beat` (from the clip's start); they go
 *  last, so their indices are the clip's note count before, on. */
export function pasteNotes(doc: ProjectDoc, clipId: string, board: NoteClipboard, beat: number): ProjectDoc {
  if (!board.notes.length) return doc;
  const at = clampBeat(beat);
  return addNotes(doc, clipId, board.notes.map((n) => ({ ...n, start_beat: n.start_beat + at })));
}

// ---- regions (audio tracks) -------------------------------------------------------------------

export interface NewRegion {
  readonly id?: string;
  readonly asset?: string;
  readonly file?: string;
  readonly start_beat: number;
  readonly offset_seconds?: number;
  readonly length_seconds?: number;
  readonly gain_db?: number;
  readonly name?: string;
}

export function addRegion(doc: ProjectDoc, trackId: number, spec: NewRegion): ProjectDoc {
  const id = spec.id ?? newClipId(doc);
  return withTrack(doc, trackId, (t) => {
    if (t.kind !== 'audio' || (!spec.asset === !spec.file)) return t;
    const region: RegionDoc = {
      ...(spec.asset !== undefined ? { asset: spec.asset } : {}),
      ...(spec.file !== undefined ? { file: spec.file } : {}),
      start_beat: clampBeat(spec.start_beat),
      ...(spec.offset_seconds !== undefined ? { offset_seconds: Math.max(0, spec.offset_seconds) } : {}),
      ...(spec.length_seconds !== undefined ? { length_seconds: Math.max(0, spec.length_seconds) } : {}),
      ...(spec.gain_db !== undefined ? { gain_db: clampGain(spec.gain_db) } : {}),
      ui: { id, ...(spec.name !== undefined ? { name: spec.name } : {}) },
    };
    return { ...t, regions: [...(t.regions ?? []), region] };
  });
}

export function moveRegion(doc: ProjectDoc, regionId: string, startBeat: number): ProjectDoc {
  const b = clampBeat(startBeat);
  let changed = false;
  const tracks = doc.tracks.map((t) => {
    const i = (t.regions ?? []).findIndex((r) => r.ui?.id === regionId);
    if (i < 0) return t;
    const r = t.regions![i]!;
    if (r.start_beat === b) return t;
    changed = true;
    return { ...t, regions: replaceAt(t.regions!, i, { ...r, start_beat: b }) };
  });
  return changed ? { ...doc, tracks } : doc;
}

export function deleteRegions(doc: ProjectDoc, regionIds: readonly string[]): ProjectDoc {
  const gone = new Set(regionIds);
  let changed = false;
  const tracks = doc.tracks.map((t) => {
    if (!t.regions?.some((r) => gone.has(r.ui?.id ?? ''))) return t;
    changed = true;
    return { ...t, regions: t.regions.filter((r) => !gone.has(r.ui?.id ?? '')) };
  });
  return changed ? { ...doc, tracks } : doc;
}
