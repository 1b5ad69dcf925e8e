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
import type { ProjectDoc } from '../doc/project';
import { RingWriter } from './ring';
import {
  describeLimits, limitsFor, memoryPagesFor, parseLimits, projectStats, sampleBytesOf,
  type EngineLimits, type EngineMemoryModel, type ProjectStats, type SizedManifest,
} from './limits';
import { createEngineMemory, createSizedMemory, memoryBounds } from './wasm';

// ---- engine memory and limits ------------------------------------------------------

/** What the engine holds at most, as the page should show it (a project
 *  past one of them does not load or play in full). Today's numbers are
 *  runtime/wasm/wasm_main.c's browser_config and amp_init, fixed by the
 *  build. */
export interface BuildLimits {
  readonly tracks: number;
  readonly insertsPerTrack: number;
  readonly clips: number;
  readonly placementsPerTrack: number;
  readonly clipNotesSounding: number;
  readonly samples: number;
  readonly regionsPerTrack: number;
  readonly sampleBytes: number;
  readonly lanesPerTrack: number;
  readonly tempoPoints: number;
}

export const FIXED_BUILD_LIMITS: BuildLimits = {
  tracks: 64,
  insertsPerTrack: 8,
  clips: 256,
  placementsPerTrack: 64,
  clipNotesSounding: 128,
  samples: 64,
  regionsPerTrack: 64,
  sampleBytes: 16 << 20,
  lanesPerTrack: 16,
  tempoPoints: 64,
};

export interface EngineSizing {
  /** 64 KiB pages of the shared memory. */
  readonly memoryPages: number;
  /** The limits in the page's words (limitProblems). */
  readonly limits: BuildLimits;
  /** amp_init_sized's limits (limits.ts); null: amp_init's fixed sizes (a
   *  build whose engine.json has no memory model). */
  readonly engine: EngineLimits | null;
  /** What the project holds, as counted for the limits. */
  readonly stats: ProjectStats | null;
}

/** Audio files by asset hash (or file name), at the engine's rate: what
 *  the sizing counts for the sample pool (RingSink.sampleSizes()). */
export type SampleSizes = Readonly<Record<string, { channels: number; frames: number }>>;

/** engine.json as the sizing reads it (the memory model is optional: an
 *  older build has only memoryPages). */
export type SizingManifest = EngineManifest & Partial<Pick<SizedManifest, 'minimumPages' | 'maximumPages' | 'memory'>>;

function sized(manifest: SizingManifest): (EngineManifest & SizedManifest) | null {
  return manifest.memory && manifest.minimumPages && manifest.maximumPages
    ? manifest as unknown as EngineManifest & SizedManifest : null;
}

/** The page's words for amp_init_sized's limits. */
export function buildLimitsOf(e: EngineLimits): BuildLimits {
  return { ...FIXED_BUILD_LIMITS, tracks: e.tracks, clips: e.clips, placementsPerTrack: e.placementsPerTrack,
           samples: e.samples, regionsPerTrack: e.regionsPerTrack, sampleBytes: e.sampleBytes,
           lanesPerTrack: e.lanesPerTrack };
}

/** THE place where the engine's memory and pools are chosen for a project
 *  (EngineClient.start, a resize, the status line): limitsFor(projectStats
 *  (doc)) — the project's counts with headroom, never below a real song
 *  (limits.ts SONG_MINIMUM) — in a memory of memoryPagesFor(limits)
 *  pages. `samples`: the audio files' sizes when known (a resize knows
 *  those loaded). Without a memory model in engine.json: amp_init's
 *  fixed sizes. */
export function engineSizing(manifest: SizingManifest, project?: ProjectDoc,
                             opts: { sampleRate?: number; samples?: SampleSizes | undefined } = {}): EngineSizing {
  const m = sized(manifest);
  if (!m) return { memoryPages: manifest.memoryPages, limits: FIXED_BUILD_LIMITS, engine: null, stats: null };
  const stats = projectStats(project ?? { tracks: [] }, m, sampleOf(opts.samples));
  const engine = limitsFor(stats, m, opts.sampleRate ?? 48000);
  return { memoryPages: memoryPagesFor(engine, m), limits: buildLimitsOf(engine), engine, stats };
}

