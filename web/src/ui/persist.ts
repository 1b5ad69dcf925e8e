// persist.ts — where the project lives: the browser (IndexedDB autosave,
// api/autosave.ts) and ampd (api/ampd.ts, saved with If-Match on the
// revision the document is based on). The page's address carries the
// server project (#project=<id>), so a reload opens it again.

import { AmpdClient, type ProjectSummary, type SaveResult, type StoredProject } from '../api/ampd';
import { Autosave, chooseRecovery, readAutosave, type SaveState } from '../api/autosave';
import { ensureIds } from '../doc/edits';
import type { DocStore } from '../doc/history';
import { PROJECT_VERSION, emptyProject, type Clip, type NoteDoc, type PatchRef, type ProjectDoc } from '../doc/project';

export type SaveOutcome = { ok: true; revision: number } | { ok: false; message: string; conflict?: number };

export class Persistence {
  readonly client = new VersionOneClient();
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

// ---- the project format version the server reads ---------------------------------
//
// Adapter until ampd reads version 2 (the engine-format branch): the page's
// documents are version 2 (doc/project.ts); the ampd of this branch
// refuses "version": 2 with 422, and a built-in patch reference
// {"builtin": "epiano.amp"} (its reader knows "file" and "library"). So a
// document goes to ampd as version 1, losslessly:
// - built-in patches as {"file": "epiano.amp"} (a file name without a
//   folder comes back as the built-in patch of that name);
// - a looped clip with its notes unrolled to the clip's end (what version 1
//   plays the same), its loop length and own notes kept in its ui
//   ("v2_loop");
// - time-signature changes, the metronome and the tail rule in the
//   project's ui ("v2").
// fromServer() undoes each of these, so a saved document reloads equal.

type V2Keep = Pick<ProjectDoc, 'time_signature_changes' | 'metronome' | 'tail'>;

function mapPatches(doc: ProjectDoc, fn: (p: PatchRef) => PatchRef): ProjectDoc {
  return {
    ...doc,
    tracks: doc.tracks.map((t) => ({
      ...t,
      ...(t.patch !== undefined ? { patch: fn(t.patch) } : {}),
      ...(t.inserts ? { inserts: t.inserts.map((i) => ({ ...i, patch: fn(i.patch) })) } : {}),
    })),
  };
}

function unroll(clip: Clip): NoteDoc[] {
  const loop = clip.loop_beats ?? clip.length_beats;
  const out: NoteDoc[] = [];
  for (let off = 0; off < clip.length_beats; off += loop) {
    for (const n of clip.notes) {
      if (n.start_beat >= loop) continue;
      const s = off + n.start_beat;
      if (s >= clip.length_beats) continue;
      out.push({ ...n, start_beat: s, length_beats: Math.min(n.length_beats, clip.length_beats - s) });
    }
  }
  return out;
}

export function toServer(doc: ProjectDoc): ProjectDoc {
  const keep: V2Keep = {};
  let d: ProjectDoc = { ...doc, version: 1 };
  for (const k of ['time_signature_changes', 'metronome', 'tail'] as const) {
    if (d[k] === undefined) continue;
    (keep as Record<string, unknown>)[k] = d[k];
    const { [k]: _gone, ...rest } = d;
    d = rest as ProjectDoc;
  }
  if (Object.keys(keep).length) d = { ...d, ui: { ...d.ui, v2: keep } };
  d = {
    ...d,
    tracks: d.tracks.map((t) => (!t.clips?.some((c) => c.loop_beats !== undefined) ? t : {
      ...t,
      clips: t.clips.map((c) => {
        if (c.loop_beats === undefined) return c;
        const { loop_beats, ...rest } = c;
        return { ...rest, notes: unroll(c), ui: { ...c.ui, v2_loop: { loop_beats, notes: c.notes } } } as Clip;
      }),
    })),
  };
  return mapPatches(d, (p) =>
    (typeof p === 'object' && 'builtin' in p ? { file: p.builtin, ...(p.unit !== undefined ? { unit: p.unit } : {}) } : p));
}

export function fromServer(doc: ProjectDoc): ProjectDoc {
  if (doc.version !== 1) return doc;
  let d: ProjectDoc = { ...doc, version: PROJECT_VERSION };
  const ui = d.ui as (ProjectDoc['ui'] & { v2?: V2Keep }) | undefined;
  if (ui?.v2) {
    const { v2, ...rest } = ui;
    d = { ...d, ...v2 } as ProjectDoc;
    d = Object.keys(rest).length ? { ...d, ui: rest } : (({ ui: _u, ...r }) => r as ProjectDoc)(d);
  }
  d = {
    ...d,
    tracks: d.tracks.map((t) => ({
      ...t,
      ...(t.clips ? {
        clips: t.clips.map((c) => {
          const cu = c.ui as (Clip['ui'] & { v2_loop?: { loop_beats: number; notes: NoteDoc[] } }) | undefined;
          if (!cu?.v2_loop) return c;
          const { v2_loop, ...restUi } = cu;
          return { ...c, loop_beats: v2_loop.loop_beats, notes: v2_loop.notes, ui: restUi };
        }),
      } : {}),
    })),
  };
  return mapPatches(d, (p) =>
    (typeof p === 'object' && 'file' in p && !p.file.includes('/')
      ? { builtin: p.file, ...(p.unit !== undefined ? { unit: p.unit } : {}) } : p));
}

/** AmpdClient sending documents as toServer() makes them and reading them
 *  back with fromServer(). */
class VersionOneClient extends AmpdClient {
  override createProject(name: string, document?: ProjectDoc): Promise<ProjectSummary> {
    return super.createProject(name, document && toServer(document));
  }

  override saveProject(id: string, document: ProjectDoc, basedOn: number): Promise<SaveResult> {
    return super.saveProject(id, toServer(document), basedOn);
  }

  override async getProject(id: string): Promise<StoredProject> {
    const p = await super.getProject(id);
    return { ...p, document: fromServer(p.document) };
  }
}
