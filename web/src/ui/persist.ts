// persist.ts — where the project lives: the browser (IndexedDB autosave,
// api/autosave.ts) and ampd (api/ampd.ts, saved with If-Match on the
// revision the document is based on). The page's address carries the
// server project (#project=<id>), so a reload opens it again.

import { AmpdClient, type ProjectInfo, type SaveResult, type StoredProject } from '../api/ampd';
import { Autosave, chooseRecovery, readAutosave, type SaveState } from '../api/autosave';
import { ensureIds } from '../doc/edits';
import type { DocStore } from '../doc/history';
import { PROJECT_VERSION, emptyProject, type PatchRef, type Project } from '../doc/project';

export type SaveOutcome = { ok: true; revision: number } | { ok: false; message: string; conflict?: number };

export class Persistence {
  readonly client = new VersionOneClient();
  readonly autosave: Autosave;
  private readonly store: DocStore;
  /** Whether ampd answers (false with a plain static server). */
  server = false;
  /** Whether ampd takes version-2 documents (not the one of this branch). */
  readsVersionTwo = false;

  constructor(store: DocStore) {
    this.store = store;
    this.autosave = new Autosave(store, { delayMs: 400 });
  }

  get state(): SaveState {
    return this.autosave.state;
  }

  /** Open what the address names, else what this browser kept, else a new
   *  project. Resolves to a line for the status bar. */
  async boot(): Promise<string> {
    this.server = await this.client.available();
    const id = projectIdFromHash();
    let message = '';
    if (id && this.server) {
      try {
        message = await this.open(id);
      } catch (e) {
        message = `Could not open the project from the server (${String(e)}); a new one is open.`;
        this.fresh();
      }
    } else {
      const local = await readAutosave('local').catch(() => null);
      if (local) {
        this.store.replace(ensureIds(local.doc), { saved: false });
        this.autosave.setProject(null, 0);
        message = 'Restored the project kept in this browser.';
      } else {
        this.fresh();
      }
    }
    this.autosave.start();
    return message;
  }

  fresh(): void {
    const doc: Project = { ...emptyProject(), ui: { name: 'Untitled' } };
    this.store.replace(doc);
    this.autosave.setProject(null, 0);
    setHash(null);
  }

  async open(id: string): Promise<string> {
    const stored = await this.client.getProject(id);
    const local = await readAutosave(`server:${id}`).catch(() => null);
    const pick = chooseRecovery(local, stored.revision);
    if ((pick.pick === 'local' || pick.pick === 'conflict') && local) {
      this.store.replace(ensureIds(local.doc), { saved: false });
      this.autosave.setProject(id, local.baseRevision);
      setHash(id);
      return pick.pick === 'conflict'
        ? `Opened your unsaved edits of "${stored.name}"; the server has a newer revision (${stored.revision}).`
        : `Opened "${stored.name}" with the edits you had not saved.`;
    }
    const doc = ensureIds({ ...stored.document, ui: { ...stored.document.ui, name: stored.name } });
    this.store.replace(doc);
    this.autosave.setProject(id, stored.revision);
    setHash(id);
    return `Opened "${stored.name}" (revision ${stored.revision}).`;
  }

  async save(force = false): Promise<SaveOutcome> {
    if (!this.server) return { ok: false, message: 'No server is connected: the project is kept in this browser only.' };
    const name = typeof this.store.doc.ui?.name === 'string' ? this.store.doc.ui.name : 'Untitled';
    const v2 = versionTwoFields(this.store.doc);
    if (v2.length && !this.readsVersionTwo)
      return { ok: false, message: `This server reads project format version 1; this project uses ${v2.join(', ')} ` +
                                   '(version 2), so it is kept in this browser until the server is updated.' };
    const result = await this.autosave.save(this.client, { name, force });
    if (!result) return { ok: false, message: `Saving failed: ${this.autosave.state.error ?? 'unknown error'}` };
    if (!result.ok) return { ok: false, conflict: result.currentRevision,
                             message: `The server has a newer revision (${result.currentRevision}) of this project.` };
    setHash(this.autosave.state.serverId);
    if (result.project.name !== name) await this.client.renameProject(result.project.id, name).catch(() => undefined);
    return { ok: true, revision: result.revision };
  }

  list(): Promise<ProjectInfo[]> {
    return this.client.listProjects();
  }
}

function projectIdFromHash(): string | null {
  const m = /project=([^&]+)/.exec(location.hash);
  return m?.[1] ? decodeURIComponent(m[1]) : null;
}

function setHash(id: string | null): void {
  const url = id ? `#project=${encodeURIComponent(id)}` : location.pathname + location.search;
  history.replaceState(null, '', url);
}

// ---- the project format version the server reads ---------------------------------
//
// Adapter until ampd reads version 2 (the engine-format branch): the page's
// documents are version 2 (doc/project.ts), a superset of version 1; the
// ampd of this branch refuses "version": 2 with 422, and a built-in patch
// reference {"builtin": "epiano.amp"} (its reader knows "file" and
// "library"). A document that uses no version-2 field is sent as version
// 1 with its built-in patches as {"file": "epiano.amp"}, and comes back as
// version 2 with them as built-ins again (a file name without a folder is
// read as the built-in patch of that name); one that uses version-2
// fields is not sent (the page says which).

/** The version-2 fields a document uses (PROJECT.md). */
export function versionTwoFields(doc: Project): string[] {
  const out = new Set<string>();
  if (doc.time_signature_changes?.length) out.add('time-signature changes');
  if (doc.metronome) out.add('the metronome setting');
  if (doc.tail) out.add('the tail rule');
  for (const t of doc.tracks) for (const c of t.clips ?? []) if (c.loop_beats !== undefined) out.add('looped clips');
  return [...out];
}

function mapPatches(doc: Project, fn: (p: PatchRef) => PatchRef): Project {
  return {
    ...doc,
    tracks: doc.tracks.map((t) => ({
      ...t,
      ...(t.patch !== undefined ? { patch: fn(t.patch) } : {}),
      ...(t.inserts ? { inserts: t.inserts.map((i) => ({ ...i, patch: fn(i.patch) })) } : {}),
    })),
  };
}

export function toServer(doc: Project): Project {
  if (versionTwoFields(doc).length) return doc;
  return mapPatches({ ...doc, version: 1 }, (p) =>
    (typeof p === 'object' && 'builtin' in p ? { file: p.builtin, ...(p.unit !== undefined ? { unit: p.unit } : {}) } : p));
}

export function fromServer(doc: Project): Project {
  if (doc.version !== 1) return doc;
  return mapPatches({ ...doc, version: PROJECT_VERSION }, (p) =>
    (typeof p === 'object' && 'file' in p && !p.file.includes('/')
      ? { builtin: p.file, ...(p.unit !== undefined ? { unit: p.unit } : {}) } : p));
}

/** AmpdClient sending documents as toServer() makes them and reading them
 *  back with fromServer(). */
class VersionOneClient extends AmpdClient {
  override createProject(name: string, document?: Project): Promise<ProjectInfo> {
    return super.createProject(name, document && toServer(document));
  }

  override saveProject(id: string, document: Project, basedOn: number): Promise<SaveResult> {
    return super.saveProject(id, toServer(document), basedOn);
  }

  override async getProject(id: string): Promise<StoredProject> {
    const p = await super.getProject(id);
    return { ...p, document: fromServer(p.document) };
  }
}