function sampleOf(samples: SampleSizes | undefined) {
  return (region: Record<string, unknown>): { key: string; channels: number; frames: number } | null => {
    const key = String(region['asset'] ?? region['file'] ?? '');
    const s = samples?.[key];
    return s ? { key, ...s } : null;
  };
}

/** What of `stats` the engine with `limits` cannot hold (empty: it fits):
 *  the reasons a resize is needed. */
export function outgrows(stats: ProjectStats, limits: EngineLimits, model?: EngineMemoryModel): string[] {
  const out: string[] = [];
  if (stats.tracks > limits.tracks) out.push(`tracks ${stats.tracks} > ${limits.tracks}`);
  if (stats.clips > limits.clips) out.push(`clips ${stats.clips} > ${limits.clips}`);
  if (stats.maxClipsPerTrack > limits.placementsPerTrack)
    out.push(`clips on one track ${stats.maxClipsPerTrack} > ${limits.placementsPerTrack}`);
  if (stats.samples.length > limits.samples) out.push(`audio files ${stats.samples.length} > ${limits.samples}`);
  if (stats.maxRegionsPerTrack > limits.regionsPerTrack)
    out.push(`regions on one track ${stats.maxRegionsPerTrack} > ${limits.regionsPerTrack}`);
  if (stats.maxLanesPerTrack > limits.lanesPerTrack)
    out.push(`lanes on one track ${stats.maxLanesPerTrack} > ${limits.lanesPerTrack}`);
  if (model) {
    const audio = sampleBytesOf(stats.samples, model);
    if (audio > limits.sampleBytes) out.push(`audio ${audio} bytes > ${limits.sampleBytes}`);
    const notes = stats.clips * model.clipBlock.base + stats.notes * model.clipBlock.perNote;
    if (notes > limits.clipBytes) out.push(`notes ${notes} bytes > ${limits.clipBytes}`);
    const points = stats.lanes * model.laneBlock.base + stats.points * model.laneBlock.perPoint;
    if (points > limits.laneBytes) out.push(`breakpoints ${points} bytes > ${limits.laneBytes}`);
  }
  return out;
}

/** What of a project the engine cannot hold, in words for the musician
 *  ("72 tracks: this engine plays 64"); empty when it fits. */
export function limitProblems(doc: ProjectDoc, limits: BuildLimits): string[] {
  const out: string[] = [];
  if (doc.tracks.length > limits.tracks) out.push(`${doc.tracks.length} tracks: this engine plays ${limits.tracks}`);
  const assets = new Set<string>();
  let clips = 0;
  for (const t of doc.tracks) {
    const name = t.name ?? `track ${t.id}`;
    clips += t.clips?.length ?? 0;
    if ((t.inserts?.length ?? 0) > limits.insertsPerTrack)
      out.push(`${name}: ${t.inserts!.length} effects, at most ${limits.insertsPerTrack}`);
    if ((t.clips?.length ?? 0) > limits.placementsPerTrack)
      out.push(`${name}: ${t.clips!.length} clips, at most ${limits.placementsPerTrack}`);
    if ((t.regions?.length ?? 0) > limits.regionsPerTrack)
      out.push(`${name}: ${t.regions!.length} audio regions, at most ${limits.regionsPerTrack}`);
    for (const r of t.regions ?? []) if (r.asset) assets.add(r.asset);
  }
  if (clips > limits.clips) out.push(`${clips} clips: this engine holds ${limits.clips}`);
  if (assets.size > limits.samples) out.push(`${assets.size} audio files: this engine holds ${limits.samples}`);
  return out;
}

/** The shared memory of a sizing: amp_init_sized's may grow (a WAV file
 *  being decoded takes heap for a moment); amp_init's is fixed. */
export function createSizedMemoryFor(sizing: EngineSizing, manifest: SizingManifest): WebAssembly.Memory {
  return sizing.engine ? createSizedMemory(memoryBounds(manifest), sizing.memoryPages)
    : createEngineMemory({ memoryPages: sizing.memoryPages });
}

