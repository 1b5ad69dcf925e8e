// export-worker.ts — render off the main thread, faster than real time,
// with the same engine.wasm as the worklet and no AudioContext.
//
// A project (the export of the arrangement):
//   request:  { type: 'render-project', json, assets: { [hash or file]: ArrayBuffer },
//               format: 'f32' | 's24' | 's16', stems?: boolean, rate?, seconds?,
//               module?: WebAssembly.Module, manifest?: engine.json }
//   replies:  { type: 'progress', done, total }            (frames, stems included)
//             { type: 'project-done', mix: ArrayBuffer, stems: [{ index, id, name, kind, wav }],
//               rate, frames, elapsedMs }                  (the buffers transferred)
//             { type: 'error', message, project: true }    (`amp render`'s message)
//   The WAV files are the bytes `amp render PROJECT.json --format F` writes
//   (s16: `--format s16 --dither`), stems those of `--stems`
//   (render.ts renderProject). Without `module` / `manifest` the worker
//   loads engine.wasm and engine.json from beside itself.
//
// The engine's memory for a limits set (the page's engine, sized):
//   request:  { type: 'measure-limits', limits? | project?, samples?, sampleRate?, module?, manifest? }
//             (`project`: a document, sized by limitsFor(projectStats(...)),
//             its audio's lengths in `samples`, by region "file" or "asset")
//   reply:    { type: 'limits', pages, pagesAfter, heapEnd, limits: <amp_limits_json> }
//   — a memory of memoryPagesFor(limits) pages, amp_init_sized in it; how
//   many pages it had before and after (equal: the estimate held) and the
//   end of the heap it used.
//
// A MIDI file imported as a project document (the C of `amp import
// --builtin`, engine/midi.ts):
//   request:  { type: 'import-midi', bytes: ArrayBuffer, name?, patch?: { builtin, unit? },
//               drums?: { builtin, unit? }, version?: 1 | 2, sampleRate?, module?, manifest? }
//   replies:  { type: 'midi-imported', json, warnings: string[] }
//             { type: 'error', message, midi: true }      (`amp import`'s message)
//   The document is the bytes `amp import NAME --builtin --project-version
//   2 [--patch ID[:UNIT]] [--drums ID[:UNIT]]` writes (version 1 when
//   asked); warnings are its "amp: warning: " lines without the prefix.
//
// A recorded performance (the page's one-instrument recording):
//   request:  { module, memoryPages, performance }
//   reply:    { type: 'done', wav: ArrayBuffer, elapsedMs, frames }
//             { type: 'error', message }
//
// Each request gets its own engine in its own shared memory, so an export
// starts from the same state as a native render.

import type { EngineManifest } from './engine/layout';
import {
  type EngineLimits, limitsFor, memoryPagesFor, projectStats, type SizedManifest,
} from './engine/limits';
import { importMidi, MidiImportError, type MidiImportRequest } from './engine/midi';
import type { Performance } from './engine/performance';
import { ProjectError, type ProjectRenderRequest, renderPerformance, renderProject } from './engine/render';
import { encodeWavF32 } from './engine/wav';
import {
  createEngineMemory, createSizedMemory, engineSetups, memoryBounds, readCString, type SizedExports, startEngine,
} from './engine/wasm';
import {
  isModuleRequest, loadRememberedModules, type ModuleHostExports, moduleInfo, type ModuleRequest, rememberModule,
} from './engine/modules';

export interface ExportRequest {
  module: WebAssembly.Module;
  memoryPages: number;
  performance: Performance;
}

/** engine.json with the build's memory model (web/memory_model.mjs). */
type FullManifest = EngineManifest & SizedManifest;

export interface ProjectExportRequest extends ProjectRenderRequest {
  type: 'render-project';
  module?: WebAssembly.Module;
  manifest?: FullManifest;
  /** Patch modules the project names by their built-in names (the DAW's
   *  library patches, ui/library.ts): loaded into the render's engine
   *  before its init, as a 'patch-module' message would. */
  modules?: Omit<ModuleRequest, 'type' | 'id'>[];
}

export interface MeasureLimitsRequest {
  type: 'measure-limits';
  limits?: EngineLimits;
  project?: unknown;
  samples?: Record<string, { channels: number; frames: number }>;
  sampleRate?: number;
  module?: WebAssembly.Module;
  manifest?: FullManifest;
}

export interface ImportMidiRequest extends MidiImportRequest {
  type: 'import-midi';
  module?: WebAssembly.Module;
  manifest?: FullManifest;
}

type Request = ExportRequest | ProjectExportRequest | MeasureLimitsRequest | ImportMidiRequest | ModuleRequest;

