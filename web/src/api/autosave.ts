// autosave.ts — the document kept in IndexedDB on every change, so that a
// reload or a crash loses nothing, and the project's state against the
// server (saved, unsaved, saving, conflict).
//
// One record per project key ("server:<id>" for a project ampd keeps,
// "local" for one never saved): the document, when it was written, the
// server revision it is based on, and whether it holds edits the server
// does not have. Writes are debounced (delayMs after the last change) and
// forced on pagehide and when the page is hidden (a tab closed, a phone
// switching apps), which is when a crash-free unload still runs.
//
// Recovery (chooseRecovery): on load, the page reads the local record and
// the server's latest revision and offers the newer: the local one when it
// holds unsaved edits based on the server's current revision, the
// server's when it moved on and the local record had nothing unsaved, and
// both (a conflict, the musician picks) when each has something the other
// lacks.

import type { ChangeCause, DocStore } from '../doc/history';
import type { ProjectDoc } from '../doc/project';
import type { AmpdClient, SaveResult } from './ampd';

export interface AutosaveRecord {
  readonly key: string;
  readonly doc: ProjectDoc;
  /** Date.now() of the write. */
  readonly savedAt: number;
  /** The server project, and the revision this document is based on. */
  readonly serverId: string | null;
  readonly baseRevision: number;
  /** Edits the server does not have. */
  readonly unsaved: boolean;
}

const DB_NAME = 'amp-autosave';
const DB_VERSION = 1;
const STORE = 'projects';

function openDb(factory: IDBFactory = indexedDB): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'key' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB did not open'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB write aborted'));
  });
}

/** The record under `key`, or null. */
export async function readAutosave(key: string, factory?: IDBFactory): Promise<AutosaveRecord | null> {
  const db = await openDb(factory);
  try {
    return await new Promise<AutosaveRecord | null>((resolve, reject) => {
      const req = db.transaction(STORE, 'readonly').objectStore(STORE).get(key);
      req.onsuccess = () => resolve((req.result as AutosaveRecord | undefined) ?? null);
      req.onerror = () => reject(req.error ?? new Error('IndexedDB read failed'));
    });
  } finally {
    db.close();
  }
}

/** Every record, newest first (a "recover" list). */
export async function listAutosaves(factory?: IDBFactory): Promise<AutosaveRecord[]> {
  const db = await openDb(factory);
  try {
    const all = await new Promise<AutosaveRecord[]>((resolve, reject) => {
      const req = db.transaction(STORE, 'readonly').objectStore(STORE).getAll();
      req.onsuccess = () => resolve(req.result as AutosaveRecord[]);
      req.onerror = () => reject(req.error ?? new Error('IndexedDB read failed'));
    });
    return all.sort((a, b) => b.savedAt - a.savedAt);
  } finally {
    db.close();
  }
}

export async function writeAutosave(record: AutosaveRecord, factory?: IDBFactory): Promise<void> {
  const db = await openDb(factory);
  try {
    const tx = db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).put(record);
    await done(tx);
  } finally {
    db.close();
  }
}

export async function deleteAutosave(key: string, factory?: IDBFactory): Promise<void> {
  const db = await openDb(factory);
  try {
    const tx = db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).delete(key);
    await done(tx);
  } finally {
    db.close();
  }
}

export type Recovery =
  | { readonly pick: 'none' }
  | { readonly pick: 'local'; readonly local: AutosaveRecord }
  | { readonly pick: 'server'; readonly revision: number }
  | { readonly pick: 'conflict'; readonly local: AutosaveRecord; readonly revision: number };

/** Which document to open: the local record, or the server's revision
 *  `serverRevision` (null: no server copy). See the top of the file. */
export function chooseRecovery(local: AutosaveRecord | null, serverRevision: number | null): Recovery {
  if (!local) return serverRevision === null ? { pick: 'none' } : { pick: 'server', revision: serverRevision };
  if (serverRevision === null || serverRevision <= local.baseRevision)
    return local.unsaved || serverRevision === null ? { pick: 'local', local } : { pick: 'server', revision: serverRevision };
  return local.unsaved ? { pick: 'conflict', local, revision: serverRevision } : { pick: 'server', revision: serverRevision };
}

export type SaveStatus = 'saved' | 'unsaved' | 'saving' | 'conflict' | 'error' | 'local';

export interface SaveState {
  readonly status: SaveStatus;
  /** The server revision the document is based on (0: never saved). */
  readonly revision: number;
  readonly serverId: string | null;
  /** Date.now() of the last local write, 0 none. */
  readonly localSavedAt: number;
  /** The server's revision when status is 'conflict'; the error's text
   *  when 'error'. */
  readonly conflictRevision?: number;
  readonly error?: string;
}

export interface AutosaveOptions {
  /** Milliseconds after the last change (default 500). */
  readonly delayMs?: number;
  readonly serverId?: string | null;
  readonly revision?: number;
  readonly indexedDB?: IDBFactory;
}

