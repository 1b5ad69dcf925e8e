// history.ts — the document store: the current project, every change a
// transaction, undo and redo.
//
// A transaction is an edit, a pure function from one document to the next
// (doc/edits.ts), under a label the Edit menu shows ("Move clip"). The
// store keeps whole documents on its stacks: documents are immutable and
// share every untouched object, so a step costs what the edit made new, and
// undo is putting the old value back (no inverse operations to get wrong).
//
// Coalescing: transactions given the same `coalesce` key one after another
// (the moves of one drag, the steps of one fader gesture) merge into one
// undo step that goes back to the document before the first of them. Any
// other transaction, an undo, a redo or a replace ends the run; so does
// `endCoalesce()` (call it on pointer-up to keep two drags apart).
//
// Subscribers hear every change with the document before it and why it
// changed; engine/sync.ts diffs the two by identity.
//
// Main thread only; no timers. `revision` counts every change of `doc`;
// `dirty` is whether `doc` differs from the last saved one (markSaved).

import type { ProjectDoc } from './project';

export type ChangeCause = 'edit' | 'undo' | 'redo' | 'replace';
export type DocListener = (doc: ProjectDoc, prev: ProjectDoc, cause: ChangeCause) => void;

export interface TransactOptions {
  /** Merge with the previous transaction when it had the same key. */
  readonly coalesce?: string;
}

export interface ReplaceOptions {
  /** Keep the undo and redo stacks (a document reloaded from the server
   *  after a save elsewhere); default: clear them (a project opened). */
  readonly keepHistory?: boolean;
  /** The new document is what is saved (default true: it was just opened
   *  or loaded). */
  readonly saved?: boolean;
}

interface Step {
  readonly label: string;
  readonly before: ProjectDoc;
  readonly after: ProjectDoc;
}

/** Undo steps kept; the oldest go first. */
export const UNDO_DEPTH = 500;

export class DocStore {
  private current: ProjectDoc;
  private readonly undoStack: Step[] = [];
  private readonly redoStack: Step[] = [];
  private readonly listeners = new Set<DocListener>();
  private coalesceKey: string | null = null;
  private saved: ProjectDoc | null;
  private readonly depth: number;
  /** Counts every change of `doc` (edits, undo, redo, replace). */
  revision = 0;

  constructor(doc: ProjectDoc, depth = UNDO_DEPTH) {
    this.current = doc;
    this.saved = doc;
    this.depth = Math.max(1, depth);
  }

  get doc(): ProjectDoc {
    return this.current;
  }

  /** Apply `edit` as one undo step. Returns whether the document changed
   *  (an edit returning its argument records nothing). An edit that throws
   *  changes nothing (the exception goes on to the caller). */
  transact(label: string, edit: (d: ProjectDoc) => ProjectDoc, opts: TransactOptions = {}): boolean {
    const before = this.current;
    const after = edit(before);
    if (after === before) return false;
    const key = opts.coalesce ?? null;
    const last = this.undoStack[this.undoStack.length - 1];
    if (key !== null && key === this.coalesceKey && last && last.after === before) {
      this.undoStack[this.undoStack.length - 1] = { label: last.label, before: last.before, after };
    } else {
      this.undoStack.push({ label, before, after });
      if (this.undoStack.length > this.depth) this.undoStack.splice(0, this.undoStack.length - this.depth);
    }
    this.coalesceKey = key;
    this.redoStack.length = 0;
    this.set(after, before, 'edit');
    return true;
  }

  /** End a run of coalescing transactions: the next one is a new step even
   *  with the same key. */
  endCoalesce(): void {
    this.coalesceKey = null;
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  /** The label of the step undo() would undo, or null. */
  get undoLabel(): string | null {
    return this.undoStack[this.undoStack.length - 1]?.label ?? null;
  }

  get redoLabel(): string | null {
    return this.redoStack[this.redoStack.length - 1]?.label ?? null;
  }

  /** Undo the last step; false when there is none. */
  undo(): boolean {
    const step = this.undoStack.pop();
    if (!step) return false;
    this.redoStack.push(step);
    this.coalesceKey = null;
    this.set(step.before, this.current, 'undo');
    return true;
  }

  redo(): boolean {
    const step = this.redoStack.pop();
    if (!step) return false;
    this.undoStack.push(step);
    this.coalesceKey = null;
    this.set(step.after, this.current, 'redo');
    return true;
  }

  /** Put another document in (open, load, recover). Listeners hear
   *  'replace' even when it is the same object. */
  replace(doc: ProjectDoc, opts: ReplaceOptions = {}): void {
    const prev = this.current;
    if (!opts.keepHistory) {
      this.undoStack.length = 0;
      this.redoStack.length = 0;
    }
    this.coalesceKey = null;
    if (opts.saved ?? true) this.saved = doc;
    this.set(doc, prev, 'replace');
  }

  /** Whether the document differs from the one last saved. Undoing back to
   *  the saved document makes it clean again. */
  get dirty(): boolean {
    return this.current !== this.saved;
  }

  /** The current document (or `doc`, the one a save sent, when edits came
   *  after it) is what the server has. */
  markSaved(doc: ProjectDoc = this.current): void {
    this.saved = doc;
  }

  /** The labels of the undo stack, oldest first (for a history panel). */
  get undoLabels(): readonly string[] {
    return this.undoStack.map((s) => s.label);
  }

  subscribe(fn: DocListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  private set(doc: ProjectDoc, prev: ProjectDoc, cause: ChangeCause): void {
    this.current = doc;
    this.revision++;
    for (const fn of [...this.listeners]) fn(doc, prev, cause);
  }
}
