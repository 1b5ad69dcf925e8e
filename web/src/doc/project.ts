// project.ts — the project document, typed: the one source of truth of the DAW.
//
// The document IS the engine's project JSON (runtime/formats/PROJECT.md):
// the same field names (snake_case), the same units (beats, dB, the params'
// own units), the same defaults. `JSON.stringify(doc)` is what ampd stores
// and what `amp render` plays; nothing else describes a song. What the
// engine never reads (colours, zoom, the selected track) lives under "ui"
// objects, which PROJECT.md reserves for that.
//
// Documents are immutable values: an edit makes a new document that shares
// every untouched object with the old one (doc/history.ts), so "did this
// track change" is `a !== b`, which the sync layer (engine/sync.ts) and the
// views rely on. Never mutate a document in place.

/** The format version this module writes (PROJECT.md "version"). */
export const PROJECT_VERSION = 2;

/** A patch reference: a file path (native projects), a patch of the built-in
 *  library (`builtin`: its path under ampd's --library folder, as
 *  /api/library names it), or a patch of the owner's library pinned to a
 *  revision. `unit` picks a unit of the file other than its default. */
export type PatchRef =
  | string
  | { readonly file: string; readonly unit?: string }
  | { readonly builtin: string; readonly unit?: string }
  | { readonly library: string; readonly revision: number; readonly unit?: string };

export type TrackKind = 'instrument' | 'audio' | 'bus';
export type VoiceMode = 'poly' | 'mono' | 'legato';
export type NotePriority = 'last' | 'low' | 'high';

export interface NoteDoc {
  readonly key: number;            // MIDI key 0..127
  readonly start_beat: number;     // from the clip's start
  readonly length_beats: number;   // > 0
  readonly velocity?: number;      // 0..1, default 0.8
  readonly ui?: NoteUi;
}
export interface NoteUi { readonly id?: string }

export interface Clip {
  readonly start_beat: number;
  readonly length_beats: number;   // > 0
  /** Version 2: the notes in [0, loop_beats) repeat every loop_beats until
   *  the clip's end. Absent: no loop. */
  readonly loop_beats?: number;
  readonly notes: readonly NoteDoc[];
  readonly ui?: ClipUi;
}
export interface ClipUi { readonly id?: string; readonly name?: string; readonly color?: string }

export interface RegionDoc {
  readonly file?: string;          // native projects
  readonly asset?: string;         // sha256 hex of an ampd asset
  readonly start_beat: number;
  readonly offset_seconds?: number;
  readonly length_seconds?: number;
  readonly gain_db?: number;
  readonly ui?: RegionUi;
}
export interface RegionUi { readonly id?: string; readonly name?: string; readonly color?: string }

/** The audio bound to a sample slot of the instrument (PROJECT.md "Sample
 *  slots"): a WAV by `file` (native projects) or `asset` (the SHA-256 of
 *  an ampd asset), exactly as a region names one. `ui.name` is the file's
 *  name as the user dropped it (the engine never reads it). */
export interface SampleRef {
  readonly file?: string;
  readonly asset?: string;
  readonly ui?: { readonly name?: string };
}

export interface Insert {
  readonly patch: PatchRef;
  readonly params?: Readonly<Record<string, number>>;
  readonly ui?: { readonly id?: string; readonly bypass?: boolean };
}

export interface Fader {
  readonly gain_db?: number;       // -150..24, default 0
  readonly pan?: number;           // -1..1, default 0
  readonly mute?: boolean;
  readonly solo?: boolean;
}

export interface SendDoc { readonly bus: number; readonly level_db: number }

export type AutomationTarget =
  | { readonly slot: number; readonly param: string }
  | { readonly fader: 'gain_db' | 'pan' };
export interface AutomationPoint { readonly beat: number; readonly value: number }
export interface Automation {
  readonly target: AutomationTarget;
  readonly points: readonly AutomationPoint[];
}

export interface TrackDoc {
  readonly id: number;             // unique in the project; sends name buses by it
  readonly name?: string;
  readonly kind: TrackKind;
  readonly patch?: PatchRef;       // instrument tracks
  readonly params?: Readonly<Record<string, number>>;
  readonly voice_mode?: VoiceMode;
  readonly note_priority?: NotePriority;
  readonly glide_seconds?: number;
  readonly inserts?: readonly Insert[];
  readonly fader?: Fader;
  readonly sends?: readonly SendDoc[];
  readonly clips?: readonly Clip[];
  readonly regions?: readonly RegionDoc[];
  readonly automation?: readonly Automation[];
  /** Instrument tracks: the instrument's sample slots (its metadata's
   *  "samples", e.g. "p.wav") bound to audio; a slot not named reads
   *  silence. At most DEFAULTS.maxSampleSlots. An addition to versions 1
   *  and 2 (PROJECT.md): the version stays. */
  readonly samples?: Readonly<Record<string, SampleRef>>;
  readonly ui?: TrackUi;
}
export interface TrackUi { readonly color?: string; readonly height?: number; readonly collapsed?: boolean }

export interface TempoChange { readonly beat: number; readonly bpm: number }
/** Version 2. */
export interface TimeSignatureChange { readonly beat: number; readonly num: number; readonly den: number }
export interface Loop { readonly enabled: boolean; readonly start_beat: number; readonly end_beat: number }
/** Version 2. */
export interface Metronome { readonly enabled: boolean; readonly gain_db?: number; readonly export?: boolean }
/** Version 2: render after the end until the master stays below until_db,
 *  at most max_seconds. */
export interface Tail { readonly until_db?: number; readonly max_seconds?: number }

export interface ProjectDoc {
  readonly version: number;
  readonly sample_rate?: number;
  readonly tempo?: number;
  readonly tempo_changes?: readonly TempoChange[];
  readonly time_signature?: readonly [number, number];
  readonly time_signature_changes?: readonly TimeSignatureChange[];
  readonly length_beats?: number;
  readonly tail_seconds?: number;
  readonly tail?: Tail;
  readonly loop?: Loop;
  readonly metronome?: Metronome;
  readonly master?: { readonly gain_db?: number };
  readonly tracks: readonly TrackDoc[];
  readonly ui?: ProjectUi;
}
export interface ProjectUi {
  readonly name?: string;
  readonly [key: string]: unknown;
}

/** Defaults, as PROJECT.md states them. */
export const DEFAULTS = {
  sampleRate: 48000,
  tempo: 120,
  timeSignature: [4, 4] as const,
  velocity: 0.8,
  maxTracks: 64,
  maxInserts: 8,
  /** ENGINE_SAMPLE_SLOTS: sample slots of an instrument. */
  maxSampleSlots: 8,
  gainDbMin: -150,
  gainDbMax: 24,
} as const;

export function emptyProject(): ProjectDoc {
  return { version: PROJECT_VERSION, sample_rate: DEFAULTS.sampleRate, tempo: DEFAULTS.tempo,
           time_signature: [4, 4], tracks: [] };
}
