// sink.ts — what the sync layer asks of the engine, in the project's own
// terms: tracks by their document id, clips by their ui.id, positions in
// beats, the tempo map as a whole, instruments by registry index. No
// command, sample position or engine slot appears here; ring-sink.ts turns
// these calls into today's ring commands (and is the one file to change
// when the engine takes beat-based commands), RecordingSink keeps them for
// the tests.
//
// Calls are "as soon as possible" (the next quantum), except live notes,
// which may carry the performance.now() time of their key press.
//
// Order contract (engine/sync.ts keeps it): a track is added before
// anything names it and removed after its clips; sends name buses that
// exist; setTrackOrder follows every change of the list's order.

import type {
  Clip,
  Loop,
  Metronome,
  NotePriority,
  PatchRef,
  RegionDoc,
  TempoChange,
  TimeSignatureChange,
  TrackKind,
  VoiceMode,
} from '../doc/project';
import type { ManifestPatch } from './layout';

/** A param by its index in the patch's metadata. */
export interface ParamValue {
  readonly index: number;
  readonly value: number;
}

/** A patch of the engine's registry with param values. */
export interface PatchSpec {
  /** Registry index (engine.json), -1: none (unknown to this engine). */
  readonly patch: number;
  readonly params: readonly ParamValue[];
}

export interface FaderSpec {
  readonly gain_db: number;
  readonly pan: number;
  readonly mute: boolean;
  readonly solo: boolean;
}

export interface SendSpec {
  /** Document id of the bus. */
  readonly bus: number;
  readonly level_db: number;
}

export interface VoiceSpec {
  readonly mode: VoiceMode;
  readonly priority: NotePriority;
  readonly glide_seconds: number;
}

/** An automation lane with its target resolved to indices. */
export interface LaneSpec {
  /** 0 the instrument, k insert k, -1 the fader. */
  readonly slot: number;
  /** Param index; on the fader 0 gain (dB), 1 pan. */
  readonly param: number;
  readonly points: readonly { readonly beat: number; readonly value: number }[];
}

export interface EngineSink {
  /** Remove every track (and so every clip, region and send) and put the
   *  transport at beat 0, stopped: the start of a rebuild. */
  clear(): void;

  setTempoMap(bpm: number, changes: readonly TempoChange[]): void;
  setTimeSignature(num: number, den: number, changes: readonly TimeSignatureChange[]): void;
  /** null: no loop. */
  setLoop(loop: Loop | null): void;
  /** null: off. */
  setMetronome(metronome: Metronome | null): void;
  setMasterGain(db: number): void;

  /** A new, empty track at `position` in the list. */
  addTrack(trackId: number, position: number, kind: TrackKind): void;
  removeTrack(trackId: number): void;
  /** The list's order changed (or a track came or went). */
  setTrackOrder(trackIds: readonly number[]): void;

  /** The instrument and every param the document sets. */
  setInstrument(trackId: number, instrument: PatchSpec): void;
  /** Params of slot 0 (instrument) or k (insert k) that changed. */
  setParams(trackId: number, slot: number, params: readonly ParamValue[]): void;
  /** The whole insert chain, in order. */
  setInserts(trackId: number, inserts: readonly PatchSpec[]): void;
  setVoice(trackId: number, voice: VoiceSpec): void;
  setFader(trackId: number, fader: FaderSpec): void;
  /** Every send of the track. */
  setSends(trackId: number, sends: readonly SendSpec[]): void;
  setAutomation(trackId: number, lanes: readonly LaneSpec[]): void;

  /** Place or replace clip `clipId` on a track (it moves if it was on
   *  another). Its value is the document's (notes from its start, loop). */
  putClip(trackId: number, clipId: string, clip: Clip): void;
  removeClip(clipId: string): void;
  putRegion(trackId: number, regionId: string, region: RegionDoc): void;
  removeRegion(regionId: string): void;
  /** The instrument's sample slots bound (after setInstrument, which
   *  leaves them as they were). */
  setSamples?(trackId: number, samples: readonly SampleBinding[]): void;

