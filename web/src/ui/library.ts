// library.ts — the user's patch library in the DAW (issue 12 item 5).
//
// A project names a patch of its owner's library pinned to a revision,
// {"library": id, "revision": n} (runtime/formats/PROJECT.md). The page
// plays one by compiling that revision's text with ampd's compile service
// (POST /api/compile: diagnostics, metadata, the module's URL; cached on
// the server by content hash) and loading the module into the engine
// running in the worklet (engine/modules.ts loadModuleIntoWorklet). The
// engine knows a module by a built-in name, here
// `library/<id>-r<n>.amp` (libraryBuiltin), which is also how the export
// worker's project render finds it: exportParts rewrites each library
// reference to {"builtin": "library/<id>-r<n>.amp"} and hands the worker
// the same modules, so the export is the render of the same text that
// `amp render` of the project's bundle compiles natively
// (GET /api/projects/{id}/bundle rewrites the references to the texts).
//
// The registry (registry()) extends engine.json's: a library reference's
// index is its module's patch id - 1 in the running engine, -1 while it is
// not loaded (the sync layer then leaves the instrument out; the DAW loads
// the modules a document names and sends those tracks again:
// Daw.loadLibraryPatches).

import { LibraryApi, type PatchEntry } from '../api/patches';
import type { PatchRef, ProjectDoc } from '../doc/project';
import type { CompiledMeta } from '../editor/api';
import type { ManifestPatch } from '../engine/layout';
import { loadModuleIntoWorklet, type ModuleRequest } from '../engine/modules';
import { manifestRegistry, type PatchRegistry } from '../engine/sink';

export type LibraryRef = { readonly library: string; readonly revision: number; readonly unit?: string };

/** One revision of a library patch, compiled. */
export interface CompiledLibraryPatch {
  id: string;
  revision: number;
  meta: CompiledMeta;
  /** The compile service's key (the module's content hash). */
  key: string;
  module: WebAssembly.Module;
  /** Its bytes (the worklet compiles its own copy). */
  bytes: ArrayBuffer;
  /** The name the engines know its module by. */
  builtin: string;
}

export function isLibraryRef(ref: PatchRef | undefined): ref is LibraryRef {
  return typeof ref === 'object' && ref !== null && 'library' in ref;
}

/** The engines' name of a library patch's module. */
export function libraryBuiltin(id: string, revision: number): string {
  return `library/${id}-r${revision}.amp`;
}

function refKey(id: string, revision: number): string {
  return `${id}@${revision}`;
}

/** Every library reference of a document (instruments and inserts). */
export function libraryRefs(doc: ProjectDoc): LibraryRef[] {
  const out: LibraryRef[] = [];
  for (const t of doc.tracks) {
    if (isLibraryRef(t.patch)) out.push(t.patch);
    for (const i of t.inserts ?? []) if (isLibraryRef(i.patch)) out.push(i.patch);
  }
  return out;
}

export class LibraryError extends Error {}

export class PatchLibrary {
  readonly api = new LibraryApi();
  /** The last list: the user's patches (builtin false), then the built-in
   *  files. */
  entries: PatchEntry[] = [];
  /** Whether ampd answered the last list. */
  available = false;
  /** Whether ampd has storage (GET /api/health; the DAW sets it at boot):
   *  refreshSoon asks only then. */
  enabled = false;
  private readonly compiled = new Map<string, Promise<CompiledLibraryPatch>>();
  private readonly done = new Map<string, CompiledLibraryPatch>();
  private readonly names = new Map<string, string>();
  /** Per engine (its worklet node): ref key -> patch id, and patch id ->
   *  the compiled patch. */
  private readonly loaded = new WeakMap<object, Map<string, number>>();
  private readonly byId = new WeakMap<object, Map<number, CompiledLibraryPatch>>();
  private readonly loading = new WeakMap<object, Map<string, Promise<number>>>();
  readonly listeners = new Set<() => void>();
  /** Bumped by every refresh (useLibrary's snapshot). */
  version = 0;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** GET /api/patches. */
  async refresh(): Promise<PatchEntry[]> {
    try {
      this.entries = await this.api.listPatches();
      this.available = true;
    } catch {
      this.entries = [];
      this.available = false;
    }
    for (const e of this.entries) if (e.id) this.names.set(e.id, e.name);
    this.notify();
    return this.entries;
  }

