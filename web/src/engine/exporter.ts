// exporter.ts — hand an export to the export worker (export-worker.ts),
// get WAV files back.

import type { Performance } from './performance';
import type { ProjectRenderRequest, ProjectRenderResult } from './render';

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

export interface ProjectExportOptions {
  /** The compiled engine.wasm and engine.json (else the worker loads them). */
  module?: WebAssembly.Module;
  manifest?: unknown;
  /** Frames rendered so far, of the total (the mix and every stem). */
  onProgress?: (done: number, total: number) => void;
}

/** A refusal of the document: `message` is `amp render`'s for it. */
export class ProjectExportError extends Error {
  override name = 'ProjectExportError';
}

/** Render a project document to WAV files in the export worker: the mix
 *  and, with `stems`, one file per instrument and audio track; the same
 *  bytes as `amp render` of the same document. */
export function exportProject(workerUrl: string, request: ProjectRenderRequest,
                              options: ProjectExportOptions = {}): Promise<ProjectRenderResult> {
  const worker = new Worker(workerUrl, { type: 'module', name: 'amp-export' });
  return new Promise<ProjectRenderResult>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data as { type: string; done?: number; total?: number; message?: string;
                                   project?: boolean } & Partial<ProjectRenderResult>;
      if (data.type === 'progress') {
        options.onProgress?.(data.done ?? 0, data.total ?? 0);
        return;
      }
      worker.terminate();
      if (data.type === 'project-done' && data.mix)
        resolve({ mix: data.mix, stems: data.stems ?? [], rate: data.rate ?? 0, frames: data.frames ?? 0,
                  elapsedMs: data.elapsedMs ?? 0 });
      else if (data.project) reject(new ProjectExportError(data.message ?? 'the engine refused the project'));
      else reject(new Error(data.message ?? 'export failed'));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message || 'the export worker failed to start'));
    };
    // The assets are copied, not transferred: the caller keeps them.
    worker.postMessage({ type: 'render-project', ...request, module: options.module, manifest: options.manifest });
  });
}