// ---- a fine clock for the worklet ---------------------------------------------------

/** The worklet's CPU load, timed by a worker. The AudioWorklet's scope has
 *  no `performance` (Chromium), and Date.now() counts whole milliseconds:
 *  a load averaged over 256 ms then moves in steps of 0.39 %. So a worker
 *  with performance.now() (5 us steps in a cross-origin isolated page)
 *  times each quantum: the worklet bumps `start` and notifies when its
 *  quantum begins, sets `done` and notifies when it ends (two futex wakes
 *  per quantum from the audio thread: no waiting, no allocation, no
 *  syscall that can block); the worker, asleep in Atomics.wait between
 *  them, reads its clock at each wake. Both wake-ups are late by the
 *  scheduler's latency, which cancels in the difference on average; a
 *  quantum shorter than that latency reads as 0 (an idle engine). The
 *  worker writes the load of every window of quanta, and the worklet
 *  copies it into the state region's cpu_load.
 *
 *  Buffer (CLOCK_BYTES): i32 [0] run, [1] start, [2] done; f64 [2] load
 *  (busy / audio time of the last window), [3] the clock's step (ms,
 *  measured at start), [4] quanta timed, [5] busy ms of the last quantum.
 *  The source is inline (a Blob URL), so no other bundle is built. */
const CLOCK_WORKER = `
onmessage = (e) => {
  const { buffer, quantumMs, window } = e.data;
  const i32 = new Int32Array(buffer, 0, 4), f64 = new Float64Array(buffer, 0, 6);
  let step = Infinity, a = performance.now();
  for (let i = 0; i < 20000 && step > 0.001; i++) {
    const b = performance.now();
    if (b > a) { step = Math.min(step, b - a); a = b; }
  }
  f64[3] = step;
  let busy = 0, n = 0, timed = 0;
  for (;;) {
    const seen = Atomics.load(i32, 1);
    Atomics.wait(i32, 1, seen);
    if (Atomics.load(i32, 0) !== 1) break;
    const t1 = performance.now();
    const s = Atomics.load(i32, 1);
    Atomics.wait(i32, 2, s - 1);
    const t2 = performance.now();
    if (Atomics.load(i32, 0) !== 1) break;
    if (Atomics.load(i32, 1) !== s) continue;   // another quantum began: this one is not timed
    busy += t2 - t1;
    f64[5] = t2 - t1;
    f64[4] = ++timed;
    if (++n >= window) { f64[2] = busy / (n * quantumMs); busy = 0; n = 0; }
  }
  close();
};`;

export const CLOCK_BYTES = 48;
/** Word indices of the clock buffer (above). */
export const CLOCK = { run: 0, start: 1, done: 2, load: 2, step: 3, timed: 4, last: 5 } as const;

export class FineClock {
  readonly buffer = new SharedArrayBuffer(CLOCK_BYTES);
  private readonly i32 = new Int32Array(this.buffer, 0, 4);
  private readonly f64 = new Float64Array(this.buffer, 0, 6);
  private worker: Worker | null = null;

  /** Time quanta of `quantumFrames` at `sampleRate`, averaging `window`
   *  of them. */
  start(sampleRate: number, window = 96, quantumFrames = QUANTUM): void {
    if (this.worker) return;
    const url = URL.createObjectURL(new Blob([CLOCK_WORKER], { type: 'text/javascript' }));
    this.worker = new Worker(url);
    URL.revokeObjectURL(url);
    Atomics.store(this.i32, CLOCK.run, 1);
    this.worker.postMessage({ buffer: this.buffer, quantumMs: (quantumFrames * 1000) / sampleRate, window });
  }

  stop(): void {
    Atomics.store(this.i32, CLOCK.run, 0);
    Atomics.notify(this.i32, CLOCK.start);
    Atomics.notify(this.i32, CLOCK.done);
    this.worker = null;
  }

  /** The worker's clock step (ms): performance.now()'s resolution there. */
  get stepMs(): number {
    return this.f64[CLOCK.step] ?? 0;
  }

