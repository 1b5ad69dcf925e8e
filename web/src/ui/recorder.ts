// recorder.ts — a take: the notes played on the armed track while the
// transport runs, at the beats where they sounded (AudioSession.beatAt:
// the engine's beat from the state region, moved on to the note's engine
// time, so within one quantum of where the engine played it), into a new
// clip when recording stops. With input quantize, note starts go to the
// grid (their lengths are kept).

import type { NoteDoc } from '../doc/project';
import type { LiveTake } from './context';

export interface FinishedTake {
  trackId: number;
  start: number;
  length: number;
  notes: NoteDoc[];
}

export class TakeRecorder {
  take: LiveTake | null = null;

  begin(trackId: number, startBeat: number): void {
    this.take = { trackId, startBeat, notes: [] };
  }

  /** A live note (velocity 0: its release) at `beat`. */
  note(trackId: number, key: number, velocity: number, beat: number): void {
    const take = this.take;
    if (!take || trackId !== take.trackId) return;
    if (velocity > 0) {
      if (beat < take.startBeat - 1e-9) return;   // the count-in
      take.notes.push({ key, beat, end: null, velocity });
      return;
    }
    for (let i = take.notes.length - 1; i >= 0; i--) {
      const n = take.notes[i];
      if (n && n.key === key && n.end === null) {
        n.end = Math.max(beat, n.beat + 1 / 960);
        return;
      }
    }
  }

  /** End the take at `endBeat`; notes still held end there. `barBeats`
   *  rounds the clip's length up to whole bars; `grid` > 0 quantizes the
   *  starts. Null when nothing was played. */
  finish(endBeat: number, barBeats: number, grid: number): FinishedTake | null {
    const take = this.take;
    this.take = null;
    if (!take || take.notes.length === 0) return null;
    const start = take.startBeat;
    const notes: NoteDoc[] = take.notes.map((n) => {
      const end = n.end ?? Math.max(endBeat, n.beat + 1 / 960);
      let s = n.beat - start;
      if (grid > 0) s = Math.max(0, Math.round(s / grid) * grid);
      return { key: n.key, start_beat: s, length_beats: Math.max(1 / 960, end - n.beat),
               velocity: Math.round(n.velocity * 1000) / 1000 };
    });
    const last = Math.max(endBeat - start, ...notes.map((n) => n.start_beat + n.length_beats));
    const length = Math.max(barBeats, Math.ceil(last / barBeats - 1e-9) * barBeats);
    return { trackId: take.trackId, start, length, notes };
  }
}
