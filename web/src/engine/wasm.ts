// wasm.ts — instantiate engine.wasm over a shared memory, synchronously.
//
// Used where the engine runs: the AudioWorklet (whose processor
// constructor cannot wait) and the export worker. Both get the compiled
// WebAssembly.Module from the page, so nothing is compiled twice.

import type { EngineExports, EngineManifest } from './layout';

/** The shared, fixed-size memory the engine is built for
 *  (-sIMPORTED_MEMORY, no growth: initial = maximum). */
export function createEngineMemory(manifest: Pick<EngineManifest, 'memoryPages'>): WebAssembly.Memory {
  const pages = manifest.memoryPages;
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** Everything the module imports: the memory, and, should a build ever
 *  pull in a libc import, a stub that fails loudly instead of a link error
 *  that says nothing. */
function importsFor(module: WebAssembly.Module, memory: WebAssembly.Memory): WebAssembly.Imports {
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    const space = (imports[imp.module] ??= {});
    if (imp.kind === 'memory') {
      space[imp.name] = memory;
    } else if (imp.kind === 'function') {
      space[imp.name] = () => {
        throw new Error(`engine.wasm called the import ${imp.module}.${imp.name}`);
      };
    }
  }
  return imports;
}

/** Instantiate, run the module's constructors, amp_init(sampleRate).
 *  Throws with the engine's message when init fails. */
export function startEngine(module: WebAssembly.Module, memory: WebAssembly.Memory,
                            sampleRate: number): EngineExports {
  const instance = new WebAssembly.Instance(module, importsFor(module, memory));
  const engine = instance.exports as unknown as EngineExports;
  engine._initialize?.();
  if (engine.amp_init(sampleRate) !== 0)
    throw new Error(`engine.wasm: ${readCString(memory, engine.amp_error())}`);
  return engine;
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