  /** Quanta timed so far. */
  get timed(): number {
    return this.f64[CLOCK.timed] ?? 0;
  }

  /** The last window's load. */
  get load(): number {
    return this.f64[CLOCK.load] ?? 0;
  }
}

/** Move a playing DAW into a new engine sized for `doc` (an edit or an
 *  opened project outgrew the one it has: Sync.onOutgrown, or
 *  client.problemsWith(doc).length): a new memory and worklet node
 *  (client.restart), the sink pointed at it (RingSink.retarget), the
 *  whole document built again (Sync.reset: the transport stops), the
 *  telemetry reading it. Resolves to the new client and the milliseconds
 *  it took until the new engine runs (the rebuild's commands are then in
 *  its ring). */
export async function resizeEngine(parts: {
  client: EngineClient;
  sink: { retarget(target: EngineClient): void; sampleSizes(): SampleSizes };
  sync: { reset(doc: ProjectDoc): void };
  telemetry?: { setSource(source: { snapshot(): EngineSnapshot | null }): void };
  doc: ProjectDoc;
}): Promise<{ client: EngineClient; ms: number }> {
  const t0 = performance.now();
  const client = await parts.client.restart(parts.doc, parts.sink.sampleSizes());
  parts.sink.retarget(client);
  parts.sync.reset(parts.doc);
  parts.telemetry?.setSource(client);
  return { client, ms: performance.now() - t0 };
}

