// persist.ts — where the project lives: the browser (IndexedDB autosave,
// api/autosave.ts) and ampd (api/ampd.ts, saved with If-Match on the
// revision the document is based on). The page's address carries the
// server project (#project=<id>), so a reload opens it again. Documents go
// to ampd as they are: project format version 2, built-in patches as
// {"builtin": "epiano.amp", "unit"?} (ampd checks them against its
// --library folder), audio regions by asset hash.

import { AmpdClient, type ProjectSummary } from '../api/ampd';
import { Autosave, chooseRecovery, readAutosave, type SaveState } from '../api/autosave';
import { ensureIds } from '../doc/edits';
import type { DocStore } from '../doc/history';
import { emptyProject, type ProjectDoc } from '../doc/project';

export type SaveOutcome = { ok: true; revision: number } | { ok: false; message: string; conflict?: number };

export class Persistence {
  readonly client = new AmpdClient();
  readonly autosave: Autosave;
  private readonly store: DocStore;
  /** Whether ampd answers (false with a plain static server). */
  server = false;

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
    const doc: ProjectDoc = { ...emptyProject(), ui: { name: 'Untitled' } };
    this.store.replace(doc);
    this.autosave.setProject(null, 0);
    setHash(null);
  }

  async open(id: string, server = false): Promise<string> {
    const stored = await this.client.getProject(id);
    const local = server ? null : await readAutosave(`server:${id}`).catch(() => null);
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
    const result = await this.autosave.save(this.client, { name, force });
    if (!result) return { ok: false, message: `Saving failed: ${this.autosave.state.error ?? 'unknown error'}` };
    if (!result.ok) return { ok: false, conflict: result.currentRevision,
                             message: `The server has a newer revision (${result.currentRevision}) of this project.` };
    setHash(this.autosave.state.serverId);
    if (result.project.name !== name) await this.client.renameProject(result.project.id, name).catch(() => undefined);
    return { ok: true, revision: result.revision };
  }

  list(): Promise<ProjectSummary[]> {
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
