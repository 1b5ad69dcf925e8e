// grid.ts — the snap grid, and bars and beats under the time-signature map.
//
// Beats are quarter notes everywhere in the document. A bar of num/den is
// num * 4 / den beats long. The map: `time_signature` from beat 0, then each
// of `time_signature_changes` from its beat (sorted; the later of two at one
// beat wins). A change starts a new bar at its beat: if it falls inside a
// bar of the signature before it, that bar is cut short there (the UI puts
// changes on bar lines; this rule keeps odd documents well defined).
//
// Positions shown to the musician are bars:beats:ticks, each counted from 1
// except ticks: beats in the signature's own unit (an eighth in 6/8), ticks
// TICKS_PER_QUARTER to the quarter note.

import { DEFAULTS, type ProjectDoc, type TimeSignatureChange } from './project';

export const TICKS_PER_QUARTER = 960;

export interface GridSize {
  readonly label: string;
  /** Beats (quarter notes); 0 = no snapping. */
  readonly beats: number;
  /** Snap to the bar lines of the signature map instead. */
  readonly bar?: boolean;
}

export const GRID_SIZES: readonly GridSize[] = [
  { label: 'Off', beats: 0 },
  { label: 'Bar', beats: 4, bar: true },
  { label: '1/2', beats: 2 },
  { label: '1/4', beats: 1 },
  { label: '1/8', beats: 1 / 2 },
  { label: '1/8T', beats: 1 / 3 },
  { label: '1/16', beats: 1 / 4 },
  { label: '1/16T', beats: 1 / 6 },
  { label: '1/32', beats: 1 / 8 },
  { label: '1/64', beats: 1 / 16 },
];

/** `beat` to the nearest multiple of `grid` beats (grid 0: unchanged).
 *  Multiples are computed as k * grid, so 1/3-beat grids land on the same
 *  values every time. */
export function snap(beat: number, grid: number): number {
  if (!(grid > 0)) return beat;
  return Math.round(beat / grid) * grid;
}

export function snapFloor(beat: number, grid: number): number {
  if (!(grid > 0)) return beat;
  return Math.floor(beat / grid + 1e-9) * grid;
}

export function snapCeil(beat: number, grid: number): number {
  if (!(grid > 0)) return beat;
  return Math.ceil(beat / grid - 1e-9) * grid;
}

/** One stretch of constant signature. */
export interface SignatureSegment {
  readonly beat: number;
  readonly num: number;
  readonly den: number;
  /** Index (from 0) of the bar that starts at `beat`. */
  readonly bar: number;
  /** Beats per bar. */
  readonly barBeats: number;
}

const cache = new WeakMap<ProjectDoc, readonly SignatureSegment[]>();

export function signatureMap(doc: ProjectDoc): readonly SignatureSegment[] {
  let map = cache.get(doc);
  if (!map) {
    const [num, den] = doc.time_signature ?? DEFAULTS.timeSignature;
    map = makeSignatureMap(num, den, doc.time_signature_changes ?? []);
    cache.set(doc, map);
  }
  return map;
}

export function makeSignatureMap(num: number, den: number,
                                 changes: readonly TimeSignatureChange[]): readonly SignatureSegment[] {
  const sorted = changes.map((c, i) => ({ c, i })).filter(({ c }) => c.beat > 0)
    .sort((a, b) => a.c.beat - b.c.beat || a.i - b.i).map(({ c }) => c);
  const at0 = changes.filter((c) => c.beat <= 0).pop();
  const first = at0 ?? { beat: 0, num, den };
  const out: SignatureSegment[] = [{ beat: 0, num: first.num, den: first.den, bar: 0, barBeats: first.num * 4 / first.den }];
  for (const c of sorted) {
    const last = out[out.length - 1]!;
    const seg = { beat: c.beat, num: c.num, den: c.den, barBeats: c.num * 4 / c.den };
    if (last.beat === c.beat) {
      out[out.length - 1] = { ...seg, bar: last.bar };
      continue;
    }
    const bars = Math.ceil((c.beat - last.beat) / last.barBeats - 1e-9);
    out.push({ ...seg, bar: last.bar + bars });
  }
  return out;
}

function segmentAt(map: readonly SignatureSegment[], beat: number): SignatureSegment {
  let seg = map[0]!;
  for (const s of map) {
    if (s.beat > beat) break;
    seg = s;
  }
  return seg;
}

/** The signature in force at `beat`. */
export function signatureAt(map: readonly SignatureSegment[], beat: number): { num: number; den: number } {
  const s = segmentAt(map, beat);
  return { num: s.num, den: s.den };
}

export interface BarPosition {
  /** From 1. */
  readonly bar: number;
  /** From 1, in the signature's beat unit. */
  readonly beat: number;
  /** From 0, TICKS_PER_QUARTER to the quarter. */
  readonly tick: number;
}

/** The bar, beat and tick of `beat` (>= 0). */
export function barBeatAt(map: readonly SignatureSegment[], beat: number): BarPosition {
  const s = segmentAt(map, beat);
  const into = beat - s.beat;
  const bars = Math.floor(into / s.barBeats + 1e-9);
  const inBar = Math.max(0, into - bars * s.barBeats);
  const unit = 4 / s.den;
  const beats = Math.floor(inBar / unit + 1e-9);
  const tick = Math.max(0, Math.round((inBar - beats * unit) * TICKS_PER_QUARTER));
  return { bar: s.bar + bars + 1, beat: beats + 1, tick };
}

/** "bar.beat.tick", e.g. "3.2.480". */
export function formatBarBeat(map: readonly SignatureSegment[], beat: number, ticks = true): string {
  const p = barBeatAt(map, beat);
  return ticks ? `${p.bar}.${p.beat}.${String(p.tick).padStart(3, '0')}` : `${p.bar}.${p.beat}`;
}

/** The beat where bar `bar` (from 1) starts. */
export function barStart(map: readonly SignatureSegment[], bar: number): number {
  const index = bar - 1;
  let seg = map[0]!;
  for (const s of map) {
    if (s.bar > index) break;
    seg = s;
  }
  return seg.beat + (index - seg.bar) * seg.barBeats;
}

/** The bar lines from beat `from` to beat `to` (a ruler): each bar's start
 *  and number (from 1), and the signature there. */
export function barsBetween(map: readonly SignatureSegment[], from: number, to: number):
    { beat: number; bar: number; num: number; den: number }[] {
  const out: { beat: number; bar: number; num: number; den: number }[] = [];
  for (let i = 0; i < map.length; i++) {
    const s = map[i]!;
    const end = map[i + 1]?.beat ?? Infinity;
    if (end <= from || s.beat > to) continue;
    let k = Math.max(0, Math.floor((from - s.beat) / s.barBeats));
    for (;; k++) {
      const b = s.beat + k * s.barBeats;
      if (b >= end || b > to) break;
      if (b >= from) out.push({ beat: b, bar: s.bar + k + 1, num: s.num, den: s.den });
    }
  }
  return out;
}

/** Snap to the nearest bar line of the map. */
export function snapToBar(map: readonly SignatureSegment[], beat: number): number {
  const p = barBeatAt(map, beat);
  const a = barStart(map, p.bar);
  const b = barStart(map, p.bar + 1);
  return beat - a <= b - beat ? a : b;
}

/** Snap with a GridSize (bar sizes follow the signature map). */
export function snapTo(map: readonly SignatureSegment[], beat: number, grid: GridSize): number {
  return grid.bar ? snapToBar(map, beat) : snap(beat, grid.beats);
}
