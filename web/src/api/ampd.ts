// ampd.ts — the page's client of ampd's JSON API (server/README.md).
//
// Same origin, cookies of the session (or none in --local mode: a loopback
// request without a cookie is the local user). Every write carries the
// session's CSRF token in X-CSRF-Token; the client fetches it from
// GET /api/account when it has none, and once again when a write is
// refused with 403 "csrf" (a restarted server makes new tokens).
//
// Projects are saved with If-Match on the revision they were based on; a
// save against a stale revision is not an exception but a result,
// { ok: false, conflict: true, currentRevision }, so the caller decides
// (reload, overwrite, save a copy). Errors are AmpdError with the
// server's code and hint.

import type { ProjectDoc } from '../doc/project';

export interface AmpdUser {
  readonly name: string;
  readonly local: boolean;
}

export interface ProjectSummary {
  readonly id: string;
  readonly name: string;
  readonly revision: number;
  readonly created_at: number;
  readonly updated_at: number;
  readonly shared: boolean;
}

export interface StoredProject {
  readonly id: string;
  readonly name: string;
  readonly revision: number;
  readonly updated_at: number;
  readonly document: ProjectDoc;
}

export interface RevisionInfo {
  readonly revision: number;
  readonly created_at: number;
  readonly size?: number;
}

export interface AssetInfo {
  readonly hash: string;
  readonly name: string;
  readonly size: number;
  readonly format: string;
  readonly created_at: number;
}

export type SaveResult =
  | { readonly ok: true; readonly revision: number; readonly project: ProjectSummary }
  | { readonly ok: false; readonly conflict: true; readonly currentRevision: number };

/** How many times a request answered 503 `busy` is sent again. */
const BUSY_TRIES = 5;

