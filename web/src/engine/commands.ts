// commands.ts — the commands this page sends, written into the command ring.
//
// The encoding is the schema's (runtime/engine/commands.def): the generated
// encoder $(B)/gen/web/commands.ts writes each record exactly as the
// engine's cmd_decode reads it. This module is the one place the page
// touches that encoder, so the rest of the app deals in "note on at frame
// t", not in bytes. The engine is the multi-track one (runtime/engine_*.c,
// commands mapped by runtime/engine/engine_commands.c); the page plays track 0, an
// instrument track wasm_main.c makes at init, so notes, params and the
// instrument choice default to it. The other commands (tracks, inserts,
// faders, transport, samples and regions) take their track.

import {
  COMMAND_SIZE_MAX,
  NotePriority,
  TrackKind,
  VoiceMode,
  encodeAddInsert,
  encodeAddTrack,
  encodeAutomationLane,
  encodeAutomationPoint,
  encodeBindSample,
  encodeClipNote,
  encodeClipNotes,
  encodeFaderGain,
  encodeLoopBeats,
  encodeMetronome,
  encodePlaceClipBeats,
  encodePlaceRegionBeats,
  encodeRemovePlacement,
  encodeSeekBeat,
  encodeSetSendDb,
  encodeSetTrackPosition,
  encodeSettle,
  encodeTempoBpm,
  encodeTempoChangeBeat,
  encodeTimeSignatureChange,
  encodeAllNotesOff,
  encodeLoadSample,
  encodeNoteOff,
  encodeNoteOn,
  encodePlaceRegion,
  encodeLoop,
  encodePlay,
  encodeRemoveInsert,
  encodeRemoveRegion,
  encodeRemoveTrack,
  encodeSeek,
  encodeSetGain,
  encodeSetInstrument,
  encodeSetMasterGain,
  encodeSetMute,
  encodeSetPan,
  encodeSetParam,
  encodeSetSend,
  encodeSetSolo,
  encodeSetVoiceMode,
  encodeStop,
  encodeTempo,
  encodeTempoChange,
  encodeTimeSignature,
  encodeSwapPatch,
} from '@amp/gen/commands';
import { PAGE_TRACK } from './layout';
import type { RingWriter } from './ring';

export { NotePriority, TrackKind, VoiceMode };

const INSTRUMENT_SLOT = 0;

export class CommandSender {
  private readonly scratch = new Uint8Array(COMMAND_SIZE_MAX);
  private readonly view = new DataView(this.scratch.buffer);
  private readonly ring: RingWriter;
  /** FNV-1a of every record written, in order: the engine keeps the same
   *  hash of what it applied (state region, command_hash). */
  hash = 0x811c9dc5;
  sent = 0;

  constructor(ring: RingWriter) {
    this.ring = ring;
  }

  /** Start a note at engine time `time` (0: as soon as possible). */
  noteOn(time: number, noteId: number, key: number, velocity: number, track = PAGE_TRACK): boolean {
    return this.send(encodeNoteOn(this.view, 0, time, track, noteId, key, velocity));
  }

  noteOff(time: number, noteId: number, track = PAGE_TRACK): boolean {
    return this.send(encodeNoteOff(this.view, 0, time, track, noteId));
  }

  /** Param `param` of a track's slot (0: its instrument, k: insert k), in
   *  its unit. */
  setParam(time: number, param: number, value: number, track = PAGE_TRACK, slot = INSTRUMENT_SLOT): boolean {
    return this.send(encodeSetParam(this.view, 0, time, track, slot, param, value));
  }

  /** Make registry entry `index` the track's instrument (-1: none): a ready
   *  node of that patch, its params at their defaults. */
  selectPatch(time: number, index: number, track = PAGE_TRACK): boolean {
    return this.send(encodeSetInstrument(this.view, 0, time, track, index + 1));
  }

  /** Hot swap (commands.def swap_patch): the patch in `slot` (0 the
   *  instrument, k the insert at position k) becomes patch `index`, keeping
   *  the sound: params, voices and matching state carry over. */
  swapPatch(time: number, index: number, track = PAGE_TRACK, slot = INSTRUMENT_SLOT): boolean {
    return this.send(encodeSwapPatch(this.view, 0, time, track, slot, index + 1));
  }

