// diagnostics.ts — ampc's messages (`patch.amp:LINE:COL: error: MESSAGE`,
// then the source line and a caret) as editor diagnostics, and the page's
// side of the checker worker (ampc-worker.ts: ampc.wasm, no server).

import type { CheckStatus, FromWorker, ToWorker, WorkerDiagnostic } from './ampc-worker';

export interface AmpcDiagnostic {
  /** The file ampc named (patch.amp for the editor's text, else an import). */
  file: string;
  line: number;
  col: number;
  severity: 'error' | 'warning' | 'info';
  message: string;
}

/** What a diagnostic marks from its column: a name, a number with its
 *  dots, or a string literal (an import's path). */
const MARKED = /^(?:[A-Za-z0-9_.]+|"[^"\n]*"?)/;

const HEAD = /^([^:\n]+):(\d+):(\d+): (error|warning|note): (.*)$/;

/** Every `FILE:LINE:COL: SEVERITY: MESSAGE` line of ampc's output, in
 *  order (the quoted source and caret lines are skipped). */
export function parseAmpcDiagnostics(text: string): AmpcDiagnostic[] {
  const out: AmpcDiagnostic[] = [];
  for (const line of text.split('\n')) {
    const m = HEAD.exec(line);
    if (!m) continue;
    const sev = m[4] === 'note' ? 'info' : (m[4] as 'error' | 'warning');
    out.push({ file: m[1]!, line: Number(m[2]), col: Number(m[3]), severity: sev, message: m[5]! });
  }
  return out;
}

/** Document offsets of a diagnostic: its column on its line (1-based, in
 *  bytes as ampc counts; the editor's text is UTF-16, so non-ASCII before
 *  the column shifts it: counted here) to the end of the word or string
 *  there. A
 *  diagnostic of another file (an import) goes on line 1. */
export function diagnosticRange(doc: { lines: number; line(n: number): { from: number; to: number; text: string } },
                                d: AmpcDiagnostic, mainFile = 'patch.amp'): { from: number; to: number } {
  if (d.file !== mainFile) {
    const l = doc.line(1);
    return { from: l.from, to: l.to };
  }
  const l = doc.line(Math.min(Math.max(1, d.line), doc.lines));
  const bytes = new TextEncoder().encode(l.text);
  const prefix = new TextDecoder().decode(bytes.subarray(0, Math.max(0, d.col - 1)));
  const from = l.from + Math.min(prefix.length, l.text.length);
  const rest = l.text.slice(from - l.from);
  const word = MARKED.exec(rest);
  const to = word ? from + word[0].length : Math.min(from + 1, l.to);
  return { from, to: Math.max(to, from) };
}

/** The 1-based byte column just past what diagnosticRange marks at `col`
 *  on a line (a word or a string), or col + 1 when neither starts there. */
export function wordEndCol(lineText: string, col: number): number {
  const bytes = new TextEncoder().encode(lineText);
  const rest = new TextDecoder().decode(bytes.subarray(Math.max(0, col - 1)));
  const word = MARKED.exec(rest);
  return col + (word ? new TextEncoder().encode(word[0]).length : 1);
}

/** A check by the worker: ampc's text and its diagnostics. */
export interface WorkerCheck {
  status: CheckStatus;
  output: string;
  diagnostics: WorkerDiagnostic[];
  /** The check's time in the worker, and from the request to the answer. */
  ms: number;
  roundTripMs: number;
}

/** The page's handle on ampc-worker.ts. `ready` resolves true once
 *  ampc.wasm holds the library, false when the worker cannot start (no
 *  Worker, a file missing, a module that does not instantiate, no answer
 *  in `timeoutMs`): `reason` says why, and the page asks the server. */
export class AmpcChecker {
  state: 'starting' | 'ready' | 'failed' = 'starting';
  reason = '';
  version = '';
  startMs = 0;
  readonly ready: Promise<boolean>;
  private worker: Worker | null = null;
  private next = 0;
  private pending = new Map<number, { resolve: (c: WorkerCheck) => void; reject: (e: Error) => void; t0: number }>();

  constructor(url: string, timeoutMs = 15000) {
    this.ready = new Promise<boolean>((resolve) => {
      const fail = (why: string): void => {
        if (this.state === 'failed') return;
        this.state = 'failed';
        this.reason = why;
        this.worker?.terminate();
        this.worker = null;
        for (const p of this.pending.values()) p.reject(new Error(why));
        this.pending.clear();
        resolve(false);
      };
      const timer = setTimeout(() => fail(`the checker did not start in ${timeoutMs / 1000} s`), timeoutMs);
      try {
        this.worker = new Worker(url, { type: 'module', name: 'amp-ampc' });
      } catch (e) {
        clearTimeout(timer);
        fail(e instanceof Error ? e.message : String(e));
        return;
      }
      this.worker.onerror = (e) => { clearTimeout(timer); fail(e.message || 'the checker worker failed'); };
      this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.type === 'ready') {
          clearTimeout(timer);
          this.state = 'ready';
          this.version = m.version;
          this.startMs = m.startMs;
          resolve(true);
        } else if (m.type === 'failed') {
          clearTimeout(timer);
          fail(m.message);
        } else if (m.type === 'checked') {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          p.resolve({ status: m.status, output: m.output, diagnostics: m.diagnostics, ms: m.ms,
                      roundTripMs: performance.now() - p.t0 });
        }
      };
    });
  }

  /** ampc's check of `text` as patch.amp; rejects when the worker is not running. */
  check(text: string): Promise<WorkerCheck> {
    if (this.state !== 'ready' || !this.worker) return Promise.reject(new Error(this.reason || 'the checker is not ready'));
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, t0: performance.now() });
      this.worker!.postMessage({ type: 'check', id, text } satisfies ToWorker);
    });
  }
}
