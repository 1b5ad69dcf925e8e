// render.ts — render with the engine, no AudioContext: a recorded
// performance (renderPerformance), or a whole project document through
// the C of `amp render` (renderProject).
//
// The export worker's loop: the same engine.wasm (the multi-track engine,
// runtime/engine_*.c) and the same quanta as the worklet (128 frames, the
// last one shorter), then amp_refill after each, as the worklet does. The
// instrument is a node made with the performance's start values and
// settled (amp_select, amp_param_now, amp_settle), as a project's "params"
// are (runtime/engine/project_feed.c), and becomes track 0's at frame 0; each event is
// a command (runtime/engine/commands.def) written into the engine's command ring
// before the quantum it falls in, stamped with its frame, exactly as the
// page sends its notes: the engine applies it at that sample. The worker
// has no AudioContext, so its frames are the engine's own (no
// amp_set_time). performanceProject() (performance.ts) is the same
// performance as a project for the native `amp render`.

import { CommandSender } from './commands';
import { QUANTUM } from './layout';
import { performanceEvents, type Performance, type PerformanceEvent } from './performance';
import { RingWriter } from './ring';
import { instantiateEngine, readCString, type SizedExports, startEngine } from './wasm';

export interface RenderResult {
  channels: [Float32Array, Float32Array];
  /** Wall-clock milliseconds the render took. */
  elapsedMs: number;
}

function send(commands: CommandSender, e: PerformanceEvent): void {
  let ok: boolean;
  if (e.kind === 'on') ok = commands.noteOn(e.frame, e.noteId, e.key, e.velocity);
  else if (e.kind === 'off') ok = commands.noteOff(e.frame, e.noteId);
  else ok = commands.setParam(e.frame, e.param, e.value);
  if (!ok) throw new Error(`the command ring refused a ${e.kind} event at frame ${e.frame}`);
}

export function renderPerformance(module: WebAssembly.Module, memory: WebAssembly.Memory,
                                  p: Performance, now: () => number): RenderResult {
  const t0 = now();
  const engine = startEngine(module, memory, p.sampleRate);
  if (engine.amp_select(p.patch) !== p.patch) throw new Error(`no patch ${p.patch} in the engine`);
  // As a project's instrument: set, then settle (always, as project_feed.c does).
  for (const s of p.startParams)
    if (engine.amp_param_now(s.param, s.value) !== 0) throw new Error(`no param ${s.name}`);
  engine.amp_settle();

  const commands = new CommandSender(new RingWriter(memory.buffer, engine.amp_command_ring()));
  const events = performanceEvents(p);
  const left = new Float32Array(p.frames);
  const right = new Float32Array(p.frames);
  const outL = new Float32Array(memory.buffer, engine.amp_output(0), QUANTUM);
  const outR = new Float32Array(memory.buffer, engine.amp_output(1), QUANTUM);
  let next = 0;
  for (let q = 0; q < p.frames; q += QUANTUM) {
    const n = Math.min(QUANTUM, p.frames - q);
    for (let e = events[next]; e && e.frame < q + n; e = events[++next])
      send(commands, e);
    engine.amp_process(n);
    engine.amp_refill();
    left.set(n === QUANTUM ? outL : outL.subarray(0, n), q);
    right.set(n === QUANTUM ? outR : outR.subarray(0, n), q);
  }
  return { channels: [left, right], elapsedMs: now() - t0 };
}

// ---- a whole project: the C of `amp render PROJECT.json` ----------------------

/** The WAV formats of an export: 32-bit float, 24-bit PCM, 16-bit PCM
 *  with TPDF dither (runtime/formats/wav.h); `amp render --format f32`,
 *  `--format s24`, `--format s16 --dither` write the same bytes. */
export type ExportFormat = 'f32' | 's24' | 's16';
const FORMAT_CODE: Record<ExportFormat, number> = { f32: 0, s24: 2, s16: 3 };   // WavFormat

export interface ProjectRenderRequest {
  /** The project document (runtime/formats/PROJECT.md), as text. */
  json: string;
  /** Audio for its regions: by a region's "asset" hash, or by its "file"
   *  as written; WAV bytes. */
  assets: Record<string, ArrayBuffer>;
  format: ExportFormat;
  /** Also one WAV per instrument and audio track (see stems below). */
  stems?: boolean;
  /** Another rate than the project's (`amp render --rate`). */
  rate?: number;
  /** Exactly this many seconds (`amp render --seconds`); else the
   *  project's length and tail. */
  seconds?: number;
}