  /** Release every sounding note of every track (releases ring out). */
  allNotesOff(time: number): boolean {
    return this.send(encodeAllNotesOff(this.view, 0, time, 0, true));
  }

  /** The transport: start from the playhead, stop (notes released). */
  play(time: number): boolean {
    return this.send(encodePlay(this.view, 0, time));
  }

  stop(time: number): boolean {
    return this.send(encodeStop(this.view, 0, time));
  }

  addTrack(time: number, track: number, kind: TrackKind): boolean {
    return this.send(encodeAddTrack(this.view, 0, time, track, kind));
  }

  /** Registry entry `index` as an insert of the track, at `position` (1 =
   *  first). */
  addInsert(time: number, track: number, position: number, index: number): boolean {
    return this.send(encodeAddInsert(this.view, 0, time, track, position, index + 1));
  }

  /** A track's fader gain in the engine's dB (the page's 0 dB is
   *  EngineLayout.unityGainDb). */
  setGain(time: number, track: number, db: number): boolean {
    return this.send(encodeSetGain(this.view, 0, time, track, db));
  }

  /** How an instrument track gives its notes voices; `glide` (seconds) is
   *  the legato glide's time constant. */
  setVoiceMode(time: number, track: number, mode: VoiceMode, priority: NotePriority, glide = 0): boolean {
    return this.send(encodeSetVoiceMode(this.view, 0, time, track, mode, priority, glide));
  }

  /** Hand a parked sample (EngineClient.loadSample's handle) to the engine
   *  under `sample`. */
  loadSample(time: number, sample: number, handle: number, frames: number, rate: number, channels: number): boolean {
    return this.send(encodeLoadSample(this.view, 0, time, sample, handle, frames, rate, channels));
  }

  /** Sample slot `slot` of track's instrument (the index in its patch
   *  metadata's "samples") reads pool sample `sample` (-1: none). */
  bindSample(time: number, track: number, slot: number, sample: number): boolean {
    return this.send(encodeBindSample(this.view, 0, time, track, slot, sample));
  }

  /** Region `region` of an audio track: `sample` from timeline sample
   *  `start`, its frames first .. first + frames - 1 (frames 0: to the
   *  end), at `db`. */
  placeRegion(time: number, start: number, track: number, region: number, sample: number,
              first = 0, frames = 0, db = 0): boolean {
    return this.send(encodePlaceRegion(this.view, 0, time, start, track, region, sample, first, frames, db));
  }

  removeTrack(time: number, track: number): boolean {
    return this.send(encodeRemoveTrack(this.view, 0, time, track));
  }

  /** Remove insert `position` (1 = first) of a track. */
  removeInsert(time: number, track: number, position: number): boolean {
    return this.send(encodeRemoveInsert(this.view, 0, time, track, position));
  }

  /** A track's pan, -1 (left) .. 1 (right). */
  setPan(time: number, track: number, pan: number): boolean {
    return this.send(encodeSetPan(this.view, 0, time, track, pan));
  }

  setMute(time: number, track: number, mute: boolean): boolean {
    return this.send(encodeSetMute(this.view, 0, time, track, mute));
  }

  setSolo(time: number, track: number, solo: boolean): boolean {
    return this.send(encodeSetSolo(this.view, 0, time, track, solo));
  }

  /** The master fader in dB (-144 .. 24). */
  setMasterGain(time: number, db: number): boolean {
    return this.send(encodeSetMasterGain(this.view, 0, time, db));
  }

  /** A post-fader send from a track to a bus at linear `level` (0 .. 4; 0
   *  removes it). */
  setSend(time: number, track: number, bus: number, level: number): boolean {
    return this.send(encodeSetSend(this.view, 0, time, track, bus, level));
  }

  /** Move the playhead to timeline sample `position`. */
  seek(time: number, position: number): boolean {
    return this.send(encodeSeek(this.view, 0, time, position));
  }

  /** The loop region in timeline samples [start, end). */
  loop(time: number, start: number, end: number, enabled: boolean): boolean {
    return this.send(encodeLoop(this.view, 0, time, start, end, enabled));
  }

  /** The base tempo (a float32 bpm, 20 .. 999); clears the tempo changes. */
  tempo(time: number, bpm: number): boolean {
    return this.send(encodeTempo(this.view, 0, time, bpm));
  }

