// layout.ts — what JavaScript knows about engine.wasm: its exports, the
// manifest the build writes beside it, and how to read the state region.
//
// The state region is runtime/wasm/wasm_main.c's struct AmpState: the engine's
// own region (struct EngineState of runtime/engine/engine.h) at offset 0, with
// `now` moved to the AudioContext's clock, then wasm_main.c's host fields
// (struct AmpHost). Every offset comes from runtime/engine/layout.def through the
// generated module $(B)/gen/web/layout.ts ('@amp/gen/layout'), which C
// pins with static asserts and `make test-layout` checks against the
// compiled structs; nothing here spells a number of that layout. The
// worklet writes the region once per render quantum under one seqlock
// (EngineState's seq); StateView.read() takes a consistent snapshot from
// any thread.

import {
  AMP_HOST,
  AMP_STATE,
  AMP_STATE_BYTES,
  ENGINE_METER,
  ENGINE_STATE,
  ENGINE_STATE_BYTES,
  ENGINE_STATE_VERSION,
  ENGINE_TRACK,
  ENGINE_TRACK_BYTES,
  HOST_MAGIC,
  HOST_VERSION,
  MAX_TRACKS,
  TRACK_FLAG_HEARD,
  TRACK_FLAG_MUTED,
  TRACK_FLAG_SOLOED,
} from '@amp/gen/layout';

/** Frames per render quantum: the AudioWorklet's, and the engine's block. */
export const QUANTUM = 128;

/** EngineTrackState.flags */
export const TRACK_FLAG = { muted: TRACK_FLAG_MUTED, soloed: TRACK_FLAG_SOLOED, heard: TRACK_FLAG_HEARD } as const;

/** Byte offsets of the engine's fields (EngineState) and of the host's
 *  (AmpHost) in the state region. */
const ENGINE_OFFSET = AMP_STATE.engine;
const HOST_OFFSET = AMP_STATE.host;
/** Bytes of one element of the typed arrays that read the region. */
const WORD = Uint32Array.BYTES_PER_ELEMENT;
const DOUBLE = Float64Array.BYTES_PER_ELEMENT;

/** Byte offset of track `id`'s entry (EngineTrackState) in the region. */
function trackOffset(id: number): number {
  return ENGINE_OFFSET + ENGINE_STATE.tracks + ENGINE_TRACK_BYTES * id;
}

/** The track the page plays (an instrument track made by amp_init). */
export const PAGE_TRACK = 0;

/** The functions engine.wasm exports (runtime/wasm/wasm_main.c). Pointers are
 *  byte addresses in the shared memory. */
export interface EngineExports {
  _initialize?: () => void;
  amp_init(sampleRate: number): number;
  amp_error(): number;
  amp_command_ring(): number;
  amp_state_region(): number;
  amp_output(channel: number): number;
  amp_scratch(): number;
  amp_registry_json(): number;
  amp_registry_count(): number;
  amp_unity_gain_db(): number;
  amp_select(index: number): number;
  amp_select_name(): number;
  amp_param_now(param: number, value: number): number;
  amp_settle(): number;
  amp_set_time(frames: number): void;
  amp_time(): number;
  amp_note_on(offset: number, noteId: number, key: number, velocity: number): number;
  amp_note_off(offset: number, noteId: number): number;
  amp_set_param(offset: number, param: number, value: number): number;
  amp_process(frames: number): number;
  amp_refill(): number;
  amp_sample_new(channels: number, frames: number): number;
  amp_sample_data(sample: number, channel: number): number;
  amp_sample_park(sample: number): number;
  /** A WAV file's bytes (at amp_alloc'd memory) decoded and resampled to
   *  the engine's rate by amp render's C, parked: the handle, or -1
   *  (amp_error); its frames and channels after it. */
  amp_sample_wav(bytes: number, length: number): number;
  amp_sample_wav_frames(): number;
  amp_sample_wav_channels(): number;
  amp_alloc(bytes: number): number;
  amp_free(pointer: number): void;
  amp_limits_json(): number;
}

/** One param of a patch, from the metadata ampc writes (emit_json.c). */
export interface ParamInfo {
  index: number;
  name: string;
  default: number;
  min: number;
  max: number;
  step: number;
  unit: string;
  smooth: number;
}

/** A patch's metadata document (ampc's NAME.json). */
export interface PatchMeta {
  name: string;
  kind: 'instrument' | 'effect' | string;
  voices: number;
  inputs: string[];
  outputs: string[];
  params: ParamInfo[];
  /** Sample slots (patch ABI 3), in the descriptor's order: bind_sample's slot. */
  samples?: string[];
}

