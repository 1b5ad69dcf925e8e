// context.ts — what every view of the DAW is handed: the document store,
// the view state, the actions, the audio session and the patch library.
// One object, made once by main.tsx; React passes it down as a prop.

import type { Clip } from '../doc/project';
import type { DocStore } from '../doc/history';
import type { ManifestPatch } from '../engine/layout';
import type { PatchRef } from '../doc/project';
import type { Actions } from './actions';
import type { PatchLibrary } from './library';
import type { ValueStore, ViewState } from './view';

/** A take being recorded, for drawing it while it grows. */
export interface LiveTake {
  trackId: number;
  startBeat: number;
  notes: { key: number; beat: number; end: number | null; velocity: number }[];
}

/** Meter values of one strip, as the mixer draws them. */
export interface MeterReading {
  peak: [number, number];
  rms: [number, number];
  /** Held clip: the peak went over 0 dBFS since the last reset. */
  clipped: boolean;
  /** The master only: its safety limit is clipping (or did, recently). */
  limited?: boolean;
}

/** The audio side as the views see it (session.ts). */
export interface AudioPort {
  /** Start the engine (needs a user gesture); harmless when running. */
  start(): void;
  running(): boolean;
  playing(): boolean;
  /** The playhead in beats (the engine's while it runs, else the local
   *  cursor). */
  positionBeat(): number;
  seek(beat: number): void;
  play(): void;
  stop(): void;
  togglePlay(): void;
  /** Live notes on a track (piano roll, keyboard, MIDI). */
  noteOn(trackId: number, key: number, velocity: number): void;
  noteOff(trackId: number, key: number): void;
  meter(trackId: number | 'master'): MeterReading | null;
  resetClip(trackId: number | 'master'): void;
  cpu(): { load: number; voices: number } | null;
  /** Whether the engine's guard silenced a patch of the track lately
   *  (an open fault report: faults.tsx). */
  faulted(trackId: number): boolean;
  /** Context frames the engine has rendered (0 before it starts). */
  frames(): number;
}

export type Tool = 'pointer' | 'split';

export interface Ctx {
  store: DocStore;
  view: ValueStore<ViewState>;
  act: Actions;
  audio: AudioPort;
  /** The instruments and effects of the engine's registry (engine.json). */
  patches: readonly ManifestPatch[];
  tool(): Tool;
  setTool(t: Tool): void;
  recording(): LiveTake | null;
  /** Scroll the piano roll to a clip's notes. */
  focusRoll(clip: Clip): void;
  /** Keys sounding from the keyboards (for the piano roll's keys). */
  heldKeys(): ReadonlySet<number>;
  /** Open the tempo / time-signature popover for the bar line at `beat`
   *  (a right click on the ruler), at page coordinates (x, y). */
  markerMenu(beat: number, x: number, y: number): void;
  /** A short message in the status line. */
  say(text: string): void;
  /** The user's patch library on ampd (library.ts). */
  library: PatchLibrary;
  /** Library patch `id` (its latest revision) as the instrument (slot 0)
   *  or a new insert (slot 1); resolves to whether it was set. */
  useLibraryPatch(trackId: number, id: string, slot: number): Promise<boolean>;
  /** Every track using library patch `id` to `revision`. */
  updatePatch(id: string, revision: number): Promise<void>;
  /** The patch editor on a patch (a built-in opens as a copy to fork). */
  editPatch(ref: PatchRef | undefined): void;
  /** An audio file dropped on (or chosen for) sample slot `slot` of a
   *  track's instrument: uploaded to ampd as an asset, then bound by its
   *  hash (one undo step); resolves to whether it was bound. */
  bindSampleFile(trackId: number, slot: string, file: File): Promise<boolean>;
  /** What the engine holds of an asset, for a slot's label ("0.50 s ·
   *  mono", or why it could not load it); '' until it is loaded (or
   *  without audio). */
  sampleText(hash: string): string;
}