// The dedicated worker's scope, typed here because the page's DOM library
// describes a Window.
interface WorkerScope {
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as WorkerScope;

/** engine.wasm and engine.json: from the request, else from beside this
 *  script. */
async function engineFiles(request: { module?: WebAssembly.Module; manifest?: FullManifest }):
    Promise<{ module: WebAssembly.Module; manifest: FullManifest }> {
  const here = (name: string): URL => new URL(name, import.meta.url);
  const module = request.module ?? await WebAssembly.compileStreaming(fetch(here('engine.wasm')));
  const manifest = request.manifest ?? await (await fetch(here('engine.json'))).json() as FullManifest;
  return { module, manifest };
}

async function exportProject(request: ProjectExportRequest): Promise<void> {
  const { module, manifest } = await engineFiles(request);
  for (const m of request.modules ?? []) {
    moduleInfo(m.module);   // not a patch module: refused before the render
    rememberModule({ type: 'patch-module', id: 0, ...m });
  }
  const memory = createSizedMemory(memoryBounds(manifest), manifest.minimumPages);
  let last = 0;
  const result = renderProject(module, memory, request, () => performance.now(), (done, total) => {
    const t = performance.now();
    if (t - last < 100 && done < total) return;
    last = t;
    scope.postMessage({ type: 'progress', done, total });
  });
  scope.postMessage({ type: 'project-done', ...result }, [result.mix, ...result.stems.map((s) => s.wav)]);
}

async function measureLimits(request: MeasureLimitsRequest): Promise<void> {
  const { module, manifest } = await engineFiles(request);
  const rate = request.sampleRate ?? 48000;
  const samples = request.samples ?? {};
  const sampleOf = (region: Record<string, unknown>): { key: string; channels: number; frames: number } | null => {
    const key = String(region['asset'] ?? region['file'] ?? '');
    const s = samples[key];
    return s ? { key, ...s } : null;
  };
  const wanted = request.limits ?? limitsFor(projectStats(request.project, manifest, sampleOf), manifest, rate);
  const pages = memoryPagesFor(wanted, manifest);
  const memory = createSizedMemory(memoryBounds(manifest), pages);
  const engine = startEngine(module, memory, rate, wanted) as SizedExports;
  const limits = JSON.parse(readCString(memory, engine.amp_limits_json())) as EngineLimits;
  scope.postMessage({ type: 'limits', pages, pagesAfter: memory.buffer.byteLength / 65536,
                      heapEnd: engine.amp_heap_end(), limits });
}

async function importMidiFile(request: ImportMidiRequest): Promise<void> {
  const { module, manifest } = await engineFiles(request);
  const memory = createSizedMemory(memoryBounds(manifest), manifest.minimumPages);
  const { json, warnings } = importMidi(module, memory, request);
  scope.postMessage({ type: 'midi-imported', json, warnings });
}

function exportPerformance(request: ExportRequest): void {
  const { module, memoryPages, performance: p } = request;
  const memory = createEngineMemory({ memoryPages });
  const result = renderPerformance(module, memory, p, () => performance.now());
  const wav = encodeWavF32(result.channels, p.sampleRate);
  scope.postMessage({ type: 'done', wav, elapsedMs: result.elapsedMs, frames: p.frames }, [wav]);
}

// Patch modules (engine/modules.ts): { type: 'patch-module', id, module,
// builtin?, unit?, isDefault? } is kept and loaded into every engine this
// worker makes from then on (answered { type: 'patch-module', id, patch,
// error }).
engineSetups.push((engine, memory) => loadRememberedModules(engine as unknown as ModuleHostExports, memory));

scope.onmessage = (event) => {
  const request = event.data;
  if (isModuleRequest(request)) {
    try {
      const patch = moduleInfo(request.module).patch;
      rememberModule(request);
      scope.postMessage({ type: 'patch-module', id: request.id, patch, error: null });
    } catch (e) {
      scope.postMessage({ type: 'patch-module', id: request.id, patch: '', error: e instanceof Error ? e.message : String(e) });
    }
    return;
  }
  const failed = (e: unknown): void =>
    scope.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e),
                        project: e instanceof ProjectError, midi: e instanceof MidiImportError });
  if ('type' in request && request.type === 'render-project') exportProject(request).catch(failed);
  else if ('type' in request && request.type === 'measure-limits') measureLimits(request).catch(failed);
  else if ('type' in request && request.type === 'import-midi') importMidiFile(request).catch(failed);
  else {
    try {
      exportPerformance(request as ExportRequest);
    } catch (e) {
      failed(e);
    }
  }
};
