// export-worker.ts — render a performance to a WAV file off the main
// thread, faster than real time, with the same engine.wasm as the worklet
// and no AudioContext.
//
//   request:  { module, memoryPages, performance }
//   reply:    { type: 'done', wav: ArrayBuffer, elapsedMs, frames }
//             { type: 'error', message }
//
// Each request gets its own engine in its own shared memory, so an export
// starts from the same state as a native render.

import type { Performance } from './engine/performance';
import { renderPerformance } from './engine/render';
import { encodeWavF32 } from './engine/wav';
import { createEngineMemory } from './engine/wasm';

export interface ExportRequest {
  module: WebAssembly.Module;
  memoryPages: number;
  performance: Performance;
}

// The dedicated worker's scope, typed here because the page's DOM library
// describes a Window.
interface WorkerScope {
  onmessage: ((event: MessageEvent<ExportRequest>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (event) => {
  try {
    const { module, memoryPages, performance: p } = event.data;
    const memory = createEngineMemory({ memoryPages });
    const result = renderPerformance(module, memory, p, () => performance.now());
    const wav = encodeWavF32(result.channels, p.sampleRate);
    scope.postMessage({ type: 'done', wav, elapsedMs: result.elapsedMs, frames: p.frames }, [wav]);
  } catch (e) {
    scope.postMessage({ type: 'error', message: String(e) });
  }
};
