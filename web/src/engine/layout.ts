// layout.ts — what JavaScript knows about engine.wasm: its exports, the
// manifest the build writes beside it, and the state region's byte layout.
//
// The state region is runtime/wasm_main.c's struct AmpState: the engine's
// own region (struct EngineState of runtime/engine.h, whose offsets are
// pinned there and in engine.c by static asserts) at offset 0, with `now`
// moved to the AudioContext's clock, then wasm_main.c's host fields at
// offset 5248 (struct AmpHost). STATE, TRACK and HOST below must say the
// same. The worklet writes it once per render quantum under one seqlock
// (EngineState's seq); StateView.read() takes a consistent snapshot from
// any thread.

/** Frames per render quantum: the AudioWorklet's, and the engine's block. */
export const QUANTUM = 128;

/** Byte offsets of the engine's fields (EngineState, runtime/engine.h). */
export const STATE = {
  seq: 0,
  version: 4,
  size: 8,
  playing: 12,
  now: 16,            // i64: context frame after the last quantum
  playhead: 24,       // i64: samples
  beat: 32,           // f64
  tempo: 40,          // f64
  sigNum: 48,
  sigDen: 52,
  loopEnabled: 56,
  sampleRate: 60,     // u32, whole Hz
  loopStart: 64,      // f64, beats
  loopEnd: 72,        // f64
  masterPeak: 80,     // f32 x2
  masterRms: 88,      // f32 x2
  cpuNs: 96,          // 0: no clock hook under emscripten
  maxTracks: 100,
  commandsRefused: 104,
  commandsFailed: 108,
  eventsDropped: 112,
  nodesRefused: 116,
  buffersRefused: 120,
  tracks: 128,        // ENGINE_MAX_TRACKS x TRACK_BYTES
} as const;

/** Byte offsets inside one track's entry (EngineTrackState). */
export const TRACK = {
  kind: 0,
  flags: 4,
  faulted: 8,
  voices: 12,
  peak: 16,           // f32 x2
  rms: 24,            // f32 x2
  faults: 32,
  notesRefused: 36,
  cpuNs: 40,          // u32 x9
} as const;

export const TRACK_BYTES = 80;
export const MAX_TRACKS = 64;
export const ENGINE_STATE_BYTES = 128 + TRACK_BYTES * MAX_TRACKS;   // 5248
export const ENGINE_STATE_VERSION = 1;

/** Byte offsets of wasm_main.c's fields (AmpHost), from HOST_OFFSET. */
export const HOST_OFFSET = ENGINE_STATE_BYTES;
export const HOST = {
  magic: 0,
  version: 4,
  quanta: 8,
  patch: 12,          // i32: registry index on track 0, -1 none
  commandsApplied: 16,
  commandHash: 20,
  commandsRejected: 24,
  commandsRefused: 28,
  pending: 32,
  ringErrors: 36,
  cpuLoad: 40,        // f32, written by the worklet only
  waits: 44,
  faults: 48,
  engineRefusals: 52,
  refillErrors: 56,
  engineNow: 64,      // i64: the engine's own clock
} as const;

export const STATE_BYTES = ENGINE_STATE_BYTES + 96;
export const STATE_MAGIC = 0x414d5053; // "AMPS"
export const STATE_VERSION = 2;

/** EngineTrackState.flags */
export const TRACK_FLAG = { muted: 1, soloed: 2, heard: 4 } as const;

/** The track the page plays (an instrument track made by amp_init). */
export const PAGE_TRACK = 0;