export class AmpdError extends Error {
  readonly status: number;
  readonly code: string;
  readonly hint: string;
  constructor(status: number, code: string, hint: string) {
    super(`${status} ${code}${hint ? `: ${hint}` : ''}`);
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

interface ErrorBody {
  error?: { code?: string; hint?: string; current_revision?: number };
}

type Json = Record<string, unknown>;

export class AmpdClient {
  private readonly base: string;
  private csrf: string | null = null;
  /** The signed-in user (or the local one), once known. */
  user: AmpdUser | null = null;

  /** `base`: where /api/ is, e.g. location.origin (default: this page's). */
  constructor(base = '') {
    this.base = base.replace(/\/$/, '');
  }

  private url(path: string): string {
    return `${this.base}/api/${path}`;
  }

  /** One call to ampd: the CSRF token on writes (fetched once, again
   *  after a 403 csrf); a 503 `busy` (a full worker queue, every compiler
   *  busy: ampd did nothing) is tried again after its Retry-After, up to
   *  BUSY_TRIES times. For the clients built on this one (editor/api.ts). */
  protected async request(method: string, path: string, body?: unknown,
                        headers: Record<string, string> = {}, retried = false, busyTries = 0): Promise<Response> {
    const write = method !== 'GET' && method !== 'HEAD';
    if (write && this.csrf === null) await this.account().catch(() => null);
    const h: Record<string, string> = { ...headers };
    if (body !== undefined && !(body instanceof Blob) && !(body instanceof ArrayBuffer)) h['Content-Type'] = 'application/json';
    if (write && this.csrf) h['X-CSRF-Token'] = this.csrf;
    const init: RequestInit = { method, headers: h, credentials: 'same-origin' };
    if (body !== undefined)
      init.body = body instanceof Blob || body instanceof ArrayBuffer ? body : JSON.stringify(body);
    const r = await fetch(this.url(path), init);
    if (r.status === 503 && busyTries < BUSY_TRIES) {
      const e = (await r.clone().json().catch(() => ({}))) as ErrorBody;
      const after = Number(r.headers.get('Retry-After') ?? '1');
      if (e.error?.code === 'busy' && after >= 0 && after <= 10) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(after, 0.25) * 1000));
        return this.request(method, path, body, headers, retried, busyTries + 1);
      }
    }
    if (r.status === 403 && write && !retried) {
      const e = (await r.clone().json().catch(() => ({}))) as ErrorBody;
      if (e.error?.code === 'csrf') {
        this.csrf = null;
        return this.request(method, path, body, headers, true, busyTries);
      }
    }
    return r;
  }

  protected async json<T>(r: Response): Promise<T> {
    const text = await r.text();
    const data = (text ? JSON.parse(text) : null) as unknown;
    if (!r.ok) {
      const e = (data ?? {}) as ErrorBody;
      throw new AmpdError(r.status, e.error?.code ?? 'http', e.error?.hint ?? r.statusText);
    }
    return data as T;
  }

  // ---- the server and the account --------------------------------------------------------

  /** Whether ampd has a data folder (projects, the patch library), as
   *  its last GET /api/health said. */
  storage = false;

  /** Whether ampd answers (a static server has no /api/). */
  async available(): Promise<boolean> {
    try {
      const r = await fetch(this.url('health'), { credentials: 'same-origin' });
      if (r.ok) this.storage = ((await r.json().catch(() => ({}))) as { storage?: unknown }).storage === true;
      return r.ok;
    } catch {
      return false;
    }
  }

  /** The caller, or null when nobody is signed in (401). Fetches the CSRF
   *  token. */
  async account(): Promise<AmpdUser | null> {
    const r = await fetch(this.url('account'), { credentials: 'same-origin' });
    if (r.status === 401) {
      this.user = null;
      this.csrf = null;
      return null;
    }
    const body = await this.json<{ user: AmpdUser; csrf: string }>(r);
    this.user = body.user;
    this.csrf = body.csrf;
    return body.user;
  }

  async signUp(name: string, password: string): Promise<AmpdUser> {
    return this.session(await this.request('POST', 'account/signup', { name, password }));
  }

  async signIn(name: string, password: string): Promise<AmpdUser> {
    return this.session(await this.request('POST', 'account/signin', { name, password }));
  }

  private async session(r: Response): Promise<AmpdUser> {
    const body = await this.json<{ user: AmpdUser; csrf: string }>(r);
    this.user = body.user;
    this.csrf = body.csrf;
    return body.user;
  }

  async signOut(): Promise<void> {
    await this.json<null>(await this.request('POST', 'account/signout'));
    this.user = null;
    this.csrf = null;
  }

  // ---- projects ----------------------------------------------------------------------------

  async listProjects(): Promise<ProjectSummary[]> {
    return (await this.json<{ projects: ProjectSummary[] }>(await this.request('GET', 'projects'))).projects;
  }

  async createProject(name: string, document?: ProjectDoc): Promise<ProjectSummary> {
    return this.json<ProjectSummary>(await this.request('POST', 'projects', document ? { name, document } : { name }));
  }

  async getProject(id: string): Promise<StoredProject> {
    const body = await this.json<Omit<StoredProject, 'id'>>(await this.request('GET', `projects/${encodeURIComponent(id)}`));
    return { ...body, id };
  }

  /** Save `document` as the revision after `basedOn`. A stale `basedOn` is
   *  { ok: false, conflict: true, currentRevision }: nothing was written. */
  async saveProject(id: string, document: ProjectDoc, basedOn: number): Promise<SaveResult> {
    const r = await this.request('PUT', `projects/${encodeURIComponent(id)}`, document, { 'If-Match': `"${basedOn}"` });
    if (r.status === 412) {
      const e = (await r.json().catch(() => ({}))) as ErrorBody;
      return { ok: false, conflict: true, currentRevision: e.error?.current_revision ?? -1 };
    }
    const project = await this.json<ProjectSummary>(r);
    return { ok: true, revision: project.revision, project };
  }

  async renameProject(id: string, name: string): Promise<ProjectSummary> {
    return this.json<ProjectSummary>(await this.request('PATCH', `projects/${encodeURIComponent(id)}`, { name }));
  }

  async deleteProject(id: string): Promise<void> {
    await this.json<null>(await this.request('DELETE', `projects/${encodeURIComponent(id)}`));
  }

  async duplicateProject(id: string, name?: string): Promise<ProjectSummary> {
    return this.json<ProjectSummary>(await this.request('POST', `projects/${encodeURIComponent(id)}/duplicate`,
                                                     name === undefined ? {} : { name }));
  }

  async revisions(id: string): Promise<RevisionInfo[]> {
    const body = await this.json<{ revisions: RevisionInfo[] } | RevisionInfo[]>(
      await this.request('GET', `projects/${encodeURIComponent(id)}/revisions`));
    return Array.isArray(body) ? body : body.revisions;
  }

  async revision(id: string, n: number): Promise<ProjectDoc> {
    const body = await this.json<Json>(await this.request('GET', `projects/${encodeURIComponent(id)}/revisions/${n}`));
    return (body['document'] ?? body) as ProjectDoc;
  }

  // ---- assets -------------------------------------------------------------------------------

  /** Upload an audio file; the same content again is the same asset. */
  async uploadAsset(file: Blob, name: string): Promise<AssetInfo> {
    return this.json<AssetInfo>(await this.request('POST', `assets?name=${encodeURIComponent(name)}`, file,
                                                   { 'Content-Type': file.type || 'application/octet-stream' }));
  }

  assetUrl(hash: string): string {
    return this.url(`assets/${hash}`);
  }

  async fetchAsset(hash: string): Promise<ArrayBuffer> {
    const r = await fetch(this.assetUrl(hash), { credentials: 'same-origin' });
    if (!r.ok) throw new AmpdError(r.status, 'asset', `asset ${hash}`);
    return r.arrayBuffer();
  }
}