  play(): void;
  stop(): void;
  seekBeat(beat: number): void;

  /** A live note (keyboard, MIDI) on a track; `atMs` is the
   *  performance.now() time it was played (omitted: now). */
  noteOn(trackId: number, noteId: number, key: number, velocity: number, atMs?: number): void;
  noteOff(trackId: number, noteId: number, atMs?: number): void;
  /** Release every sounding note of every track. */
  allNotesOff(): void;

  /** Set when the document needs more than the engine was sized for
   *  (RingSink: ids past its limits, a full sample pool): Sync then calls
   *  its onOutgrown, and the client starts a larger engine. */
  readonly outgrown?: boolean;

  /** True when the engine cannot follow a change in place (RingSink: a bus
   *  that now sends to a bus with a lower engine number); the sync layer
   *  then rebuilds everything (reset), which stops the transport. */
  needsRebuild?(): boolean;
}

/** Patch references to the engine's registry. */
export interface PatchRegistry {
  /** Registry index of a patch reference, -1 when this engine lacks it. */
  indexOf(ref: PatchRef | undefined): number;
  /** Index of param `name` of registry patch `patch`, -1 unknown. */
  paramIndex(patch: number, name: string): number;
  /** Index of sample slot `name` (its metadata's "samples") of registry
   *  patch `patch`, -1 unknown. */
  sampleSlot?(patch: number, name: string): number;
}

/** A sample slot of a track's instrument and the asset bound to it (null:
 *  nothing); a project track's "samples" (PROJECT.md). */
export interface SampleBinding {
  readonly slot: number;
  readonly asset: string | null;
}

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return path.slice(slash + 1);
}

/** The registry of engine.json: a reference matches a patch of the same
 *  file name (`epiano.amp`, whatever folder the document names) and, when
 *  it names one, the same unit. */
export function manifestRegistry(patches: readonly ManifestPatch[]): PatchRegistry {
  const params = patches.map((p) => new Map(p.meta.params.map((q) => [q.name, q.index])));
  const samples = patches.map((p) => p.meta.samples ?? []);
  return {
    indexOf(ref) {
      if (ref === undefined) return -1;
      let file: string;
      let unit: string | undefined;
      if (typeof ref === 'string') file = ref;
      else if ('file' in ref) ({ file, unit } = ref);
      else if ('builtin' in ref) ({ builtin: file, unit } = ref);
      else return -1;   // a library patch: this engine has only the built-in registry
      const name = baseName(file);
      const found = patches.find((p) => baseName(p.source) === name && (unit === undefined || p.unit === unit));
      return found ? found.index : -1;
    },
    paramIndex(patch, name) {
      return params[patch]?.get(name) ?? -1;
    },
    sampleSlot(patch, name) {
      return samples[patch]?.indexOf(name) ?? -1;
    },
  };
}

/** The reference a document should hold for registry patch `p`: the
 *  built-in library's path (ampd --library nodes: "epiano.amp"). */
export function patchRefOf(p: ManifestPatch): PatchRef {
  return { builtin: baseName(p.source), unit: p.unit };
}

/** One call a RecordingSink kept: its name and arguments. */
export type SinkCall = readonly [string, ...unknown[]];

/** An EngineSink that keeps every call, for the tests: `calls` in order,
 *  `take()` returns and forgets them. Clips are kept as a short text
 *  (start+length, loop, notes as key@start:length/velocity) so test lists
 *  stay readable and exact. */
export class RecordingSink implements EngineSink {
  calls: SinkCall[] = [];

  take(): SinkCall[] {
    const out = this.calls;
    this.calls = [];
    return out;
  }

  private log(...call: [string, ...unknown[]]): void {
    this.calls.push(call);
  }