/** The functions engine.wasm exports (runtime/wasm_main.c). Pointers are
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
    if (base % 8 !== 0) throw new Error(`the state region at ${base} is not 8-byte aligned`);
    this.u32 = new Uint32Array(buffer, base, STATE_BYTES / 4);
    this.i32 = new Int32Array(buffer, base, STATE_BYTES / 4);
    this.f32 = new Float32Array(buffer, base, STATE_BYTES / 4);
    this.f64 = new Float64Array(buffer, base, STATE_BYTES / 8);
  }

  /** True once amp_init has laid the region out. */
  valid(): boolean {
    return this.word(HOST_OFFSET + HOST.magic) === STATE_MAGIC &&
      this.word(HOST_OFFSET + HOST.version) === STATE_VERSION &&
      this.word(STATE.version) === ENGINE_STATE_VERSION && this.word(STATE.size) === ENGINE_STATE_BYTES;
  }

  /** A snapshot, or null if the engine kept writing during every try. */
  read(): EngineSnapshot | null {
    for (let attempt = 0; attempt < 8; attempt++) {
      const before = Atomics.load(this.u32, STATE.seq / 4);
      if (before & 1) continue;
      const s = this.fields();
      if (Atomics.load(this.u32, STATE.seq / 4) === before) return s;
    }
    return null;
  }

  /** The worklet's own field: its measured share of the quantum's time. */
  setCpuLoad(load: number): void {
    this.f32[(HOST_OFFSET + HOST.cpuLoad) / 4] = load;
  }

  private word(offset: number): number {
    return this.u32[offset / 4] ?? 0;
  }

  private int(offset: number): number {
    return this.i32[offset / 4] ?? 0;
  }

  private float(offset: number): number {
    return this.f32[offset / 4] ?? 0;
  }

  private double(offset: number): number {
    return this.f64[offset / 8] ?? 0;
  }

  /** An i64 as a number (exact below 2^53). */
  private int64(offset: number): number {
    return this.int(offset + 4) * 4294967296 + this.word(offset);
  }

  private track(id: number): TrackSnapshot {
    const at = STATE.tracks + TRACK_BYTES * id;
    return {
      id,
      kind: this.word(at + TRACK.kind),
      flags: this.word(at + TRACK.flags),
      faulted: this.word(at + TRACK.faulted),
      voices: this.word(at + TRACK.voices),
      peak: [this.float(at + TRACK.peak), this.float(at + TRACK.peak + 4)],
      rms: [this.float(at + TRACK.rms), this.float(at + TRACK.rms + 4)],
      faults: this.word(at + TRACK.faults),
      notesRefused: this.word(at + TRACK.notesRefused),
    };
  }

  private fields(): EngineSnapshot {
    const h = HOST_OFFSET;
    const tracks: TrackSnapshot[] = [];
    const n = Math.min(this.word(STATE.maxTracks), MAX_TRACKS);
    for (let id = 0; id < n; id++)
      if (this.word(STATE.tracks + TRACK_BYTES * id + TRACK.kind) !== 0) tracks.push(this.track(id));
    const page = this.track(PAGE_TRACK);
    return {
      quanta: this.word(h + HOST.quanta),
      frames: this.int64(STATE.now),
      engineFrames: this.int64(h + HOST.engineNow),
      playing: this.word(STATE.playing) !== 0,
      playhead: this.int64(STATE.playhead),
      beat: this.double(STATE.beat),
      tempo: this.double(STATE.tempo),
      peak: [this.float(STATE.masterPeak), this.float(STATE.masterPeak + 4)],
      rms: [this.float(STATE.masterRms), this.float(STATE.masterRms + 4)],
      patch: this.int(h + HOST.patch),
      voices: page.voices,
      notesRefused: page.notesRefused,
      tracks,
      commandsApplied: this.word(h + HOST.commandsApplied),
      commandHash: this.word(h + HOST.commandHash),
      commandsRejected: this.word(h + HOST.commandsRejected),
      commandsRefused: this.word(h + HOST.commandsRefused),
      pending: this.word(h + HOST.pending),
      ringErrors: this.word(h + HOST.ringErrors),
      waits: this.word(h + HOST.waits),
      faults: this.word(h + HOST.faults),
      engineRefusals: this.word(h + HOST.engineRefusals),
      nodesRefused: this.word(STATE.nodesRefused),
      buffersRefused: this.word(STATE.buffersRefused),
      sampleRate: this.word(STATE.sampleRate),
      cpuLoad: this.float(h + HOST.cpuLoad),
    };
  }
}
