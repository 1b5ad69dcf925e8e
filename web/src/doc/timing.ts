// timing.ts — beats and time through the project's tempo map, computed the
// way the engine computes them, so that what the page draws and the samples
// it stamps on commands agree with what the engine plays.
//
// The map: `tempo` from beat 0, then each of `tempo_changes` from its beat
// on (sorted by beat; of two at one beat the later in the document wins, as
// the engine's insert keeps the last). Beats are quarter notes.
//
// - seconds between two beats: runtime/engine/engine_render.c
//   engine_tempo_seconds, segment by segment, (until - at) * 60 / bpm;
// - the sample of a beat: llround(seconds(0, beat) * rate), as the engine
//   anchors the playhead on a seek and a loop (engine_apply.c);
// - the beat of a timeline sample: runtime/engine/engine_commands.c
//   beats_at, which is how the engine converts a command's sample position
//   (load_clip, tempo_change, ...) into a beat.
//
// Pure functions of values; the map of a document is cached per document.

import { DEFAULTS, type ProjectDoc, type TempoChange } from './project';

export interface TempoMap {
  /** bpm from beat 0. */
  readonly bpm: number;
  /** Sorted by beat, one per beat, each after 0 or at it. */
  readonly changes: readonly TempoChange[];
}

const cache = new WeakMap<ProjectDoc, TempoMap>();

/** The tempo map of a document (cached: documents are immutable). */
export function tempoMap(doc: ProjectDoc): TempoMap {
  let map = cache.get(doc);
  if (!map) {
    map = makeTempoMap(doc.tempo ?? DEFAULTS.tempo, doc.tempo_changes ?? []);
    cache.set(doc, map);
  }
  return map;
}

export function makeTempoMap(bpm: number, changes: readonly TempoChange[]): TempoMap {
  // Stable sort by beat; of equal beats the later entry wins.
  const sorted = changes.map((c, i) => ({ c, i })).sort((a, b) => a.c.beat - b.c.beat || a.i - b.i);
  const out: TempoChange[] = [];
  for (const { c } of sorted) {
    const last = out[out.length - 1];
    if (last && last.beat === c.beat) out[out.length - 1] = { beat: c.beat, bpm: c.bpm };
    else out.push({ beat: c.beat, bpm: c.bpm });
  }
  return { bpm, changes: out };
}

/** Index of the change in force at `beat`, -1 for the base tempo
 *  (engine_render.c tempo_index_for). */
function indexAt(map: TempoMap, beat: number): number {
  let index = -1;
  for (let i = 0; i < map.changes.length && (map.changes[i]?.beat ?? Infinity) <= beat; i++) index = i;
  return index;
}

function bpmOf(map: TempoMap, index: number): number {
  return index < 0 ? map.bpm : map.changes[index]?.bpm ?? map.bpm;
}

/** The tempo in force at `beat`. */
export function bpmAt(map: TempoMap, beat: number): number {
  return bpmOf(map, indexAt(map, beat));
}

/** Seconds from beat a to beat b >= a (engine_tempo_seconds, the same
 *  operations in the same order). */
export function secondsBetween(map: TempoMap, a: number, b: number): number {
  let seconds = 0;
  let at = a;
  let index = indexAt(map, a);
  while (at < b) {
    let until = index + 1 < map.changes.length ? map.changes[index + 1]?.beat ?? b : b;
    if (until > b) until = b;
    seconds += (until - at) * 60.0 / bpmOf(map, index);
    at = until;
    index++;
  }
  return seconds;
}

/** Seconds from beat 0 to `beat` (>= 0). */
export function beatToSeconds(map: TempoMap, beat: number): number {
  return secondsBetween(map, 0, beat);
}

/** The beat `seconds` after beat 0. */
export function secondsToBeat(map: TempoMap, seconds: number): number {
  let atBeat = 0;
  let atSeconds = 0;
  let bpm = map.bpm;
  for (const c of map.changes) {
    const next = atSeconds + (c.beat - atBeat) * 60.0 / bpm;
    if (next > seconds) break;
    atSeconds = next;
    atBeat = c.beat;
    bpm = c.bpm;
  }
  return atBeat + (seconds - atSeconds) * bpm / 60.0;
}

