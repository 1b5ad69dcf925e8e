// api.ts — the editor's calls to ampd (server/README.md): the compile
// service, the library's files and the user's patch library, on
// web/src/api/ampd.ts's AmpdClient (same origin, the session's cookie or
// none with --local, the CSRF token on writes).

import { AmpdClient, AmpdError } from '../api/ampd';

export interface ParamMeta {
  index: number;
  name: string;
  default: number;
  min: number;
  max: number;
  step: number;
  unit: string;
}

export interface CompiledMeta {
  name: string;
  kind: string;
  voices?: number;
  inputs: string[];
  outputs: string[];
  params: ParamMeta[];
  /** Sample slots (patch ABI 3: `sample NAME;`), by instance path
   *  ("p.wav"), in bind_sample's order. */
  samples?: string[];
}

export interface CompileAnswer {
  ok: boolean;
  diagnostics: string;
  unit?: string;
  metadata?: CompiledMeta;
  module?: string;
  key?: string;
  cached?: boolean;
}

export interface PatchEntry {
  id?: string;
  path?: string;
  name: string;
  revision?: number;
  builtin: boolean;
}

export interface StoredPatch {
  id: string;
  name: string;
  revision: number;
  text?: string;
}

/** A save based on a revision that is no longer the patch's latest (412). */
export class PatchConflict extends Error {
  readonly basedOn: number;
  readonly currentRevision: number;
  constructor(basedOn: number, currentRevision: number) {
    super(`revision ${currentRevision} was saved elsewhere since this text's revision ${basedOn}`);
    this.basedOn = basedOn;
    this.currentRevision = currentRevision;
  }
}

/** The patch editor's calls, on the page's one ampd client (session,
 *  CSRF token, errors as AmpdError). */
export class EditorApi extends AmpdClient {
  /** POST /api/compile; a 503 busy is retried after its Retry-After. */
  async compile(text: string, signal?: AbortSignal): Promise<CompileAnswer> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.request('POST', 'compile', { text });
      if (r.status === 503 && attempt < 5) {
        const wait = Number(r.headers.get('Retry-After') ?? '1') * 1000;
        await new Promise((res) => setTimeout(res, Math.min(wait, 2000)));
        if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
        continue;
      }
      return this.json<CompileAnswer>(r);
    }
  }

  async moduleBytes(url: string): Promise<ArrayBuffer> {
    const r = await fetch(url, { credentials: 'same-origin' });
    if (!r.ok) throw new AmpdError(r.status, 'module', r.statusText);
    return r.arrayBuffer();
  }

  async listPatches(): Promise<PatchEntry[]> {
    return (await this.json<{ patches: PatchEntry[] }>(await this.request('GET', 'patches'))).patches;
  }

  async libraryFile(path: string): Promise<string> {
    return (await this.json<{ text: string }>(await this.request('GET', `library/${path}`))).text;
  }

  async getPatch(id: string): Promise<StoredPatch & { text: string }> {
    return this.json(await this.request('GET', `patches/${id}`));
  }

  async createPatch(name: string, text: string): Promise<StoredPatch> {
    return this.json(await this.request('POST', 'patches', { name, text }));
  }

  /** PUT with If-Match: a stale `basedOn` (another tab or device saved
   *  since) is a PatchConflict with the current revision; nothing written. */
  async savePatch(id: string, text: string, basedOn: number): Promise<StoredPatch> {
    const r = await this.request('PUT', `patches/${id}`, { text }, { 'If-Match': `"${basedOn}"` });
    if (r.status === 412) {
      const e = (await r.json().catch(() => ({}))) as { error?: { current_revision?: number } };
      throw new PatchConflict(basedOn, e.error?.current_revision ?? -1);
    }
    return this.json(r);
  }

  async renamePatch(id: string, name: string): Promise<StoredPatch> {
    return this.json(await this.request('PATCH', `patches/${id}`, { name }));
  }
}
