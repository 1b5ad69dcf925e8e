// client.ts — the engine as the page's main thread sees it.
//
// EngineClient hides the worklet, the shared memory, the command ring and
// the state region behind a few calls: play a note, set a param, choose a
// patch, read the meters. The engine is the multi-track one
// (runtime/engine_*.c); the page plays its track 0, an instrument track going
// to the master (the other tracks and the mixer are there through
// `commands`). Commands go through the ring (CommandSender)
// with a sample timestamp: 0 means "as soon as possible" (the next quantum
// the worklet renders); frameAt() turns a performance.now() time, such as
// a MIDI event's timestamp, into the engine time at which it should sound,
// so that events keep their spacing to the sample.
//
// Threading contract: main thread only. The worklet is the other side of
// the ring and the writer of the state region; the two share nothing else
// but the port, which carries samples to the engine's pool (loadSample).

import { CommandSender } from './commands';
import {
  QUANTUM,
  StateView,
  type EngineLayout,
  type EngineManifest,
  type EngineSnapshot,
} from './layout';
import { RingWriter } from './ring';
import { createEngineMemory } from './wasm';

export interface EngineFiles {
  manifest: EngineManifest;
  module: WebAssembly.Module;
  /** URL of worklet.js. */
  workletUrl: string;
}

/** Fetch engine.json and compile engine.wasm (served as application/wasm,
 *  so it streams). `base` is the folder that holds them. */
export async function loadEngineFiles(base: URL): Promise<EngineFiles> {
  const manifestResponse = await fetch(new URL('engine.json', base));
  if (!manifestResponse.ok) throw new Error(`engine.json: HTTP ${manifestResponse.status}`);
  const manifest = (await manifestResponse.json()) as EngineManifest;
  const module = await WebAssembly.compileStreaming(fetch(new URL('engine.wasm', base)));
  return { manifest, module, workletUrl: new URL('worklet.js', base).href };
}

const loadedWorklets = new WeakMap<BaseAudioContext, Promise<void>>();

function addWorklet(context: BaseAudioContext, url: string): Promise<void> {
  let loading = loadedWorklets.get(context);
  if (!loading) {
    loading = context.audioWorklet.addModule(url);
    loadedWorklets.set(context, loading);
  }
  return loading;
}

export class EngineClient {
  readonly context: BaseAudioContext;
  readonly node: AudioWorkletNode;
  readonly memory: WebAssembly.Memory;
  readonly layout: EngineLayout;
  readonly commands: CommandSender;
  private readonly state: StateView;
  private last: EngineSnapshot | null = null;
  private nextNoteId = 1;
  private nextRequest = 1;
  private readonly requests = new Map<number, (handle: number) => void>();

  private constructor(context: BaseAudioContext, node: AudioWorkletNode,
                      memory: WebAssembly.Memory, layout: EngineLayout) {
    this.context = context;
    this.node = node;
    this.memory = memory;
    this.layout = layout;
    this.commands = new CommandSender(new RingWriter(memory.buffer, layout.ring));
    this.state = new StateView(memory.buffer, layout.state);
    node.port.onmessage = (event: MessageEvent) => {
      const data = event.data as { type: string; id?: number; handle?: number };
      if (data.type !== 'sample' || data.id === undefined) return;
      this.requests.get(data.id)?.(data.handle ?? -1);
      this.requests.delete(data.id);
    };
  }

  /** Load the worklet into `context`, start an engine in it and wait until
   *  it is ready. The node is not connected: connect it to a destination.
   *  It has no inputs: the engine plays patches, and samples on audio
   *  tracks. */
  static async start(context: BaseAudioContext, files: EngineFiles): Promise<EngineClient> {
    if (!globalThis.crossOriginIsolated)
      throw new Error('the page is not cross-origin isolated, so it cannot share memory with the audio engine');
    await addWorklet(context, files.workletUrl);
    const memory = createEngineMemory(files.manifest);
    const node = new AudioWorkletNode(context, 'amp-engine', {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [2],
      processorOptions: { module: files.module, memory },
    });
    const layout = await new Promise<EngineLayout>((resolve, reject) => {
      node.port.onmessage = (event: MessageEvent) => {
        const data = event.data as { type: string; layout?: EngineLayout; message?: string };
        if (data.type === 'ready' && data.layout) resolve(data.layout);
        else reject(new Error(data.message ?? 'the engine did not start'));
      };
      node.onprocessorerror = () => reject(new Error('the engine worklet failed'));
    });
    node.port.onmessage = null;
    return new EngineClient(context, node, memory, layout);
  }

  get sampleRate(): number {
    return this.layout.sampleRate;
  }

  /** A track fader's "0 dB" in the engine's terms (EngineLayout.unityGainDb). */
  get unityGainDb(): number {
    return this.layout.unityGainDb;
  }

  /** Put a sample (channels at the engine's rate) into the engine's sample
   *  pool and park it; resolves to its handle for commands.loadSample, or
   *  -1 when the pool or the handle table is full. */
  loadSample(channels: Float32Array[]): Promise<number> {
    const id = this.nextRequest++;
    return new Promise<number>((resolve) => {
      this.requests.set(id, resolve);
      this.node.port.postMessage({ type: 'sample', id, channels });
    });
  }

  /** A consistent copy of the state region (the last one if the engine was
   *  writing throughout). */
  snapshot(): EngineSnapshot | null {
    this.last = this.state.read() ?? this.last;
    return this.last;
  }

  /** Engine time at which something that happened at performance.now()
   *  time `ms` should sound: the frame being heard at `ms`, plus the
   *  render-ahead of the output and two quanta of margin for the ring. */
  frameAt(ms: number): number {
    const context = this.context;
    if (!(context instanceof AudioContext)) return 0;
    const stamp = context.getOutputTimestamp();
    const contextTime = stamp.contextTime ?? 0;
    const performanceTime = stamp.performanceTime ?? ms;
    const heard = contextTime + (ms - performanceTime) / 1000;
    const ahead = (context.baseLatency || 0) + (context.outputLatency || 0);
    const frame = Math.round((heard + ahead) * this.sampleRate) + 2 * QUANTUM;
    return Math.max(0, frame);
  }

  /** Start a note; returns its id for noteOff, or -1 if the ring was full. */
  noteOn(key: number, velocity: number, time = 0): number {
    const id = this.nextNoteId++;
    return this.commands.noteOn(time, id, key, velocity) ? id : -1;
  }

  noteOff(noteId: number, time = 0): boolean {
    return this.commands.noteOff(time, noteId);
  }

  setParam(index: number, value: number, time = 0): boolean {
    return this.commands.setParam(time, index, value);
  }

  selectPatch(index: number, time = 0): boolean {
    return this.commands.selectPatch(time, index);
  }

  allNotesOff(time = 0): boolean {
    return this.commands.allNotesOff(time);
  }
}