  /** A tempo change at timeline sample `position` (under the map so far). */
  tempoChange(time: number, position: number, bpm: number): boolean {
    return this.send(encodeTempoChange(this.view, 0, time, position, bpm));
  }

  timeSignature(time: number, numerator: number, denominator: number): boolean {
    return this.send(encodeTimeSignature(this.view, 0, time, numerator, denominator));
  }

  removeRegion(time: number, region: number): boolean {
    return this.send(encodeRemoveRegion(this.view, 0, time, region));
  }

  // ---- ring format 3: the project's own terms (runtime/README.md) ----------------

  seekBeat(time: number, beat: number): boolean {
    return this.send(encodeSeekBeat(this.view, 0, time, beat));
  }

  loopBeats(time: number, start: number, end: number, enabled: boolean): boolean {
    return this.send(encodeLoopBeats(this.view, 0, time, start, end, enabled));
  }

  /** The base tempo exactly (1 .. 1000 bpm); clears the tempo changes. */
  tempoBpm(time: number, bpm: number): boolean {
    return this.send(encodeTempoBpm(this.view, 0, time, bpm));
  }

  tempoChangeBeat(time: number, beat: number, bpm: number): boolean {
    return this.send(encodeTempoChangeBeat(this.view, 0, time, beat, bpm));
  }

  timeSignatureChange(time: number, beat: number, numerator: number, denominator: number): boolean {
    return this.send(encodeTimeSignatureChange(this.view, 0, time, beat, numerator, denominator));
  }

  metronome(time: number, gainDb: number, enabled: boolean): boolean {
    return this.send(encodeMetronome(this.view, 0, time, gainDb, enabled));
  }

  /** Reset slot `slot` (0 the instrument, k insert k) to its state after
   *  init with the params as set. */
  settle(time: number, track: number, slot: number): boolean {
    return this.send(encodeSettle(this.view, 0, time, track, slot));
  }

  setTrackPosition(time: number, track: number, position: number): boolean {
    return this.send(encodeSetTrackPosition(this.view, 0, time, track, position));
  }

  /** A fader's gain in dB exactly (track -1: the master). */
  faderGain(time: number, track: number, db: number): boolean {
    return this.send(encodeFaderGain(this.view, 0, time, track, db));
  }

  setSendDb(time: number, track: number, bus: number, db: number, remove = false): boolean {
    return this.send(encodeSetSendDb(this.view, 0, time, track, bus, db, remove));
  }

  /** Automation lane of a slot's param (slot INSERT_LIMIT + 1: the fader);
   *  `count` automationPoint records must follow. */
  automationLane(time: number, track: number, slot: number, param: number, count: number): boolean {
    return this.send(encodeAutomationLane(this.view, 0, time, track, slot, param, count));
  }

  automationPoint(time: number, beat: number, track: number, slot: number, param: number, value: number): boolean {
    return this.send(encodeAutomationPoint(this.view, 0, time, beat, track, slot, param, value));
  }

  /** Replace clip `clip`'s notes; `count` clipNote records must follow. */
  clipNotes(time: number, clip: number, count: number): boolean {
    return this.send(encodeClipNotes(this.view, 0, time, clip, count));
  }

  clipNote(time: number, clip: number, start: number, length: number, velocity: number, key: number): boolean {
    return this.send(encodeClipNote(this.view, 0, time, start, length, clip, velocity, key));
  }

  placeClipBeats(time: number, placement: number, track: number, clip: number, start: number, length: number,
                 loop: number): boolean {
    return this.send(encodePlaceClipBeats(this.view, 0, time, start, length, loop, placement, track, clip));
  }

  removePlacement(time: number, placement: number): boolean {
    return this.send(encodeRemovePlacement(this.view, 0, time, placement));
  }

  placeRegionBeats(time: number, region: number, track: number, sample: number, start: number, offsetSeconds: number,
                   lengthSeconds: number, db: number): boolean {
    return this.send(encodePlaceRegionBeats(this.view, 0, time, start, offsetSeconds, lengthSeconds, region, track,
                                            sample, db));
  }

  private send(length: number): boolean {
    const record = this.scratch.subarray(0, length);
    if (!this.ring.write(record)) return false;
    for (const b of record) this.hash = Math.imul(this.hash ^ b, 16777619) >>> 0;
    this.sent++;
    return true;
  }
}
