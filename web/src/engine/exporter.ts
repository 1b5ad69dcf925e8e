// exporter.ts — hand a performance to the export worker, get a WAV back.

import type { Performance } from './performance';

export interface ExportResult {
  wav: ArrayBuffer;
  /** Milliseconds the worker's render took, and the audio it rendered. */
  elapsedMs: number;
  audioMs: number;
}

export function exportPerformance(workerUrl: string, module: WebAssembly.Module,
                                  memoryPages: number, performance: Performance): Promise<ExportResult> {
  const worker = new Worker(workerUrl, { type: 'module', name: 'amp-export' });
  return new Promise<ExportResult>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data as { type: string; wav?: ArrayBuffer; elapsedMs?: number; message?: string };
      worker.terminate();
      if (data.type === 'done' && data.wav)
        resolve({ wav: data.wav, elapsedMs: data.elapsedMs ?? 0,
                  audioMs: (performance.frames / performance.sampleRate) * 1000 });
      else reject(new Error(data.message ?? 'export failed'));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message || 'the export worker failed to start'));
    };
    worker.postMessage({ module, memoryPages, performance });
  });
}