/** C's llround for the non-negative and negative alike: half away from 0. */
function llround(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** The timeline sample of `beat` at `rate` (the engine's anchor:
 *  llround(engine_tempo_seconds(0, beat) * rate)). */
export function beatToSample(map: TempoMap, beat: number, rate: number): number {
  return llround(beatToSeconds(map, beat) * rate);
}

/** The beat at timeline sample `position` (engine_commands.c beats_at). */
export function sampleToBeat(map: TempoMap, position: number, rate: number): number {
  let atBeat = 0;
  let atSample = 0;
  let bpm = map.bpm;
  for (const c of map.changes) {
    const next = atSample + (c.beat - atBeat) * (60.0 * rate) / bpm;
    if (next > position) break;
    atSample = next;
    atBeat = c.beat;
    bpm = c.bpm;
  }
  return atBeat + (position - atSample) * bpm / (60.0 * rate);
}

/** The first sample whose beat (sampleToBeat) is at or after `beat`: the
 *  position to give a command that the engine turns back into a beat. */
export function sampleForBeat(map: TempoMap, beat: number, rate: number): number {
  let s = Math.max(0, Math.ceil(beatToSeconds(map, beat) * rate) - 2);
  while (sampleToBeat(map, s, rate) < beat) s++;
  while (s > 0 && sampleToBeat(map, s - 1, rate) >= beat) s--;
  return s;
}

/** The project's sample rate. */
export function sampleRateOf(doc: ProjectDoc): number {
  return doc.sample_rate ?? DEFAULTS.sampleRate;
}

/** Where the arrangement ends, in beats: `length_beats`, else the end of
 *  the last clip or region (regions through their length in seconds). */
export function projectEndBeat(doc: ProjectDoc): number {
  if (doc.length_beats !== undefined) return doc.length_beats;
  const map = tempoMap(doc);
  let end = 0;
  for (const t of doc.tracks) {
    for (const c of t.clips ?? []) end = Math.max(end, c.start_beat + c.length_beats);
    for (const r of t.regions ?? [])
      if (r.length_seconds !== undefined)
        end = Math.max(end, secondsToBeat(map, beatToSeconds(map, r.start_beat) + r.length_seconds));
      else end = Math.max(end, r.start_beat);
  }
  return end;
}

/** The engine's transport playing through the tempo map from `startBeat`
 *  at sample 0 (runtime/engine/engine_render.c): the playhead's beat is
 *  its anchor's beat plus samples * bpm / (60 * rate); when it reaches a
 *  tempo change, at the first sample at or past the change's beat, the
 *  engine anchors there, keeping the beat reached at that sample (a hair
 *  past the change's beat), with the new tempo. So a note at beat x
 *  sounds from the first sample whose playhead beat is at or past x,
 *  which this computes exactly (sampleFor); the tempo map's seconds
 *  (beatToSeconds) differ from it by less than a sample per change. No
 *  loop: a loop's wrap starts a new transport at its start beat. */
export class Transport {
  readonly map: TempoMap;
  readonly rate: number;
  readonly startBeat: number;
  /** Anchors: sample, beat, bpm; [0] is the start. */
  private readonly anchors: { s: number; beat: number; bpm: number; index: number }[];

  constructor(map: TempoMap, rate: number, startBeat = 0) {
    this.map = map;
    this.rate = rate;
    this.startBeat = startBeat;
    const index = indexAt(map, startBeat);
    this.anchors = [{ s: 0, beat: startBeat, bpm: bpmOf(map, index), index }];
  }

  private beatIn(a: { s: number; beat: number; bpm: number }, s: number): number {
    return a.beat + (s - a.s) * a.bpm / (60.0 * this.rate);
  }

  /** First sample >= a.s at which anchor a's beat reaches x. */
  private firstIn(a: { s: number; beat: number; bpm: number }, x: number): number {
    if (x <= a.beat) return a.s;
    let o = Math.ceil((x - a.beat) * (60.0 * this.rate) / a.bpm);
    while (o > 0 && this.beatIn(a, a.s + o - 1) >= x) o--;
    while (this.beatIn(a, a.s + o) < x) o++;
    return a.s + o;
  }

  /** The anchor in force for beat x (anchors made as needed). */
  private anchorFor(x: number): { s: number; beat: number; bpm: number; index: number } {
    for (;;) {
      const a = this.anchors[this.anchors.length - 1]!;
      const next = this.map.changes[a.index + 1];
      if (!next || next.beat > x) {
        // An earlier anchor may hold x (anchors are made past x before).
        let best = this.anchors[0]!;
        for (const b of this.anchors) if (b.beat <= x) best = b;
        return best;
      }
      const s = this.firstIn(a, next.beat);
      const beat = this.beatIn(a, s);
      const index = indexAt(this.map, beat);
      this.anchors.push({ s, beat, bpm: bpmOf(this.map, index), index });
    }
  }

  /** The first sample (from the start) at which the playhead is at or
   *  past `beat` (>= startBeat). */
  sampleFor(beat: number): number {
    return this.firstIn(this.anchorFor(beat), beat);
  }

  /** The playhead's beat at sample s (>= 0). */
  beatAt(s: number): number {
    // Anchors up to s: extend while the next change is reached before s.
    for (;;) {
      const a = this.anchors[this.anchors.length - 1]!;
      const next = this.map.changes[a.index + 1];
      if (!next || this.beatIn(a, s) < next.beat) break;
      this.anchorFor(next.beat);
    }
    let best = this.anchors[0]!;
    for (const b of this.anchors) if (b.s <= s) best = b;
    return this.beatIn(best, s);
  }
}