/** One entry of engine.json; `index` is the patch's index in the engine's
 *  registry (SET_INSTRUMENT takes index + 1). */
export interface ManifestPatch {
  index: number;
  source: string;
  unit: string;
  meta: PatchMeta;
}

/** engine.json, written by web/gen_patches.sh beside engine.wasm. */
export interface EngineManifest {
  memoryPages: number;
  patches: ManifestPatch[];
}

/** Where the engine put things, sent by the worklet once it is ready. */
export interface EngineLayout {
  ring: number;
  state: number;
  sampleRate: number;
  /** Track 0's fader: the gain (dB) at which a centred track passes a
   *  stereo patch unchanged (the pan law's -3 dB made up; wasm_main.c).
   *  The page's "0 dB" for a track fader. */
  unityGainDb: number;
}

/** One track of the snapshot (EngineTrackState). */
export interface TrackSnapshot {
  id: number;
  kind: number;           // TrackKind + 1 (engine.h: 1 instrument, 2 audio, 3 bus)
  flags: number;          // TRACK_FLAG
  faulted: number;
  voices: number;
  peak: [number, number];
  rms: [number, number];
  faults: number;
  notesRefused: number;
  /** Samples past full scale after the fader since the track was added
   *  (sticky: a reader remembers the count it acknowledged). */
  clips: number;
}

/** A consistent copy of the state region. Meters are the engine's: peak and
 *  RMS over its last complete 50 ms window, after the fader. */
export interface EngineSnapshot {
  quanta: number;
  /** Context frame after the last quantum (the engine's clock + the offset
   *  amp_set_time set): the time commands are stamped in. */
  frames: number;
  /** The engine's own clock: samples rendered since amp_init. */
  engineFrames: number;
  playing: boolean;
  playhead: number;
  beat: number;
  tempo: number;
  /** The playhead under the engine's signature map: bar from 0, beats of
   *  the signature (4 / sigDen quarter notes) into it, the signature. */
  bar: number;
  barBeat: number;
  sigNum: number;
  sigDen: number;
  /** Samples of the master past full scale since the engine started
   *  (sticky, as a track's clips). */
  masterClips: number;
  /** Samples (per channel) the master's safety limit clipped to +-4.0
   *  (+12 dBFS) since the engine started (sticky; state version 3). */
  masterLimited: number;
  /** The master meter. */
  peak: [number, number];
  rms: [number, number];
  /** Registry index of track 0's instrument, -1 none. */
  patch: number;
  /** Track 0's voices and refused notes. */
  voices: number;
  notesRefused: number;
  /** The tracks that exist. */
  tracks: TrackSnapshot[];
  commandsApplied: number;
  commandHash: number;
  commandsRejected: number;
  commandsRefused: number;
  pending: number;
  ringErrors: number;
  waits: number;
  faults: number;
  engineRefusals: number;
  nodesRefused: number;
  buffersRefused: number;
  sampleRate: number;
  cpuLoad: number;
}

/** Views of the state region at byte address `base` of `buffer`. */
export class StateView {
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly f32: Float32Array;
  private readonly f64: Float64Array;

  constructor(buffer: ArrayBufferLike, base: number) {
    if (base % DOUBLE !== 0) throw new Error(`the state region at ${base} is not ${DOUBLE}-byte aligned`);
    this.u32 = new Uint32Array(buffer, base, AMP_STATE_BYTES / WORD);
    this.i32 = new Int32Array(buffer, base, AMP_STATE_BYTES / WORD);
    this.f32 = new Float32Array(buffer, base, AMP_STATE_BYTES / WORD);
    this.f64 = new Float64Array(buffer, base, AMP_STATE_BYTES / DOUBLE);
  }

  /** True once amp_init has laid the region out. */
  valid(): boolean {
    return this.word(HOST_OFFSET + AMP_HOST.magic) === HOST_MAGIC &&
      this.word(HOST_OFFSET + AMP_HOST.version) === HOST_VERSION &&
      this.word(ENGINE_OFFSET + ENGINE_STATE.version) === ENGINE_STATE_VERSION &&
      this.word(ENGINE_OFFSET + ENGINE_STATE.size) === ENGINE_STATE_BYTES;
  }

  /** A snapshot, or null if the engine kept writing during every try. */
  read(): EngineSnapshot | null {
    for (let attempt = 0; attempt < 8; attempt++) {
      const before = Atomics.load(this.u32, (ENGINE_OFFSET + ENGINE_STATE.seq) / WORD);
      if (before & 1) continue;
      const s = this.fields();
      if (Atomics.load(this.u32, (ENGINE_OFFSET + ENGINE_STATE.seq) / WORD) === before) return s;
    }
    return null;
  }

