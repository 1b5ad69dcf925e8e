// wasm.ts — instantiate engine.wasm over a shared memory, synchronously.
//
// Used where the engine runs: the AudioWorklet (whose processor
// constructor cannot wait) and the export worker. Both get the compiled
// WebAssembly.Module from the page, so nothing is compiled twice.
//
// The memory is the instantiator's choice (web/web.mk): the module imports
// a shared memory of at least `minimumPages` and at most `maximumPages`
// (2 GiB) pages of 64 KiB. The page's engine is laid out once, in a memory
// of memoryPagesFor(limits) pages (limits.ts); the export worker starts
// small and lets the module's heap grow as a project needs.

import type { EngineExports, EngineManifest } from './layout';
import { type EngineLimits, limitsJson } from './limits';

/** The memory the module was linked for (engine.json, written by
 *  web/web.mk): its smallest size, its largest, and the size amp_init
 *  (the fixed sizes of before) needs. */
export interface MemoryBounds {
  memoryPages: number;
  minimumPages?: number;
  maximumPages?: number;
}

/** The shared memory of amp_init(rate): `memoryPages` pages, fixed (the
 *  maximum is the initial size, so the engine's heap can never grow). */
export function createEngineMemory(manifest: Pick<MemoryBounds, 'memoryPages'>): WebAssembly.Memory {
  const pages = manifest.memoryPages;
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** A shared memory of `pages` pages that may grow to the module's maximum
 *  (amp_init_sized, the export worker). */
export function createSizedMemory(bounds: MemoryBounds, pages: number): WebAssembly.Memory {
  const maximum = bounds.maximumPages ?? bounds.memoryPages;
  const initial = Math.max(pages, bounds.minimumPages ?? 1);
  if (initial > maximum)
    throw new Error(`engine.wasm: ${initial} pages of memory asked for, the module takes at most ${maximum}`);
  return new WebAssembly.Memory({ initial, maximum, shared: true });
}

/** Functions the module may import and what they do here. Memory growth
 *  (emscripten_notify_memory_growth) needs nothing: every view is made
 *  from memory.buffer after the call that may grow it. */
const KNOWN_IMPORTS: Record<string, () => void> = {
  emscripten_notify_memory_growth: () => {},
};

/** Everything the module imports: the memory, the known functions, and,
 *  should a build ever pull in another libc import, a stub that fails
 *  loudly instead of a link error that says nothing. */
function importsFor(module: WebAssembly.Module, memory: WebAssembly.Memory): WebAssembly.Imports {
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    const space = (imports[imp.module] ??= {});
    if (imp.kind === 'memory') {
      space[imp.name] = memory;
    } else if (imp.kind === 'function') {
      space[imp.name] = KNOWN_IMPORTS[imp.name] ?? (() => {
        throw new Error(`engine.wasm called the import ${imp.module}.${imp.name}`);
      });
    }
  }
  return imports;
}

/** The exports of amp_init_sized and the project render (wasm_main.c,
 *  wasm_project.c), beside the page's (layout.ts). */
export interface SizedExports extends EngineExports {
  amp_alloc(bytes: number): number;
  amp_free(pointer: number): void;
  amp_init_sized(sampleRate: number, json: number, length: number): number;
  amp_limits_json(): number;
  amp_heap_end(): number;
  amp_project_asset(name: number, nameLength: number, bytes: number, length: number): number;
  amp_project_load(json: number, length: number, rate: number): number;
  amp_project_info(): number;
  amp_project_render_begin(solo: number, frames: number): number;
  amp_project_render_step(frames: number): number;
  amp_project_render_frames(): number;
  amp_project_render_end(format: number): number;
  amp_project_wav(): number;
  amp_project_wav_size(): number;
  amp_project_error(): number;
  amp_project_close(): void;
}

/** Run on every instance instantiateEngine makes, before its amp_init
 *  (the export worker loads its patch modules there: engine/modules.ts). */
export const engineSetups: Array<(engine: SizedExports, memory: WebAssembly.Memory) => void> = [];

/** Instantiate and run the module's constructors; no engine yet. */
export function instantiateEngine(module: WebAssembly.Module, memory: WebAssembly.Memory): SizedExports {
  const instance = new WebAssembly.Instance(module, importsFor(module, memory));
  const engine = instance.exports as unknown as SizedExports;
  engine._initialize?.();
  for (const setup of engineSetups) setup(engine, memory);
  return engine;
}

/** Instantiate, run the module's constructors, then lay the engine out:
 *  amp_init(sampleRate), the fixed sizes of before, or, with `limits`,
 *  amp_init_sized(sampleRate, limits) (the memory should have
 *  memoryPagesFor(limits) pages). Throws with the engine's message when
 *  init fails. */
export function startEngine(module: WebAssembly.Module, memory: WebAssembly.Memory,
                            sampleRate: number, limits?: EngineLimits): EngineExports {
  const engine = instantiateEngine(module, memory);
  const rc = limits ? initSized(engine, memory, sampleRate, limits) : engine.amp_init(sampleRate);
  if (rc !== 0)
    throw new Error(`engine.wasm: ${readCString(memory, engine.amp_error())}`);
  return engine;
}

function initSized(engine: SizedExports, memory: WebAssembly.Memory, sampleRate: number,
                   limits: EngineLimits): number {
  const text = limitsJson(limits);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);   // ASCII: names and numbers
  const at = engine.amp_alloc(bytes.length);
  if (!at) return -1;
  new Uint8Array(memory.buffer).set(bytes, at);
  const rc = engine.amp_init_sized(sampleRate, at, bytes.length);
  engine.amp_free(at);
  return rc;
}

/** The NUL-terminated UTF-8 string at `address`. TextDecoder refuses views
 *  of shared memory, so the bytes are copied first; the AudioWorklet scope
 *  has no TextDecoder at all, and gets the ASCII the engine writes there. */
export function readCString(memory: WebAssembly.Memory, address: number): string {
  const bytes = new Uint8Array(memory.buffer);
  let end = address;
  while (end < bytes.length && bytes[end] !== 0) end++;
  const copy = bytes.slice(address, end);
  if (typeof TextDecoder !== 'undefined') return new TextDecoder().decode(copy);
  let text = '';
  for (const b of copy) text += String.fromCharCode(b);
  return text;
}

/** engine.json's bounds, for a manifest of an older build too. */
export function memoryBounds(manifest: EngineManifest & Partial<MemoryBounds>): MemoryBounds {
  return {
    memoryPages: manifest.memoryPages,
    minimumPages: manifest.minimumPages ?? manifest.memoryPages,
    maximumPages: manifest.maximumPages ?? manifest.memoryPages,
  };
}
