// song.ts — reading a project for the views: where the bars are (with
// time-signature changes), finding a clip by its ui id, the key range of a
// clip's notes. Pure functions of the document.

import type { Clip, ProjectDoc, TrackDoc } from '../doc/project';

export interface BarLine {
  beat: number;
  bar: boolean;
  /** 1-based bar number (of the bar this line is in). */
  barNumber: number;
}

interface Meter {
  beat: number;      // where it starts (quarter notes)
  num: number;
  den: number;
  firstBar: number;  // 1-based number of its first bar
}

export interface Bars {
  /** Quarter-note beats in the bar that holds `beat`. */
  beatsPerBarAt(beat: number): number;
  /** The signature in force at `beat`. */
  signatureAt(beat: number): [number, number];
  /** Bar and beat lines from `from` to `to`. */
  lines(from: number, to: number): BarLine[];
  /** 1-based bar, beat (in the signature's unit) and tick (of 960 per
   *  beat unit) at `beat`. */
  position(beat: number): { bar: number; beat: number; tick: number };
  /** Beat of the start of bar `bar` (1-based). */
  barStart(bar: number): number;
}

const TICKS = 960;

export function barsOf(doc: ProjectDoc): Bars {
  const [num0, den0] = doc.time_signature ?? [4, 4];
  const changes = [...(doc.time_signature_changes ?? [])].sort((a, b) => a.beat - b.beat);
  const meters: Meter[] = [{ beat: 0, num: num0, den: den0, firstBar: 1 }];
  for (const c of changes) {
    const last = meters[meters.length - 1] as Meter;
    const barLen = (last.num * 4) / last.den;
    // A change starts a new bar at its beat (a bar it falls inside is cut
    // short there: doc/grid.ts's rule).
    const bars = Math.max(0, Math.ceil((c.beat - last.beat) / barLen - 1e-9));
    const beat = Math.max(last.beat, c.beat);
    const m = { beat, num: c.num, den: c.den, firstBar: last.firstBar + bars };
    if (beat === last.beat) meters[meters.length - 1] = m;
    else meters.push(m);
  }
  const meterAt = (beat: number): Meter => {
    let m = meters[0] as Meter;
    for (const x of meters) if (x.beat <= beat + 1e-9) m = x;
    return m;
  };
  return {
    beatsPerBarAt: (beat) => {
      const m = meterAt(beat);
      return (m.num * 4) / m.den;
    },
    signatureAt: (beat) => {
      const m = meterAt(beat);
      return [m.num, m.den];
    },
    lines: (from, to) => {
      const out: BarLine[] = [];
      for (let i = 0; i < meters.length; i++) {
        const m = meters[i] as Meter;
        const end = meters[i + 1]?.beat ?? Infinity;
        const barLen = (m.num * 4) / m.den, step = 4 / m.den;
        const firstBar = Math.max(0, Math.floor((from - m.beat) / barLen));
        for (let b = firstBar; ; b++) {
          const barBeat = m.beat + b * barLen;
          if (barBeat >= end || barBeat > to) break;
          for (let k = 0; k < m.num; k++) {
            const beat = barBeat + k * step;
            if (beat >= end || beat > to) break;
            if (beat >= from - barLen) out.push({ beat, bar: k === 0, barNumber: m.firstBar + b });
          }
        }
        if (end > to) break;
      }
      return out;
    },
    position: (beat) => {
      const m = meterAt(beat);
      const barLen = (m.num * 4) / m.den, step = 4 / m.den;
      const into = Math.max(0, beat - m.beat);
      const bar = Math.floor(into / barLen + 1e-9);
      const inBar = into - bar * barLen;
      const b = Math.floor(inBar / step + 1e-9);
      const tick = Math.min(TICKS - 1, Math.max(0, Math.floor(((inBar - b * step) / step) * TICKS + 1e-6)));
      return { bar: m.firstBar + bar, beat: b + 1, tick };
    },
    barStart: (bar) => {
      let m = meters[0] as Meter;
      for (const x of meters) if (x.firstBar <= bar) m = x;
      return m.beat + (bar - m.firstBar) * ((m.num * 4) / m.den);
    },
  };
}

/** "12.3.480"-style position text. */
export function positionText(doc: ProjectDoc, beat: number): string {
  const p = barsOf(doc).position(beat);
  return `${String(p.bar).padStart(3, ' ')}.${p.beat}.${String(p.tick).padStart(3, '0')}`;
}

export function findClip(doc: ProjectDoc, id: string): { track: TrackDoc; clip: Clip; index: number } | null {
  for (const track of doc.tracks) {
    const clips = track.clips ?? [];
    for (let i = 0; i < clips.length; i++) {
      const clip = clips[i];
      if (clip && clip.ui?.id === id) return { track, clip, index: i };
    }
  }
  return null;
}

export function findTrack(doc: ProjectDoc, id: number | null): TrackDoc | null {
  if (id === null) return null;
  return doc.tracks.find((t) => t.id === id) ?? null;
}

/** Lowest and highest key of a clip's notes (a middle octave when empty). */
export function clipRange(clip: Clip): { lo: number; hi: number } {
  if (clip.notes.length === 0) return { lo: 60, hi: 72 };
  let lo = 127, hi = 0;
  for (const n of clip.notes) {
    lo = Math.min(lo, n.key);
    hi = Math.max(hi, n.key);
  }
  return { lo, hi };
}

/** The tempo at `beat` (tempo and its changes). */
export function tempoAt(doc: ProjectDoc, beat: number): number {
  let bpm = doc.tempo ?? 120;
  const changes = [...(doc.tempo_changes ?? [])].sort((a, b) => a.beat - b.beat);
  for (const c of changes) if (c.beat <= beat) bpm = c.bpm;
  return bpm;
}

/** Seconds from beat 0 to `beat` through the tempo map. */
export function secondsAt(doc: ProjectDoc, beat: number): number {
  let t = 0, at = 0, bpm = doc.tempo ?? 120;
  const changes = [...(doc.tempo_changes ?? [])].sort((a, b) => a.beat - b.beat);
  for (const c of changes) {
    if (c.beat >= beat) break;
    t += ((c.beat - at) * 60) / bpm;
    at = c.beat;
    bpm = c.bpm;
  }
  return t + ((beat - at) * 60) / bpm;
}

/** The end of the arrangement: length_beats, else the end of the last clip. */
export function songEnd(doc: ProjectDoc): number {
  if (doc.length_beats !== undefined) return doc.length_beats;
  let end = 0;
  for (const t of doc.tracks) for (const c of t.clips ?? []) end = Math.max(end, c.start_beat + c.length_beats);
  return end;
}