/** A WAV file the engine decoded into its pool (EngineClient.loadWav). */
export interface LoadedWav {
  readonly handle: number;
  readonly frames: number;
  readonly channels: number;
  readonly message?: string;
}

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
  readonly sizing: EngineSizing;
  /** The limits the engine reports it was made with (amp_limits_json, in
   *  the worklet's ready message): the status line shows these
   *  (describeLimits(client.limits, stats, model)). */
  readonly limits: EngineLimits | null;
  /** The files it was started from (a resize starts another). */
  readonly files: EngineFiles;
  /** The worklet's clock for its CPU load (null: whole milliseconds). */
  readonly clock: FineClock | null;
  private readonly state: StateView;
  private last: EngineSnapshot | null = null;
  private nextNoteId = 1;
  private nextRequest = 1;
  private readonly requests = new Map<number, (handle: number) => void>();
  private readonly wavRequests = new Map<number, (r: LoadedWav) => void>();

  private constructor(context: BaseAudioContext, node: AudioWorkletNode,
                      memory: WebAssembly.Memory, layout: EngineLayout, sizing: EngineSizing,
                      clock: FineClock | null, files: EngineFiles, limits: EngineLimits | null) {
    this.context = context;
    this.sizing = sizing;
    this.files = files;
    this.limits = limits;
    this.clock = clock;
    this.node = node;
    this.memory = memory;
    this.layout = layout;
    this.commands = new CommandSender(new RingWriter(memory.buffer, layout.ring));
    this.state = new StateView(memory.buffer, layout.state);
    node.port.onmessage = (event: MessageEvent) => {
      const data = event.data as { type: string; id?: number; handle?: number };
      if (data.type === 'wav' && data.id !== undefined) {
        this.wavRequests.get(data.id)?.(event.data as LoadedWav);
        this.wavRequests.delete(data.id);
        return;
      }
      if (data.type !== 'sample' || data.id === undefined) return;
      this.requests.get(data.id)?.(data.handle ?? -1);
      this.requests.delete(data.id);
    };
  }

  /** Load the worklet into `context`, start an engine in it and wait until
   *  it is ready. The node is not connected: connect it to a destination.
   *  It has no inputs: the engine plays patches, and samples on audio
   *  tracks. `project`: the project it will play (the engine is sized for
   *  it: engineSizing; `samples`, its audio files' sizes when known).
   *  `fineClock`: time the worklet's CPU load with a worker's
   *  performance.now() (FineClock) instead of whole milliseconds. */
  static async start(context: BaseAudioContext, files: EngineFiles,
                     opts: { project?: ProjectDoc; fineClock?: boolean; samples?: SampleSizes | undefined } = {}):
    Promise<EngineClient> {
    if (!globalThis.crossOriginIsolated)
      throw new Error('the page is not cross-origin isolated, so it cannot share memory with the audio engine');
    await addWorklet(context, files.workletUrl);
    const sizing = engineSizing(files.manifest, opts.project, { sampleRate: context.sampleRate, samples: opts.samples });
    const memory = createSizedMemoryFor(sizing, files.manifest);
    let clock: FineClock | null = null;
    if ((opts.fineClock ?? true) && typeof Worker !== 'undefined') {
      clock = new FineClock();
      clock.start(context.sampleRate);
    }
    const node = new AudioWorkletNode(context, 'amp-engine', {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [2],
      processorOptions: { module: files.module, memory, clock: clock?.buffer ?? null, limits: sizing.engine },
    });
    const ready = await new Promise<{ layout: EngineLayout; limits: string | null }>((resolve, reject) => {
      node.port.onmessage = (event: MessageEvent) => {
        const data = event.data as { type: string; layout?: EngineLayout; limits?: string | null; message?: string };
        if (data.type === 'ready' && data.layout) resolve({ layout: data.layout, limits: data.limits ?? null });
        else reject(new Error(data.message ?? 'the engine did not start'));
      };
      node.onprocessorerror = () => reject(new Error('the engine worklet failed'));
    });
    node.port.onmessage = null;
    let limits: EngineLimits | null = null;
    try {
      limits = ready.limits ? parseLimits(ready.limits) : null;
    } catch {
      limits = null;
    }
    return new EngineClient(context, node, memory, ready.layout, sizing, clock, files, limits);
  }

  /** The status line's lines for the engine's own limits
   *  (describeLimits: "clips 120 / 2,000"), with `doc`'s use when given. */
  limitLines(doc?: ProjectDoc, samples?: SampleSizes): string[] {
    const m = sized(this.files.manifest);
    if (!this.limits) return [];
    const stats = doc && m ? projectStats(doc, m, sampleOf(samples)) : undefined;
    return describeLimits(this.limits, stats, m?.memory);
  }

  /** What of `doc` this engine cannot hold (outgrows: empty when it fits);
   *  `samples`: its audio files' sizes (RingSink.sampleSizes()). */
  problemsWith(doc: ProjectDoc, samples?: SampleSizes): string[] {
    const m = sized(this.files.manifest);
    if (!m || !this.limits) return [];
    return outgrows(projectStats(doc, m, sampleOf(samples)), this.limits, m.memory);
  }

  /** A new engine (memory and worklet node) sized for `doc`, on the same
   *  context, connected to its destination; this one is closed. The
   *  caller moves its sync layer over (resizeEngine does it all). */
  async restart(doc: ProjectDoc, samples?: SampleSizes): Promise<EngineClient> {
    const next = await EngineClient.start(this.context, this.files,
                                          { project: doc, samples, fineClock: this.clock !== null });
    next.node.connect(this.context.destination);
    this.close();
    return next;
  }

  get sampleRate(): number {
    return this.layout.sampleRate;
  }

  /** A track fader's "0 dB" in the engine's terms (EngineLayout.unityGainDb). */
  get unityGainDb(): number {
    return this.layout.unityGainDb;
  }

  /** Stop the engine: the node is disconnected and the CPU clock's worker
   *  ends (the AudioContext is the caller's). */
  close(): void {
    this.node.disconnect();
    this.node.port.onmessage = null;
    this.clock?.stop();
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

  /** A WAV file's bytes into the engine's sample pool, decoded and
   *  resampled to the engine's rate by the C of `amp render` (so an audio
   *  region sounds as in the export); resolves to the parked sample's
   *  handle, frames and channels for commands.loadSample (handle -1:
   *  `message` says why). */
  loadWav(bytes: ArrayBuffer): Promise<LoadedWav> {
    const id = this.nextRequest++;
    return new Promise<LoadedWav>((resolve) => {
      this.wavRequests.set(id, resolve);
      this.node.port.postMessage({ type: 'wav', id, bytes });
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
