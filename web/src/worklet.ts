// worklet.ts — the AudioWorkletProcessor that runs engine.wasm.
//
// Loaded with audioWorklet.addModule('worklet.js'). The page creates the
// node with processorOptions { module, memory, clock, limits }: the
// compiled engine, the shared memory it imports, the CPU clock's buffer
// and the limits the page sized the engine for (engine/client.ts
// engineSizing). The constructor instantiates the engine, initialises it
// (amp_init_sized with the limits, or amp_init's fixed sizes without:
// the multi-track engine, ready nodes of every patch, track 0) and tells
// the page (port message 'ready') where the command ring and the state
// region are and the limits the engine reports (amp_limits_json). process() then does, per
// 128-frame quantum, only fixed work: amp_process() (which drains the
// command ring and renders with every command at its sample), copy the
// output out, then amp_refill() — the engine's control side, after the
// render: it frees what the engine handed back and makes ready nodes for
// those taken, from the engine's pools only (no malloc). No allocation and
// no per-sample JavaScript: the copies are TypedArray.set over views made
// once (a shared memory that grows keeps its old views valid: only a WAV
// decode, between quanta, may grow it). The engine has no
// live audio input (audio comes from samples on audio tracks), so the node
// has no inputs.
//
// WAV files: the page posts { type: 'wav', id, bytes }; between quanta the
// worklet hands the bytes to amp_sample_wav (decoded and resampled by the
// C of amp render, parked) and answers { type: 'wav', id, handle, frames,
// channels, message } for the page's load_sample command.
//
// Samples: the page posts { type: 'sample', id, channels } (Float32Arrays
// at the engine's rate); the worklet, between quanta, takes a sample from
// the engine's sample pool, copies the channels in and parks it, and
// answers { type: 'sample', id, handle } (handle -1: the pool or the
// table is full) for the page's load_sample command.
//
// Engine time: before the first quantum the engine's clock is set to the
// context's currentFrame (amp_set_time: wasm_main.c keeps the offset to
// the engine's own sample count), so the page stamps commands in context
// frames.
//
// CPU load: the engine has no clock hook under emscripten, so the worklet
// times each amp_process + amp_refill itself and writes the share of real
// time they take (busy time over the audio time rendered, averaged over
// about a quarter of a second) into the state region's cpu_load. The
// worklet's scope has no `performance`, and Date.now() counts whole
// milliseconds (a readout in steps of 0.37 %), so the page gives it a
// worker that times each quantum with its performance.now()
// (engine/client.ts FineClock): the worklet stores a counter and notifies
// at the start and the end of its work, and copies the worker's load.

import { QUANTUM, StateView, type EngineExports } from './engine/layout';
import type { EngineLimits } from './engine/limits';
import { readCString, startEngine } from './engine/wasm';
import { isModuleRequest, loadModuleRequest, type ModuleHostExports } from './engine/modules';

// The AudioWorkletGlobalScope, which TypeScript's DOM library does not
// describe.
declare const sampleRate: number;
declare const currentFrame: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: AudioWorkletNodeOptions);
}
declare function registerProcessor(name: string, processor: new (options: AudioWorkletNodeOptions) => AudioWorkletProcessor): void;

export interface EngineProcessorOptions {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** engine/client.ts FineClock's buffer: f64[0] a performance.now() a
   *  worker keeps current; null: Date.now(). */
  clock?: SharedArrayBuffer | null;
  /** amp_init_sized's limits (engine/limits.ts, chosen by client.ts
   *  engineSizing for the project); null: amp_init's fixed sizes. */
  limits?: EngineLimits | null;
}

/** A sample for the engine's pool (see above). */
export interface SampleRequest {
  type: 'sample';
  id: number;
  channels: Float32Array[];
}

/** A WAV file for the engine's pool, decoded and resampled there by the
 *  C of `amp render` (wasm_main.c amp_sample_wav); answered with
 *  { type: 'wav', id, handle, frames, channels, message }. */
export interface WavRequest {
  type: 'wav';
  id: number;
  bytes: ArrayBuffer;
}

const CHANNELS = 2;
const LOAD_WINDOW_QUANTA = 96;   // ~0.25 s at 48 kHz

// The scope has no `performance` in Chromium; Date.now() counts whole
// milliseconds. When the page gives a FineClock (engine/client.ts), a
// worker times the quanta instead (the worklet only marks their start and
// end in shared memory).
const coarseClock: () => number =
  typeof performance !== 'undefined' ? () => performance.now() : () => Date.now();
/** FineClock's words (engine/client.ts CLOCK). */
const CLOCK_START = 1;
const CLOCK_DONE = 2;
const CLOCK_LOAD = 2;
const CLOCK_TIMED = 4;

class EngineProcessor extends AudioWorkletProcessor {
  private engine: EngineExports | null = null;
  private state: StateView | null = null;
  private memory: WebAssembly.Memory | null = null;
  private outputs: Float32Array[] = [];
  private started = false;
  private busyMs = 0;
  private windowQuanta = 0;
  private clockWords: Int32Array | null = null;
  private clockLoad: Float64Array | null = null;
  private quantum = 0;
  private lastTimed = 0;