export interface RenderedStem {
  /** The track's place in "tracks", its id and name. */
  index: number;
  id: number;
  name: string;
  kind: 'instrument' | 'audio';
  wav: ArrayBuffer;
}

export interface ProjectRenderResult {
  mix: ArrayBuffer;
  stems: RenderedStem[];
  rate: number;
  frames: number;
  /** Wall-clock milliseconds, from the document to the last WAV file. */
  elapsedMs: number;
}

/** A project the engine refuses: `message` is `amp render`'s, without its
 *  "amp: " (the JSON path of the field at fault first). */
export class ProjectError extends Error {
  override name = 'ProjectError';
}

interface ProjectInfo {
  rate: number;
  frames: number;
  tracks: { index: number; id: number; name: string; kind: 'instrument' | 'audio' | 'bus' }[];
}

/** Frames per step of the render (a multiple of the quantum): the worker
 *  reports progress between steps. */
const STEP_FRAMES = QUANTUM * 512;

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Copy `bytes` into the module's heap; the address (freed by the caller
 *  or handed to the module). */
function put(engine: SizedExports, memory: WebAssembly.Memory, bytes: Uint8Array): number {
  const at = engine.amp_alloc(Math.max(1, bytes.length));
  if (!at) throw new ProjectError(`out of memory for ${bytes.length} bytes`);
  new Uint8Array(memory.buffer).set(bytes, at);
  return at;
}

/** Render a project with engine.wasm's project render (runtime/wasm/
 *  wasm_project.c): the same reader, resolver, engine, render loop and
 *  WAV writer as `amp render`, so the files are the same bytes. Patches
 *  must be built-in ({"builtin": ...}). With `stems`, each instrument and
 *  audio track is rendered again with only it soloed (its sends and the
 *  buses they feed included; `amp render --stems` does the same).
 *  `memory` is a fresh memory (createSizedMemory: it grows as needed). */
export function renderProject(module: WebAssembly.Module, memory: WebAssembly.Memory, request: ProjectRenderRequest,
                              now: () => number,
                              onProgress?: (done: number, total: number) => void): ProjectRenderResult {
  const t0 = now();
  const engine = instantiateEngine(module, memory);
  const fail = (): never => { throw new ProjectError(readCString(memory, engine.amp_project_error())); };
  try {
    for (const [name, data] of Object.entries(request.assets)) {
      const key = utf8(name);
      const keyAt = put(engine, memory, key);
      const dataAt = put(engine, memory, new Uint8Array(data));
      const rc = engine.amp_project_asset(keyAt, key.length, dataAt, data.byteLength);
      engine.amp_free(keyAt);
      if (rc !== 0) { engine.amp_free(dataAt); fail(); }
    }
    const text = utf8(request.json);
    const textAt = put(engine, memory, text);
    const rc = engine.amp_project_load(textAt, text.length, request.rate ?? 0);
    engine.amp_free(textAt);
    if (rc !== 0) fail();
    const info = JSON.parse(readCString(memory, engine.amp_project_info())) as ProjectInfo;
    // Without `seconds` the mix is as long as the project's tail says (the
    // fixed tail, or version 2's tail rule, which may end it before
    // info.frames, the most it can take): as `amp render`. The stems then
    // take the mix's length, as `amp render --stems` does.
    let frames = request.seconds !== undefined ? Math.round(request.seconds * info.rate) : 0;
    const stems = request.stems ? info.tracks.filter((t) => t.kind !== 'bus') : [];
    let total = (frames || info.frames) * (1 + stems.length);
    let before = 0;
    const render = (solo: number): ArrayBuffer => {
      if (engine.amp_project_render_begin(solo, frames) !== 0) fail();
      for (let done = 0; done < engine.amp_project_render_frames();) {
        done = engine.amp_project_render_step(STEP_FRAMES);
        onProgress?.(before + done, total);
      }
      const rendered = engine.amp_project_render_frames();
      if (frames === 0) {
        frames = rendered;
        total = frames * (1 + stems.length);
      }
      before += frames;
      if (engine.amp_project_render_end(FORMAT_CODE[request.format]) !== 0) fail();
      const at = engine.amp_project_wav();
      return new Uint8Array(memory.buffer, at, engine.amp_project_wav_size()).slice().buffer;
    };
    const mix = render(-1);
    const rendered: RenderedStem[] = stems.map((t) => ({
      index: t.index, id: t.id, name: t.name, kind: t.kind as 'instrument' | 'audio', wav: render(t.index),
    }));
    return { mix, stems: rendered, rate: info.rate, frames, elapsedMs: now() - t0 };
  } finally {
    engine.amp_project_close();
  }
}