export class Autosave {
  private readonly store: DocStore;
  private readonly delayMs: number;
  private readonly factory: IDBFactory | undefined;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private unsubscribe: (() => void) | null = null;
  private writing: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(s: SaveState) => void>();
  private stateValue: SaveState;
  /** The database, kept open while started, so that a write on pagehide
   *  starts at once (opening it then might not finish before the page
   *  goes). */
  private db: IDBDatabase | null = null;
  private readonly onHide = (): void => {
    void this.flush();
  };
  private readonly onVisibility = (): void => {
    if (document.visibilityState === 'hidden') void this.flush();
  };

  constructor(store: DocStore, opts: AutosaveOptions = {}) {
    this.store = store;
    this.delayMs = opts.delayMs ?? 500;
    this.factory = opts.indexedDB;
    const serverId = opts.serverId ?? null;
    this.stateValue = { status: serverId ? 'saved' : 'local', revision: opts.revision ?? 0, serverId, localSavedAt: 0 };
  }

  get key(): string {
    return this.stateValue.serverId ? `server:${this.stateValue.serverId}` : 'local';
  }

  get state(): SaveState {
    return this.stateValue;
  }

  subscribe(fn: (s: SaveState) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  private setState(s: Partial<SaveState>): void {
    this.stateValue = { ...this.stateValue, ...s } as SaveState;
    for (const fn of [...this.listeners]) fn(this.stateValue);
  }

  /** Follow the store: write after each change, and when the page goes. */
  start(): void {
    this.stop();
    this.unsubscribe = this.store.subscribe((_d, _p, cause: ChangeCause) => this.changed(cause));
    addEventListener('pagehide', this.onHide);
    document.addEventListener('visibilitychange', this.onVisibility);
    openDb(this.factory).then((db) => {
      if (this.unsubscribe) this.db = db;
      else db.close();
    }, (e: unknown) => console.warn(`autosave: ${String(e)}`));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    removeEventListener('pagehide', this.onHide);
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', this.onVisibility);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.db?.close();
    this.db = null;
  }

  /** The project is now server project `serverId` at `revision` (opened,
   *  created, or loaded). */
  setProject(serverId: string | null, revision: number): void {
    this.setState({ serverId, revision, status: serverId ? (this.store.dirty ? 'unsaved' : 'saved') : 'local' });
  }

  private changed(_cause: ChangeCause): void {
    if (this.stateValue.serverId && this.stateValue.status !== 'saving' && this.stateValue.status !== 'conflict')
      this.setState({ status: this.store.dirty ? 'unsaved' : 'saved' });
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.delayMs);
  }

  /** Write the current document now (resolves when it is in IndexedDB). */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const record: AutosaveRecord = {
      key: this.key,
      doc: this.store.doc,
      savedAt: Date.now(),
      serverId: this.stateValue.serverId,
      baseRevision: this.stateValue.revision,
      unsaved: this.store.dirty || !this.stateValue.serverId,
    };
    const db = this.db;
    let write: Promise<void>;
    if (db) {
      // The transaction starts now, not after earlier writes resolve:
      // IndexedDB runs a store's readwrite transactions in order anyway.
      try {
        const tx = db.transaction(STORE, 'readwrite');
        tx.objectStore(STORE).put(record);
        write = done(tx);
      } catch (e) {
        write = Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    } else {
      write = this.writing.then(() => writeAutosave(record, this.factory));
    }
    this.writing = write.then(
      () => this.setState({ localSavedAt: record.savedAt }),
      (e: unknown) => console.warn(`autosave: ${String(e)}`));
    return this.writing;
  }

  /** Save to the server: a new project (named `name`) when there is none
   *  yet, else a revision after the one the document is based on. A stale
   *  base is status 'conflict' with the server's revision (nothing
   *  written; the caller offers reload or overwrite: overwrite is
   *  save(client, { force: true })). */
  async save(client: AmpdClient, opts: { name?: string; force?: boolean } = {}): Promise<SaveResult | null> {
    const doc = this.store.doc;
    this.setState({ status: 'saving' });
    try {
      let result: SaveResult;
      if (!this.stateValue.serverId) {
        const info = await client.createProject(opts.name ?? doc.ui?.name ?? 'Untitled', doc);
        await deleteAutosave('local', this.factory).catch(() => undefined);
        result = { ok: true, revision: info.revision, project: info };
        this.setState({ serverId: info.id });
      } else {
        let base = this.stateValue.revision;
        if (opts.force && this.stateValue.conflictRevision !== undefined) base = this.stateValue.conflictRevision;
        result = await client.saveProject(this.stateValue.serverId, doc, base);
      }
      if (result.ok) {
        this.store.markSaved(doc);
        this.setState({ status: this.store.dirty ? 'unsaved' : 'saved', revision: result.revision });
        await this.flush();
      } else {
        this.setState({ status: 'conflict', conflictRevision: result.currentRevision });
      }
      return result;
    } catch (e) {
      this.setState({ status: 'error', error: String(e) });
      return null;
    }
  }
}
