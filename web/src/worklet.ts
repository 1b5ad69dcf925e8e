// worklet.ts — the AudioWorkletProcessor that runs engine.wasm.
//
// Loaded with audioWorklet.addModule('worklet.js'). The page creates the
// node with processorOptions { module, memory }: the compiled engine and
// the shared memory it imports. The constructor instantiates the engine,
// initialises it and tells the page (port message 'ready') where the
// command ring and the state region are. process() then does, per
// 128-frame quantum, only fixed work: copy the input into the engine's
// input buffers, amp_process() (which drains the command ring and renders
// with every command at its sample), copy the output out. No allocation and
// no per-sample JavaScript: the copies are TypedArray.set over views made
// once, since the memory never grows.
//
// Engine time: before the first quantum the engine's clock is set to the
// context's currentFrame, so the page stamps commands in context frames.
//
// CPU load: the worklet times each amp_process call and writes the share of
// real time it takes (busy time over the audio time rendered, averaged over
// about a quarter of a second) into the state region's cpu_load.

import { QUANTUM, StateView, type EngineExports } from './engine/layout';
import { startEngine } from './engine/wasm';

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
}

const CHANNELS = 2;
const LOAD_WINDOW_QUANTA = 96;   // ~0.25 s at 48 kHz

const clock: () => number =
  typeof performance !== 'undefined' ? () => performance.now() : () => Date.now();

class EngineProcessor extends AudioWorkletProcessor {
  private engine: EngineExports | null = null;
  private state: StateView | null = null;
  private inputs: Float32Array[] = [];
  private outputs: Float32Array[] = [];
  private started = false;
  private busyMs = 0;
  private windowQuanta = 0;

  constructor(options: AudioWorkletNodeOptions) {
    super(options);
    try {
      const { module, memory } = options.processorOptions as EngineProcessorOptions;
      const engine = startEngine(module, memory, sampleRate);
      const buffer = memory.buffer;
      for (let c = 0; c < CHANNELS; c++) {
        this.inputs.push(new Float32Array(buffer, engine.amp_input(c), QUANTUM));
        this.outputs.push(new Float32Array(buffer, engine.amp_output(c), QUANTUM));
      }
      this.state = new StateView(buffer, engine.amp_state_region());
      this.engine = engine;
      this.port.postMessage({
        type: 'ready',
        layout: { ring: engine.amp_command_ring(), state: engine.amp_state_region(), sampleRate },
      });
    } catch (e) {
      this.port.postMessage({ type: 'error', message: String(e) });
    }
  }

  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const engine = this.engine;
    const out = outputs[0];
    if (!engine || !out) return true;
    const t0 = clock();
    // Follow the audio clock every quantum, not only the first: when the
    // browser skips blocks (a late callback), the context's frame jumps and
    // the engine must jump with it, or every timestamped command from then
    // on would sound late by the gap.
    if (!this.started || engine.amp_time() !== currentFrame) {
      engine.amp_set_time(currentFrame);
      this.started = true;
    }
    const input = inputs[0];
    for (let c = 0; c < CHANNELS; c++) {
      const src = input?.[c] ?? input?.[0];
      const dst = this.inputs[c];
      if (!dst) continue;
      if (src && src.length === QUANTUM) dst.set(src);
      else dst.fill(0);
    }
    engine.amp_process(QUANTUM);
    for (let c = 0; c < out.length; c++) {
      const src = this.outputs[c < CHANNELS ? c : CHANNELS - 1];
      const dst = out[c];
      if (src && dst) dst.set(src);
    }
    this.account(clock() - t0);
    return true;
  }

  private account(ms: number): void {
    this.busyMs += ms;
    if (++this.windowQuanta < LOAD_WINDOW_QUANTA) return;
    const audioMs = (this.windowQuanta * QUANTUM * 1000) / sampleRate;
    this.state?.setCpuLoad(this.busyMs / audioMs);
    this.busyMs = 0;
    this.windowQuanta = 0;
  }
}

registerProcessor('amp-engine', EngineProcessor);