  /** Tell the views something changed (a patch compiled). */
  notify(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  /** The latest revision of library patch `id` in the last list. */
  latestRevision(id: string): number | undefined {
    return this.entries.find((e) => e.id === id)?.revision;
  }

  private lastAsk = -Infinity;

  /** Read the list when a picker opens (at most every 2 s). The list is
   *  not read before the user looks for it, nor from an ampd without
   *  storage (it would answer 503, which the browser reports as an error). */
  refreshSoon(): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.lastAsk < 2000) return;
    this.lastAsk = now;
    void this.refresh();
  }

  /** The user's patches of the last list. */
  userPatches(): PatchEntry[] {
    return this.entries.filter((e) => !e.builtin && e.id);
  }

  nameOf(id: string, _revision?: number): string | undefined {
    return this.names.get(id);
  }

  /** The compiled patch of a reference already compiled, or undefined. */
  compiledOf(id: string, revision: number): CompiledLibraryPatch | undefined {
    return this.done.get(refKey(id, revision));
  }

  /** Compile one revision (once per page; the server caches across pages). */
  compile(id: string, revision: number): Promise<CompiledLibraryPatch> {
    const key = refKey(id, revision);
    let p = this.compiled.get(key);
    if (!p) {
      p = this.compileNow(id, revision);
      this.compiled.set(key, p);
      p.then((c) => this.done.set(key, c), () => this.compiled.delete(key));
    }
    return p;
  }

  private async compileNow(id: string, revision: number): Promise<CompiledLibraryPatch> {
    const { text } = await this.api.revisionText(id, revision);
    const answer = await this.api.compile(text);
    const name = this.names.get(id) ?? id;
    if (!answer.ok || !answer.module || !answer.metadata || !answer.key)
      throw new LibraryError(`patch "${name}" revision ${revision} does not compile:\n${answer.diagnostics}`);
    const bytes = await this.api.moduleBytes(answer.module);
    const module = await WebAssembly.compile(bytes);
    return { id, revision, meta: answer.metadata, key: answer.key, module, bytes, builtin: libraryBuiltin(id, revision) };
  }

  /** Compile (if needed) and load a reference into the engine of `node`;
   *  resolves to its patch id there. */
  load(node: AudioWorkletNode, id: string, revision: number): Promise<number> {
    const key = refKey(id, revision);
    const have = this.loaded.get(node)?.get(key);
    if (have !== undefined) return Promise.resolve(have);
    let pending = this.loading.get(node);
    if (!pending) this.loading.set(node, pending = new Map());
    let p = pending.get(key);
    if (!p) {
      p = (async () => {
        const c = await this.compile(id, revision);
        const reply = await loadModuleIntoWorklet(node, c.bytes, { builtin: c.builtin, unit: c.meta.name });
        let ids = this.loaded.get(node);
        if (!ids) this.loaded.set(node, ids = new Map());
        ids.set(key, reply.patchId);
        let by = this.byId.get(node);
        if (!by) this.byId.set(node, by = new Map());
        by.set(reply.patchId, c);
        return reply.patchId;
      })();
      pending.set(key, p);
      p.finally(() => pending!.delete(key)).catch(() => undefined);
    }
    return p;
  }

  /** Whether every library reference of `doc` is loaded into `node`. */
  allLoaded(node: AudioWorkletNode | null, doc: ProjectDoc): boolean {
    const ids = node ? this.loaded.get(node) : undefined;
    return libraryRefs(doc).every((r) => ids?.has(refKey(r.library, r.revision)));
  }

  /** engine.json's registry plus the library modules loaded into the
   *  engine `node()` returns (the session's current one). */
  registry(manifest: readonly ManifestPatch[], node: () => AudioWorkletNode | null): PatchRegistry {
    const builtins = manifestRegistry(manifest);
    return {
      indexOf: (ref) => {
        if (!isLibraryRef(ref)) return builtins.indexOf(ref);
        const n = node();
        const id = n ? this.loaded.get(n)?.get(refKey(ref.library, ref.revision)) : undefined;
        return id === undefined ? -1 : id - 1;
      },
      paramIndex: (patch, name) => {
        if (patch < manifest.length) return builtins.paramIndex(patch, name);
        const n = node();
        const c = n ? this.byId.get(n)?.get(patch + 1) : undefined;
        return c?.meta.params.find((p) => p.name === name)?.index ?? -1;
      },
      sampleSlot: (patch, name) => {
        if (patch < manifest.length) return builtins.sampleSlot?.(patch, name) ?? -1;
        const n = node();
        const c = n ? this.byId.get(n)?.get(patch + 1) : undefined;
        return c?.meta.samples?.indexOf(name) ?? -1;
      },
    };
  }

  /** The document as the export worker renders it, and the modules it
   *  needs: each library reference as {"builtin": libraryBuiltin(...)}. */
  async exportParts(doc: ProjectDoc): Promise<{ doc: ProjectDoc; modules: Omit<ModuleRequest, 'type' | 'id'>[] }> {
    const refs = libraryRefs(doc);
    if (!refs.length) return { doc, modules: [] };
    const modules: Omit<ModuleRequest, 'type' | 'id'>[] = [];
    const seen = new Set<string>();
    for (const r of refs) {
      const key = refKey(r.library, r.revision);
      if (seen.has(key)) continue;
      seen.add(key);
      const c = await this.compile(r.library, r.revision);
      modules.push({ module: c.module, builtin: c.builtin, unit: c.meta.name });
    }
    const rewrite = (ref: PatchRef | undefined): PatchRef | undefined =>
      isLibraryRef(ref) ? { builtin: libraryBuiltin(ref.library, ref.revision), ...(ref.unit ? { unit: ref.unit } : {}) } : ref;
    const tracks = doc.tracks.map((t) => {
      let next = t;
      if (isLibraryRef(t.patch)) next = { ...next, patch: rewrite(t.patch)! };
      if (t.inserts?.some((i) => isLibraryRef(i.patch)))
        next = { ...next, inserts: t.inserts.map((i) => (isLibraryRef(i.patch) ? { ...i, patch: rewrite(i.patch)! } : i)) };
      return next;
    });
    return { doc: { ...doc, tracks }, modules };
  }
}