  static clipText(clip: Clip): string {
    const notes = clip.notes.map((n) => `${n.key}@${n.start_beat}:${n.length_beats}/${n.velocity ?? 0.8}`).join(' ');
    const loop = clip.loop_beats !== undefined ? ` loop ${clip.loop_beats}` : '';
    return `${clip.start_beat}+${clip.length_beats}${loop} [${notes}]`;
  }

  clear(): void { this.log('clear'); }
  setTempoMap(bpm: number, changes: readonly TempoChange[]): void {
    this.log('tempo', bpm, changes.map((c) => `${c.beat}:${c.bpm}`).join(' '));
  }
  setTimeSignature(num: number, den: number, changes: readonly TimeSignatureChange[]): void {
    this.log('signature', `${num}/${den}`, changes.map((c) => `${c.beat}:${c.num}/${c.den}`).join(' '));
  }
  setLoop(loop: Loop | null): void {
    this.log('loop', loop ? `${loop.enabled ? 'on' : 'off'} ${loop.start_beat}-${loop.end_beat}` : 'none');
  }
  setMetronome(m: Metronome | null): void {
    this.log('metronome', m ? `${m.enabled ? 'on' : 'off'} ${m.gain_db ?? 0}` : 'none');
  }
  setMasterGain(db: number): void { this.log('master', db); }
  addTrack(trackId: number, position: number, kind: TrackKind): void { this.log('addTrack', trackId, position, kind); }
  removeTrack(trackId: number): void { this.log('removeTrack', trackId); }
  setTrackOrder(trackIds: readonly number[]): void { this.log('order', trackIds.join(',')); }
  setInstrument(trackId: number, i: PatchSpec): void {
    this.log('instrument', trackId, i.patch, i.params.map((p) => `${p.index}=${p.value}`).join(' '));
  }
  setParams(trackId: number, slot: number, params: readonly ParamValue[]): void {
    this.log('params', trackId, slot, params.map((p) => `${p.index}=${p.value}`).join(' '));
  }
  setInserts(trackId: number, inserts: readonly PatchSpec[]): void {
    this.log('inserts', trackId, inserts.map((i) => `${i.patch}(${i.params.map((p) => `${p.index}=${p.value}`).join(' ')})`).join(' '));
  }
  setVoice(trackId: number, v: VoiceSpec): void { this.log('voice', trackId, `${v.mode} ${v.priority} ${v.glide_seconds}`); }
  setFader(trackId: number, f: FaderSpec): void {
    this.log('fader', trackId, `${f.gain_db} ${f.pan}${f.mute ? ' mute' : ''}${f.solo ? ' solo' : ''}`);
  }
  setSends(trackId: number, sends: readonly SendSpec[]): void {
    this.log('sends', trackId, sends.map((s) => `${s.bus}:${s.level_db}`).join(' '));
  }
  setAutomation(trackId: number, lanes: readonly LaneSpec[]): void {
    this.log('automation', trackId, lanes.map((l) => `${l.slot}.${l.param}:${l.points.length}`).join(' '));
  }
  putClip(trackId: number, clipId: string, clip: Clip): void { this.log('putClip', trackId, clipId, RecordingSink.clipText(clip)); }
  removeClip(clipId: string): void { this.log('removeClip', clipId); }
  putRegion(trackId: number, regionId: string, r: RegionDoc): void { this.log('putRegion', trackId, regionId, r.start_beat); }
  removeRegion(regionId: string): void { this.log('removeRegion', regionId); }
  play(): void { this.log('play'); }
  stop(): void { this.log('stop'); }
  seekBeat(beat: number): void { this.log('seek', beat); }
  noteOn(trackId: number, noteId: number, key: number, velocity: number, atMs?: number): void {
    this.log('noteOn', trackId, noteId, key, velocity, ...(atMs === undefined ? [] : [atMs]));
  }
  noteOff(trackId: number, noteId: number, atMs?: number): void {
    this.log('noteOff', trackId, noteId, ...(atMs === undefined ? [] : [atMs]));
  }
  allNotesOff(): void { this.log('allNotesOff'); }
}