  /** The worklet's own field: its measured share of the quantum's time. */
  setCpuLoad(load: number): void {
    this.f32[(HOST_OFFSET + AMP_HOST.cpuLoad) / WORD] = load;
  }

  private word(offset: number): number {
    return this.u32[offset / WORD] ?? 0;
  }

  private int(offset: number): number {
    return this.i32[offset / WORD] ?? 0;
  }

  private float(offset: number): number {
    return this.f32[offset / WORD] ?? 0;
  }

  private double(offset: number): number {
    return this.f64[offset / DOUBLE] ?? 0;
  }

  /** An i64 as a number (exact below 2^53): the low word first. */
  private int64(offset: number): number {
    return this.int(offset + WORD) * 4294967296 + this.word(offset);
  }

  /** An f32[2] (left, right). */
  private pair(offset: number): [number, number] {
    return [this.float(offset), this.float(offset + WORD)];
  }

  private track(id: number): TrackSnapshot {
    const at = trackOffset(id);
    const meter = at + ENGINE_TRACK.meter;
    return {
      id,
      kind: this.word(at + ENGINE_TRACK.kind),
      flags: this.word(at + ENGINE_TRACK.flags),
      faulted: this.word(at + ENGINE_TRACK.faulted),
      voices: this.word(at + ENGINE_TRACK.voices),
      peak: this.pair(meter + ENGINE_METER.peak),
      rms: this.pair(meter + ENGINE_METER.rms),
      faults: this.word(at + ENGINE_TRACK.faults),
      notesRefused: this.word(at + ENGINE_TRACK.notesRefused),
      clips: this.word(at + ENGINE_TRACK.clips),
    };
  }

  private fields(): EngineSnapshot {
    const h = HOST_OFFSET;
    const tracks: TrackSnapshot[] = [];
    const n = Math.min(this.word(ENGINE_OFFSET + ENGINE_STATE.maxTracks), MAX_TRACKS);
    for (let id = 0; id < n; id++)
      if (this.word(trackOffset(id) + ENGINE_TRACK.kind) !== 0) tracks.push(this.track(id));
    const master = ENGINE_OFFSET + ENGINE_STATE.master;
    const page = this.track(PAGE_TRACK);
    return {
      quanta: this.word(h + AMP_HOST.quanta),
      frames: this.int64(ENGINE_OFFSET + ENGINE_STATE.now),
      engineFrames: this.int64(h + AMP_HOST.engineNow),
      playing: this.word(ENGINE_OFFSET + ENGINE_STATE.playing) !== 0,
      playhead: this.int64(ENGINE_OFFSET + ENGINE_STATE.playhead),
      beat: this.double(ENGINE_OFFSET + ENGINE_STATE.beat),
      tempo: this.double(ENGINE_OFFSET + ENGINE_STATE.tempo),
      bar: this.word(ENGINE_OFFSET + ENGINE_STATE.bar),
      barBeat: this.double(ENGINE_OFFSET + ENGINE_STATE.barBeat),
      sigNum: this.word(ENGINE_OFFSET + ENGINE_STATE.sigNum),
      sigDen: this.word(ENGINE_OFFSET + ENGINE_STATE.sigDen),
      masterClips: this.word(ENGINE_OFFSET + ENGINE_STATE.masterClips),
      masterLimited: this.word(ENGINE_OFFSET + ENGINE_STATE.masterLimited),
      peak: this.pair(master + ENGINE_METER.peak),
      rms: this.pair(master + ENGINE_METER.rms),
      patch: this.int(h + AMP_HOST.patch),
      voices: page.voices,
      notesRefused: page.notesRefused,
      tracks,
      commandsApplied: this.word(h + AMP_HOST.commandsApplied),
      commandHash: this.word(h + AMP_HOST.commandHash),
      commandsRejected: this.word(h + AMP_HOST.commandsRejected),
      commandsRefused: this.word(h + AMP_HOST.commandsRefused),
      pending: this.word(h + AMP_HOST.pending),
      ringErrors: this.word(h + AMP_HOST.ringErrors),
      waits: this.word(h + AMP_HOST.waits),
      faults: this.word(h + AMP_HOST.faults),
      engineRefusals: this.word(h + AMP_HOST.engineRefusals),
      nodesRefused: this.word(ENGINE_OFFSET + ENGINE_STATE.nodesRefused),
      buffersRefused: this.word(ENGINE_OFFSET + ENGINE_STATE.buffersRefused),
      sampleRate: this.word(ENGINE_OFFSET + ENGINE_STATE.sampleRate),
      cpuLoad: this.float(h + AMP_HOST.cpuLoad),
    };
  }
}
