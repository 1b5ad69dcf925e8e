// layout.ts — what JavaScript knows about engine.wasm: its exports, the
// manifest the build writes beside it, and the state region's byte layout.
//
// The state region is defined in runtime/wasm_main.c (struct EngineState,
// whose offsets are pinned there by static asserts); STATE below must say
// the same. The engine writes it once per render quantum under a seqlock;
// readState() takes a consistent snapshot from any thread.

/** Frames per render quantum: the AudioWorklet's, and the engine's block. */
export const QUANTUM = 128;

/** Byte offsets of the fields of the state region (EngineState). */
export const STATE = {
  seq: 0,
  magic: 4,
  version: 8,
  quanta: 12,
  framesLo: 16,
  framesHi: 20,
  peak: 24,
  rms: 32,
  patch: 40,
  voices: 44,
  commandsApplied: 48,
  commandHash: 52,
  commandsRejected: 56,
  commandsIgnored: 60,
  notesRefused: 64,
  pending: 68,
  sampleRate: 72,
  cpuLoad: 76,
  ringErrors: 80,
} as const;

export const STATE_BYTES = 96;
export const STATE_MAGIC = 0x414d5053; // "AMPS"
export const STATE_VERSION = 1;

/** The functions engine.wasm exports (runtime/wasm_main.c). Pointers are
 *  byte addresses in the shared memory. */
export interface EngineExports {
  _initialize?: () => void;
  amp_init(sampleRate: number): number;
  amp_error(): number;
  amp_command_ring(): number;
  amp_state_region(): number;
  amp_input(channel: number): number;
  amp_output(channel: number): number;
  amp_scratch(): number;
  amp_registry_json(): number;
  amp_registry_count(): number;
  amp_select(index: number): number;
  amp_select_name(): number;
  amp_set_time(frames: number): void;
  amp_time(): number;
  amp_note_on(offset: number, noteId: number, key: number, velocity: number): number;
  amp_note_off(offset: number, noteId: number): number;
  amp_set_param(offset: number, param: number, value: number): number;
  amp_param_now(param: number, value: number): number;
  amp_settle(): void;
  amp_get_param(param: number): number;
  amp_process(frames: number): number;
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
}

/** A consistent copy of the state region. */
export interface EngineSnapshot {
  quanta: number;
  frames: number;
  peak: [number, number];
  rms: [number, number];
  patch: number;
  voices: number;
  commandsApplied: number;
  commandHash: number;
  commandsRejected: number;
  commandsIgnored: number;
  notesRefused: number;
  pending: number;
  sampleRate: number;
  cpuLoad: number;
  ringErrors: number;
}

/** Views of the state region at byte address `base` of `buffer`. */
export class StateView {
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly f32: Float32Array;

  constructor(buffer: ArrayBufferLike, base: number) {
    this.u32 = new Uint32Array(buffer, base, STATE_BYTES / 4);
    this.i32 = new Int32Array(buffer, base, STATE_BYTES / 4);
    this.f32 = new Float32Array(buffer, base, STATE_BYTES / 4);
  }

  /** True once amp_init has laid the region out. */
  valid(): boolean {
    return this.word(STATE.magic) === STATE_MAGIC && this.word(STATE.version) === STATE_VERSION;
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
    this.f32[STATE.cpuLoad / 4] = load;
  }

  private word(offset: number): number {
    return this.u32[offset / 4] ?? 0;
  }

  private float(offset: number): number {
    return this.f32[offset / 4] ?? 0;
  }

  private fields(): EngineSnapshot {
    return {
      quanta: this.word(STATE.quanta),
      frames: this.word(STATE.framesHi) * 4294967296 + this.word(STATE.framesLo),
      peak: [this.float(STATE.peak), this.float(STATE.peak + 4)],
      rms: [this.float(STATE.rms), this.float(STATE.rms + 4)],
      patch: this.i32[STATE.patch / 4] ?? -1,
      voices: this.word(STATE.voices),
      commandsApplied: this.word(STATE.commandsApplied),
      commandHash: this.word(STATE.commandHash),
      commandsRejected: this.word(STATE.commandsRejected),
      commandsIgnored: this.word(STATE.commandsIgnored),
      notesRefused: this.word(STATE.notesRefused),
      pending: this.word(STATE.pending),
      sampleRate: this.float(STATE.sampleRate),
      cpuLoad: this.float(STATE.cpuLoad),
      ringErrors: this.word(STATE.ringErrors),
    };
  }
}
