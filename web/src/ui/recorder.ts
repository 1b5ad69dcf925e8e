// recorder.ts — capture what is played, with its timing, as a Performance
// the export worker can render.
//
// Times are event timestamps (performance.now() milliseconds) turned into
// frames at the engine's sample rate and counted from the first note, so
// the export starts with the music, not with the silence before it.

import type { ManifestPatch } from '../engine/layout';
import { defaultFrames, type ParamChange, type PerformedNote, type Performance } from '../engine/performance';

interface OpenNote {
  key: number;
  start: number;
  velocity: number;
}

export class Recorder {
  private readonly sampleRate: number;
  private readonly patch: ManifestPatch;
  private readonly startValues: number[];
  private readonly notes: PerformedNote[] = [];
  private readonly changes: ParamChange[] = [];
  private readonly open = new Map<number, OpenNote>();   // key -> note
  private readonly t0: number;

  constructor(patch: ManifestPatch, paramValues: number[], sampleRate: number, startMs: number) {
    this.patch = patch;
    this.startValues = [...paramValues];
    this.sampleRate = sampleRate;
    this.t0 = startMs;
  }

  private frame(ms: number): number {
    return Math.max(0, Math.round(((ms - this.t0) * this.sampleRate) / 1000));
  }

  press(key: number, velocity: number, ms: number): void {
    this.release(key, ms);
    this.open.set(key, { key, start: this.frame(ms), velocity: Math.fround(velocity) });
  }

  release(key: number, ms: number): void {
    const n = this.open.get(key);
    if (!n) return;
    this.open.delete(key);
    this.notes.push({ key, start: n.start, end: this.frame(ms), velocity: n.velocity });
  }

  param(index: number, value: number, ms: number): void {
    this.changes.push({ frame: this.frame(ms), param: index, value });
  }

  get noteCount(): number {
    return this.notes.length + this.open.size;
  }

  /** The performance so far; notes still held end now. Null if no note
   *  was played. */
  finish(nowMs: number): Performance | null {
    for (const key of [...this.open.keys()]) this.release(key, nowMs);
    if (this.notes.length === 0) return null;
    const first = Math.min(...this.notes.map((n) => n.start));
    const notes = this.notes
      .map((n) => ({ ...n, start: n.start - first, end: n.end - first }))
      .sort((a, b) => a.start - b.start);
    const changes = this.changes
      .filter((c) => c.frame >= first)
      .map((c) => ({ ...c, frame: c.frame - first }));
    // Changes before the first note are part of where it starts from.
    const values = [...this.startValues];
    for (const c of this.changes) if (c.frame < first) values[c.param] = c.value;
    const params = this.patch.meta.params;
    const startParams = params
      .filter((p) => values[p.index] !== undefined && values[p.index] !== p.default)
      .map((p) => ({ param: p.index, name: p.name, value: values[p.index] ?? p.default }));
    return {
      patch: this.patch.index,
      patchName: this.patch.unit,
      source: this.patch.source,
      sampleRate: this.sampleRate,
      startParams,
      paramNames: params.map((p) => p.name),
      paramDefaults: params.map((p) => p.default),
      notes,
      changes,
      frames: defaultFrames(notes, changes, this.sampleRate),
    };
  }
}