  constructor(options: AudioWorkletNodeOptions) {
    super(options);
    try {
      const { module, memory, clock, limits } = options.processorOptions as EngineProcessorOptions;
      if (clock) {
        this.clockWords = new Int32Array(clock, 0, 4);
        this.clockLoad = new Float64Array(clock, 0, 6);
      }
      const engine = startEngine(module, memory, sampleRate, limits ?? undefined);
      const buffer = memory.buffer;
      for (let c = 0; c < CHANNELS; c++)
        this.outputs.push(new Float32Array(buffer, engine.amp_output(c), QUANTUM));
      this.state = new StateView(buffer, engine.amp_state_region());
      this.engine = engine;
      this.memory = memory;
      this.port.onmessage = (event: MessageEvent) => this.message(event.data as SampleRequest | WavRequest);
      this.port.postMessage({
        type: 'ready',
        layout: { ring: engine.amp_command_ring(), state: engine.amp_state_region(), sampleRate,
                  unityGainDb: engine.amp_unity_gain_db() },
        // What the engine was made with, as it reports it.
        limits: readCString(memory, engine.amp_limits_json()),
      });
    } catch (e) {
      this.port.postMessage({ type: 'error', message: String(e) });
    }
  }

  /** A sample from the page: into the engine's pool, parked for a
   *  load_sample command. */
  private message(request: SampleRequest | WavRequest): void {
    const engine = this.engine;
    const memory = this.memory;
    if (!engine || !memory) return;
    // A patch module (engine/modules.ts): loaded here, between quanta.
    if (isModuleRequest(request)) {
      this.port.postMessage(loadModuleRequest(engine as unknown as ModuleHostExports, memory, request));
      return;
    }
    if (request.type === 'wav') {
      this.wav(engine, memory, request);
      return;
    }
    if (request.type !== 'sample') return;
    const frames = request.channels[0]?.length ?? 0;
    let handle = -1;
    const sample = engine.amp_sample_new(request.channels.length, frames);
    if (sample) {
      request.channels.forEach((data, c) => {
        new Float32Array(memory.buffer, engine.amp_sample_data(sample, c), frames).set(data.subarray(0, frames));
      });
      handle = engine.amp_sample_park(sample);
    }
    this.port.postMessage({ type: 'sample', id: request.id, handle });
  }

  /** A WAV file into the pool (WavRequest): between quanta, never in
   *  process(); the decode allocates from the module's heap. */
  private wav(engine: EngineExports, memory: WebAssembly.Memory, request: WavRequest): void {
    let handle = -1;
    let message = '';
    const at = engine.amp_alloc(Math.max(1, request.bytes.byteLength));
    if (at) {
      new Uint8Array(memory.buffer).set(new Uint8Array(request.bytes), at);
      handle = engine.amp_sample_wav(at, request.bytes.byteLength);
      engine.amp_free(at);
      if (handle < 0) message = readCString(memory, engine.amp_error());
    } else {
      message = 'no memory for the file';
    }
    this.port.postMessage({ type: 'wav', id: request.id, handle, frames: handle < 0 ? 0 : engine.amp_sample_wav_frames(),
                            channels: handle < 0 ? 0 : engine.amp_sample_wav_channels(), message });
  }

  process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const engine = this.engine;
    const out = outputs[0];
    if (!engine || !out) return true;
    const words = this.clockWords;
    if (words) {
      Atomics.store(words, CLOCK_START, ++this.quantum);
      Atomics.notify(words, CLOCK_START, 1);
    }
    const t0 = coarseClock();
    // Follow the audio clock every quantum, not only the first: when the
    // browser skips blocks (a late callback), the context's frame jumps and
    // the engine must jump with it, or every timestamped command from then
    // on would sound late by the gap.
    if (!this.started || engine.amp_time() !== currentFrame) {
      engine.amp_set_time(currentFrame);
      this.started = true;
    }
    engine.amp_process(QUANTUM);
    for (let c = 0; c < out.length; c++) {
      const src = this.outputs[c < CHANNELS ? c : CHANNELS - 1];
      const dst = out[c];
      if (src && dst) dst.set(src);
    }
    // The control side, after the quantum is out: not part of the render.
    engine.amp_refill();
    if (words) {
      Atomics.store(words, CLOCK_DONE, this.quantum);
      Atomics.notify(words, CLOCK_DONE, 1);
    }
    this.account(coarseClock() - t0);
    return true;
  }

  private account(ms: number): void {
    this.busyMs += ms;
    if (++this.windowQuanta < LOAD_WINDOW_QUANTA) return;
    const audioMs = (this.windowQuanta * QUANTUM * 1000) / sampleRate;
    // The worker's load while it keeps timing quanta; whole milliseconds
    // when it does not (no worker, or it stopped).
    const timed = this.clockLoad?.[CLOCK_TIMED] ?? 0;
    const fine = this.clockLoad !== null && timed > this.lastTimed;
    this.lastTimed = timed;
    this.state?.setCpuLoad(fine ? this.clockLoad?.[CLOCK_LOAD] ?? 0 : this.busyMs / audioMs);
    this.busyMs = 0;
    this.windowQuanta = 0;
  }
}

registerProcessor('amp-engine', EngineProcessor);
