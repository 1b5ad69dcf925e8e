// api.ts — the editor's calls to ampd (server/README.md): the compile
// service, the library's files and the user's patch library. Same origin,
// the session's cookie (or none: --local), the CSRF token on writes
// (fetched from GET /api/account, again once when a write is refused with
// 403 "csrf"), as web/src/api/ampd.ts does for projects.

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

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, hint: string) {
    super(`${status} ${code}${hint ? `: ${hint}` : ''}`);
  }
}

export class EditorApi {
  private csrf: string | null = null;

  private async token(): Promise<void> {
    const r = await fetch('/api/account', { credentials: 'same-origin' });
    if (!r.ok) throw new ApiError(r.status, 'signed_out', 'sign in on the DAW page first');
    this.csrf = ((await r.json()) as { csrf: string }).csrf;
  }

  private async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {},
                        retried = false): Promise<Response> {
    const write = method !== 'GET';
    if (write && this.csrf === null) await this.token();
    const h: Record<string, string> = { ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (write && this.csrf) h['X-CSRF-Token'] = this.csrf;
    const r = await fetch(`/api/${path}`, {
      method, headers: h, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (r.status === 403 && write && !retried) {
      const e = (await r.clone().json().catch(() => ({}))) as { error?: { code?: string } };
      if (e.error?.code === 'csrf') {
        this.csrf = null;
        return this.request(method, path, body, headers, true);
      }
    }
    return r;
  }

  private async json<T>(r: Response): Promise<T> {
    const text = await r.text();
    const data = (text ? JSON.parse(text) : null) as unknown;
    if (!r.ok) {
      const e = ((data ?? {}) as { error?: { code?: string; hint?: string } }).error ?? {};
      throw new ApiError(r.status, e.code ?? 'http', e.hint ?? r.statusText);
    }
    return data as T;
  }

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
    if (!r.ok) throw new ApiError(r.status, 'module', r.statusText);
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

  async savePatch(id: string, text: string, basedOn: number): Promise<StoredPatch> {
    return this.json(await this.request('PUT', `patches/${id}`, { text }, { 'If-Match': `"${basedOn}"` }));
  }

  async renamePatch(id: string, name: string): Promise<StoredPatch> {
    return this.json(await this.request('PATCH', `patches/${id}`, { name }));
  }
}
