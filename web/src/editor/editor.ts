// editor.ts — the patch editor page (editor.html): write a patch in the
// browser, see ampc's diagnostics inline as you type, hear it.
//
// 300 ms after the last keystroke (@codemirror/lint's delay) the text is
// checked by ampc itself, compiled to WebAssembly and run in a worker
// (ampc-worker.ts, no server round trip); its diagnostics, ampc's own
// lines, go inline at their line and column. A text the worker finds
// correct is compiled by ampd's compile service (POST /api/compile) for its
// module; a text that imports Faust, or any text when the worker cannot
// start (the page says so), is checked by the server. When a compile is
// ok, its module (GET /api/compile/KEY.wasm) is loaded into the page's
// running engine and becomes track 0's instrument (player.ts); a failed
// compile leaves the last good patch playing. Notes from the computer
// keyboard (when the editor does not have the focus) or the on-screen keys;
// sliders for the patch's params. Save and open in the user's patch
// library (/api/patches).
//
// The engine's guards: when the signal guard silences the patch (NaN, Inf,
// a level past its ceiling) or the master's safety limit clips, the Play
// panel says so, naming the patch, from the same telemetry and sentences
// as the DAW (engine/telemetry.ts, ui/faults.tsx faultLines). Two tabs on
// one library patch: a save in one is announced on the `amp-patches`
// BroadcastChannel; the other offers to load the new revision, and a save
// of its own stale text is refused by ampd (412) and said so, the text
// kept in the editor, with "Load theirs" and "Save mine over it".

import { EditorState, type Extension } from '@codemirror/state';
import {
  EditorView, crosshairCursor, drawSelection, dropCursor, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, keymap, lineNumbers, rectangularSelection,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import {
  bracketMatching, foldGutter, foldKeymap, HighlightStyle, indentOnInput, syntaxHighlighting,
} from '@codemirror/language';
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { forEachDiagnostic, linter, lintGutter, lintKeymap, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { tags as t } from '@lezer/highlight';
import { ampCompletions, ampHover, ampLanguage, ampTokenClasses, scanLibrary, type NodeInfo } from './amp-lang';
import { AmpcChecker, diagnosticRange, parseAmpcDiagnostics, type WorkerCheck } from './diagnostics';
import { EditorApi, PatchConflict, type CompileAnswer, type PatchEntry } from './api';
import { Telemetry, type TelemetrySnapshot } from '../engine/telemetry';
import { PAGE_TRACK } from '../engine/layout';
import { faultLines } from '../ui/faults';
import { emptyProject, type ProjectDoc } from '../doc/project';
import { addTrack } from '../doc/edits';
import { Player } from './player';

const STARTER = `// A new patch: a sine with an envelope. Edit it: it compiles as you type.
import "std/osc.amp";
import "std/env.amp";

patch my_synth {
  voices 8 steal oldest;
  param level = -12 db in [-60 db, 0 db] smooth 20 ms;
  param attack = 5 ms in [1 ms, 2 s];

  voice {
    osc = sine(freq: note.freq);
    env = adsr(attack: attack, decay: 200 ms, sustain: 0.7, release: 300 ms, gate: note.gate);
    osc.y * env.y * note.vel -> out;
  }

  voices * level -> out;
}
`;

// ---- the look: the DAW's palette (style.css) -----------------------------------

const theme = EditorView.theme({
  '&': { height: '100%', color: '#d9dee7', backgroundColor: '#15171c', fontSize: '13.5px' },
  '.cm-scroller': { fontFamily: '"JetBrains Mono", "Fira Code", "DejaVu Sans Mono", ui-monospace, monospace', lineHeight: '1.55' },
  '.cm-content': { caretColor: '#4cc2ff', padding: '10px 0' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: '#4cc2ff', borderLeftWidth: '2px' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: '#2d4a63 !important' },
  '.cm-activeLine': { backgroundColor: '#1c1f2699' },
  '.cm-gutters': { backgroundColor: '#1c1f26', color: '#5c6577', border: 'none', borderRight: '1px solid #2c313c' },
  '.cm-activeLineGutter': { backgroundColor: '#232731', color: '#d9dee7' },
  '&.cm-focused .cm-matchingBracket': { backgroundColor: '#4cc2ff33', outline: '1px solid #4cc2ff88' },
  '&.cm-focused .cm-nonmatchingBracket': { backgroundColor: '#ff4d4d44' },
  '.cm-tooltip': { backgroundColor: '#232731', border: '1px solid #3a4150', color: '#d9dee7', borderRadius: '6px' },
  '.cm-tooltip-autocomplete > ul > li[aria-selected]': { backgroundColor: '#2d4a63', color: '#fff' },
  '.cm-completionDetail': { color: '#8a93a3', marginLeft: '0.6em' },
  '.cm-completionInfo': { whiteSpace: 'pre-wrap', maxWidth: '28em' },
  '.cm-diagnostic-error': { borderLeft: '3px solid #ff4d4d' },
  '.cm-diagnostic-warning': { borderLeft: '3px solid #ffd24c' },
  '.cm-lintRange-error': { backgroundImage: 'none', textDecoration: 'underline wavy #ff4d4d', textUnderlineOffset: '3px' },
  '.cm-lintRange-warning': { backgroundImage: 'none', textDecoration: 'underline wavy #ffd24c', textUnderlineOffset: '3px' },
  '.cm-foldPlaceholder': { backgroundColor: '#2a2f3a', border: 'none', color: '#8a93a3' },
}, { dark: true });

const highlight = HighlightStyle.define([
  { tag: t.keyword, color: '#c792ea' },
  { tag: t.unit, color: '#ffb86b' },
  { tag: t.number, color: '#f78c6c' },
  { tag: t.string, color: '#a5d977' },
  { tag: t.comment, color: '#6b7487', fontStyle: 'italic' },
  { tag: t.operator, color: '#89ddff' },
  { tag: t.punctuation, color: '#8a93a3' },
  { tag: t.atom, color: '#4cc2ff' },
  { tag: t.standard(t.function(t.variableName)), color: '#4cc2ff', fontWeight: '600' },
  { tag: t.definition(t.function(t.variableName)), color: '#82aaff', fontWeight: '600' },
  { tag: t.function(t.variableName), color: '#82aaff' },
  { tag: t.special(t.operator), color: '#c792ea' },
  { tag: t.definition(t.variableName), color: '#ffcb6b' },
  { tag: t.namespace, color: '#ffcb6b' },
  { tag: t.variableName, color: '#d9dee7' },
]);

// ---- the page --------------------------------------------------------------------

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const KEYBOARD = 'awsedftgyhujkolp;';   // C4 upwards, the white keys on the home row
const BASE_KEY = 60;

interface CompileRecord {
  seq: number;
  text: string;
  answer: CompileAnswer | null;
  error: string | null;
  ms: number;
  /** Who found the diagnostics: ampc.wasm in the worker, or the server. */
  from: 'worker' | 'server';
  /** Set when the module is playing: the time from the request to it. */
  playingMs?: number;
  loadMs?: number;
  /** performance.now() of the last edit of the text (the keystroke), and
   *  from it to the module playing. */
  editAt?: number;
  keyToSoundMs?: number;
}

class EditorPage {
  readonly api = new EditorApi();
  readonly player = new Player();
  /** ampc.wasm in a worker: the diagnostics as you type (ampc-worker.ts). */
  readonly checker = new AmpcChecker(new URL('ampc-worker.js', location.href).href);
  /** The worker's last check of the text, for the tests and the benchmark. */
  lastCheck: (WorkerCheck & { seq: number; text: string }) | null = null;
  library: NodeInfo[] = [];
  view!: EditorView;
  seq = 0;
  last: CompileRecord | null = null;
  loads = 0;
  patchId: string | null = null;
  revision = 0;
  private status!: HTMLElement;
  private problems!: HTMLElement;
  private checkerNote!: HTMLElement;
  private params!: HTMLElement;
  private nameInput!: HTMLInputElement;
  private openSelect!: HTMLSelectElement;
  private soundState!: HTMLElement;
  private startButton!: HTMLButtonElement;
  private keys = new Map<number, HTMLElement>();
  /** performance.now() of the last change of the text. */
  lastEditAt = 0;
  /** The guards' reports (the DAW's telemetry on this page's engine): a
   *  one-track document naming the patch track 0 plays. */
  readonly telemetry = new Telemetry({ snapshot: () => this.player.client?.snapshot() ?? null },
                                     (id) => (id === this.faultTrack ? PAGE_TRACK : -1));
  private faultDoc: ProjectDoc = emptyProject();
  private faultTrack = -1;
  private faultVersion = -1;
  private faultBox!: HTMLElement;
  private faultText!: HTMLElement;
  /** A newer revision of the open patch saved elsewhere (0: none known). */
  newerRevision = 0;
  private notice!: HTMLElement;

  mount(root: HTMLElement): void {
    root.innerHTML = '';
    const page = el('div', { class: 'ed' });
    const top = el('header', { class: 'ed-top' });
    top.append(el('span', { class: 'ed-brand' }, 'Amplitude'), el('span', { class: 'ed-title' }, 'Patch editor'));
    this.nameInput = el('input', { type: 'text', class: 'ed-name', 'aria-label': 'Patch name', value: 'my_synth' });
    this.openSelect = el('select', { class: 'ed-open', 'aria-label': 'Open a patch' });
    const save = el('button', { class: 'ed-button', 'data-testid': 'save' }, 'Save');
    save.onclick = () => void this.save();
    this.openSelect.onchange = () => void this.open(this.openSelect.value);
    const daw = el('a', { class: 'ed-link', href: './' }, 'DAW ↗');
    this.status = el('span', { class: 'ed-status', role: 'status' });
    top.append(this.nameInput, save, this.openSelect, this.status, el('span', { class: 'ed-spacer' }), daw);

    const main = el('div', { class: 'ed-main' });
    const code = el('div', { class: 'ed-code' });
    const side = el('aside', { class: 'ed-side' });
    main.append(code, side);

    // Play panel.
    const play = el('section', { class: 'ed-panel' });
    play.append(el('h2', {}, 'Play'));
    this.startButton = el('button', { class: 'ed-button primary', id: 'start' }, 'Start audio');
    this.startButton.onclick = () => void this.startAudio();
    this.soundState = el('div', { class: 'ed-sound' }, 'Audio is off.');
    this.faultBox = el('div', { class: 'ed-fault', role: 'alert', hidden: '' });
    this.faultText = el('div', { class: 'ed-fault-text' });
    const dismiss = el('button', { class: 'ed-button' }, 'Dismiss');
    dismiss.onclick = () => this.telemetry.dismissFaults();
    this.faultBox.append(this.faultText, dismiss);
    play.append(this.startButton, this.soundState, this.faultBox);
    const kb = el('div', { class: 'ed-keys', tabindex: '0', 'aria-label': 'Keyboard: click, or type A W S E D… here' });
    for (let i = 0; i < 13; i++) {
      const key = BASE_KEY + i;
      const black = [1, 3, 6, 8, 10].includes(i % 12);
      const k = el('div', { class: `ed-key${black ? ' black' : ''}`, 'data-key': String(key) }, KEYBOARD[i]?.toUpperCase() ?? '');
      k.onpointerdown = (e) => { e.preventDefault(); kb.focus(); this.noteOn(key); k.setPointerCapture(e.pointerId); };
      k.onpointerup = () => this.noteOff(key);
      k.onpointercancel = () => this.noteOff(key);
      this.keys.set(key, k);
      kb.appendChild(k);
    }
    play.append(kb, el('div', { class: 'ed-hint' }, 'Click the keys, or type A W S E D F T G Y H U J K with the editor unfocused (Esc).'));
    this.params = el('div', { class: 'ed-params' });
    play.append(el('h2', {}, 'Params'), this.params);
    side.append(play);
    const probs = el('section', { class: 'ed-panel' });
    probs.append(el('h2', {}, 'Problems'));
    this.problems = el('div', { class: 'ed-problems' });
    this.checkerNote = el('div', { class: 'ed-hint ed-checker' }, 'Starting the checker…');
    probs.append(this.problems, this.checkerNote);
    side.append(probs);

    this.notice = el('div', { class: 'ed-notice', role: 'status', hidden: '' });
    page.append(top, this.notice, main);
    root.appendChild(page);

    this.view = new EditorView({ parent: code, state: EditorState.create({ doc: STARTER, extensions: this.extensions() }) });
    this.view.focus();

    document.addEventListener('keydown', (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.repeat || this.view.hasFocus) return;
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
      const i = KEYBOARD.indexOf(e.key.toLowerCase());
      if (i >= 0) { e.preventDefault(); this.noteOn(BASE_KEY + i); }
    });
    document.addEventListener('keyup', (e) => {
      const i = KEYBOARD.indexOf(e.key.toLowerCase());
      if (i >= 0) this.noteOff(BASE_KEY + i);
    });
    document.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); void this.save(); }
    });
    if (typeof BroadcastChannel !== 'undefined')
      new BroadcastChannel('amp-patches').onmessage = (e: MessageEvent) => this.savedElsewhere(e.data);
  }

  // ---- another tab saved; a stale save --------------------------------------------

  /** A save announced on `amp-patches` (this tab's own posts do not come
   *  back): a newer revision of the open patch is offered. */
  private savedElsewhere(m: { id?: string; revision?: number; name?: string } | null): void {
    if (!m || !this.patchId || m.id !== this.patchId || !m.revision || m.revision <= this.revision) return;
    this.newerRevision = Math.max(this.newerRevision, m.revision);
    const load = el('button', { class: 'ed-button', 'data-testid': 'load-newer' }, `Load revision ${this.newerRevision}`);
    load.onclick = () => void this.loadNewer();
    const keep = el('button', { class: 'ed-button' }, 'Keep editing mine');
    keep.onclick = () => this.hideNotice();
    this.showNotice('newer', `"${m.name ?? 'This patch'}" was saved in another tab as revision ${this.newerRevision}; ` +
                    `this tab has revision ${this.revision}${this.dirty() ? ' with unsaved changes' : ''}.`, load, keep);
  }

  /** Whether the text differs from what was last opened or saved. */
  private savedText = '';
  dirty(): boolean {
    return this.view.state.doc.toString() !== this.savedText;
  }

  private showNotice(kind: string, text: string, ...buttons: HTMLElement[]): void {
    this.notice.innerHTML = '';
    this.notice.dataset['kind'] = kind;
    this.notice.append(el('span', {}, text), ...buttons);
    this.notice.hidden = false;
  }

  private hideNotice(): void {
    this.notice.hidden = true;
    this.notice.dataset['kind'] = '';
  }

  /** Load the patch's latest revision over the text (the user asked). */
  async loadNewer(): Promise<void> {
    if (!this.patchId) return;
    const p = await this.api.getPatch(this.patchId);
    this.revision = p.revision;
    this.newerRevision = 0;
    this.setText(p.text);
    this.savedText = p.text;
    this.hideNotice();
    this.say(`Loaded revision ${p.revision} of ${p.name}`, 'ok');
  }

  // ---- the guards ------------------------------------------------------------------

  /** The patch track 0 now plays, as the fault sentences name it. */
  private nameFaultPatch(unit: string): void {
    const doc = addTrack(emptyProject(), { kind: 'instrument', name: 'Editor', patch: { builtin: `editor/${unit}.amp`, unit } });
    this.faultDoc = doc;
    this.faultTrack = doc.tracks[doc.tracks.length - 1]!.id;
    this.telemetry.setDocument(doc);
  }

  private showFaults(s: TelemetrySnapshot): void {
    if (s.faultVersion === this.faultVersion) return;
    this.faultVersion = s.faultVersion;
    const lines = faultLines(this.faultDoc, s);
    this.faultText.textContent = lines.join(' ');
    this.faultBox.hidden = lines.length === 0;
    document.body.dataset['faults'] = String(lines.length);
  }

  private extensions(): Extension[] {
    return [
      lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(), foldGutter(), drawSelection(),
      dropCursor(), EditorState.allowMultipleSelections.of(true), indentOnInput(), bracketMatching(), closeBrackets(),
      autocompletion({ override: [ampCompletions(() => this.library)], activateOnTyping: true }),
      rectangularSelection(), crosshairCursor(), highlightActiveLine(), lintGutter(),
      ampLanguage, syntaxHighlighting(highlight), syntaxHighlighting(ampTokenClasses), theme, ampHover(() => this.library),
      EditorView.updateListener.of((u) => { if (u.docChanged) this.lastEditAt = performance.now(); }),
      linter((view) => this.lint(view), { delay: 300 }),
      keymap.of([
        { key: 'Escape', run: (v) => { v.contentDOM.blur(); return true; } },
        ...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...foldKeymap, ...completionKeymap, ...lintKeymap,
        indentWithTab,
      ]),
      EditorView.lineWrapping,
    ];
  }

  /** The diagnostics the editor shows: 1-based line and column (UTF-16
   *  units) of each range, for the tests and the console. */
  diagnostics(): { line: number; col: number; text: string; severity: string; message: string }[] {
    const out: { line: number; col: number; text: string; severity: string; message: string }[] = [];
    const doc = this.view.state.doc;
    forEachDiagnostic(this.view.state, (d, from, to) => {
      const l = doc.lineAt(from);
      out.push({ line: l.number, col: from - l.from + 1, text: doc.sliceString(from, to), severity: d.severity, message: d.message });
    });
    return out;
  }

  private say(text: string, kind: 'ok' | 'error' | 'busy' | '' = ''): void {
    this.status.textContent = text;
    this.status.dataset['kind'] = kind;
  }

  /** The checker's state in the Problems panel (data-checker on the body:
   *  worker or server). */
  private noteChecker(from: 'worker' | 'server', text: string): void {
    this.checkerNote.textContent = text;
    document.body.dataset['checker'] = from;
  }

  /** The linter's source: ampc.wasm's check in the worker, diagnostics at
   *  ampc's line and column; a correct text is compiled by the server for
   *  its module (in the background), which goes to the player. Without the
   *  worker, or for a Faust import, the server's compile gives the
   *  diagnostics, as it is awaited. */
  private async lint(view: EditorView): Promise<Diagnostic[]> {
    const text = view.state.doc.toString();
    const seq = ++this.seq;
    const t0 = performance.now();
    const editAt = this.lastEditAt;
    let check: WorkerCheck | null = null;
    if (await this.checker.ready) {
      try {
        check = await this.checker.check(text);
      } catch (e) {
        this.noteChecker('server', `Diagnostics from the server: the in-page checker failed (${e instanceof Error ? e.message : String(e)}).`);
      }
    } else {
      this.noteChecker('server', `Diagnostics from the server: the in-page checker did not start (${this.checker.reason}).`);
    }
    if (seq !== this.seq) return [];   // a newer check is under way
    if (check) {
      this.lastCheck = { ...check, seq, text };
      if (check.status === 'faust') this.noteChecker('server', 'This patch imports Faust: the server checks it.');
      else if (check.status === 'failed') this.noteChecker('server', `The in-page checker failed on this text (${check.output}): the server checks it.`);
      else this.noteChecker('worker', `Checked in the page by ampc ${this.checker.version} (WebAssembly) in ${check.ms.toFixed(1)} ms.`);
    }
    if (check?.status === 'errors') {
      const record: CompileRecord = { seq, text, answer: { ok: false, diagnostics: check.output }, error: null,
                                      ms: performance.now() - t0, from: 'worker' };
      this.last = record;
      return this.show(view, record);
    }
    if (check?.status === 'ok') {
      this.say('No problems — building the module…', 'busy');
      void this.build(view, seq, text, t0, editAt);
      return this.show(view, { seq, text, answer: { ok: false, diagnostics: check.output }, error: null, ms: 0, from: 'worker' }, true);
    }
    this.say('Compiling…', 'busy');
    const record = await this.compile(seq, text, t0);
    record.editAt = editAt;
    if (seq !== this.seq) return [];   // a newer compile is under way
    this.last = record;
    return this.show(view, record);
  }

  private async compile(seq: number, text: string, t0: number): Promise<CompileRecord> {
    let answer: CompileAnswer | null = null;
    let error: string | null = null;
    try {
      answer = await this.api.compile(text);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    return { seq, text, answer, error, ms: performance.now() - t0, from: 'server' };
  }

  /** The server's compile of a text the worker found correct: its module
   *  plays; should the server disagree, its diagnostics replace the
   *  worker's. */
  private async build(view: EditorView, seq: number, text: string, t0: number, editAt: number): Promise<void> {
    const record = await this.compile(seq, text, t0);
    record.editAt = editAt;
    if (seq !== this.seq) return;
    this.last = record;
    const diags = this.show(view, record);
    if (!record.answer?.ok && view.state.doc.toString() === text) view.dispatch(setDiagnostics(view.state, diags));
  }

  /** A record's diagnostics: inline (returned) and in the Problems panel;
   *  the status line; an ok compile's params and module. `clean`: the
   *  worker found no errors, the module is still to come. */
  private show(view: EditorView, record: CompileRecord, clean = false): Diagnostic[] {
    const { text, answer, error } = record;
    const doc = view.state.doc;
    const diags: Diagnostic[] = [];
    this.problems.innerHTML = '';
    if (error) {
      this.say(`Compile service: ${error}`, 'error');
      this.problems.appendChild(el('div', { class: 'ed-problem error' }, error));
      return [];
    }
    for (const d of parseAmpcDiagnostics(answer!.diagnostics ?? '')) {
      const range = doc.toString() === text ? diagnosticRange(doc, d) : { from: 0, to: 0 };
      const message = d.file === 'patch.amp' ? d.message : `${d.file}:${d.line}:${d.col}: ${d.message}`;
      diags.push({ ...range, severity: d.severity, message, source: 'ampc' });
      const row = el('div', { class: `ed-problem ${d.severity}`, 'data-line': String(d.line), 'data-col': String(d.col) });
      row.append(el('span', { class: 'ed-loc' }, `${d.file === 'patch.amp' ? '' : `${d.file}:`}${d.line}:${d.col}`),
                 el('span', {}, message));
      row.onclick = () => { view.dispatch({ selection: { anchor: range.from }, scrollIntoView: true }); view.focus(); };
      this.problems.appendChild(row);
    }
    if (clean) {
      if (!diags.length) this.problems.appendChild(el('div', { class: 'ed-problem none' }, 'No problems.'));
    } else if (!answer!.ok) {
      const n = diags.filter((d) => d.severity === 'error').length;
      this.say(`${n} error${n === 1 ? '' : 's'}${this.player.current ? ' — still playing the last good version' : ''}`, 'error');
    } else {
      this.say(`Compiled ${answer!.unit ?? ''} in ${Math.round(record.ms)} ms${answer!.cached ? ' (cached)' : ''}`, 'ok');
      if (!diags.length) this.problems.appendChild(el('div', { class: 'ed-problem none' }, 'No problems.'));
      this.showParams(answer!);
      if (this.player.running) void this.hear(record, performance.now() - record.ms);
    }
    return diags;
  }

  private async hear(record: CompileRecord, t0: number): Promise<void> {
    const a = record.answer!;
    if (!a.module || !a.key || !a.metadata) return;
    try {
      const bytes = await this.api.moduleBytes(a.module);
      const r = await this.player.use(a.key, bytes, a.metadata);
      record.loadMs = r.loadMs;
      record.playingMs = performance.now() - t0;
      if (record.editAt) record.keyToSoundMs = performance.now() - record.editAt;
      this.nameFaultPatch(a.metadata.name || a.unit || 'patch');
      this.loads++;
      this.soundState.textContent = `Playing ${a.unit ?? 'the patch'} (${a.metadata.voices ?? 1} voices) — ` +
        `edit to sound ${Math.round(record.playingMs)} ms`;
      this.soundState.dataset['state'] = 'playing';
    } catch (e) {
      this.soundState.textContent = `Could not load the patch: ${e instanceof Error ? e.message : String(e)}`;
      this.soundState.dataset['state'] = 'error';
    }
  }

  private showParams(a: CompileAnswer): void {
    this.params.innerHTML = '';
    const meta = a.metadata;
    if (!meta || !meta.params.length) {
      this.params.appendChild(el('div', { class: 'ed-hint' }, 'This patch has no params.'));
      return;
    }
    for (const p of meta.params) {
      const row = el('label', { class: 'ed-param', 'data-param': p.name });
      const value = this.player.values.get(p.name);
      const v = value !== undefined && value >= p.min && value <= p.max ? value : p.default;
      const slider = el('input', {
        type: 'range', min: String(p.min), max: String(p.max), step: String(p.step > 0 ? p.step : (p.max - p.min) / 1000),
        value: String(v),
      });
      const shown = el('span', { class: 'ed-param-value' }, fmt(v, p.unit));
      slider.oninput = () => {
        const x = Number(slider.value);
        shown.textContent = fmt(x, p.unit);
        this.player.setParam(p, x);
      };
      slider.ondblclick = () => { slider.value = String(p.default); slider.oninput?.(new Event('input')); };
      row.append(el('span', { class: 'ed-param-name' }, p.name), slider, shown);
      this.params.appendChild(row);
    }
  }

  async startAudio(): Promise<void> {
    this.startButton.disabled = true;
    this.soundState.textContent = 'Starting the engine…';
    try {
      await this.player.start();
      this.startButton.textContent = 'Audio on';
      this.soundState.textContent = 'Engine running; waiting for a patch that compiles.';
      document.body.dataset['engine'] = 'running';
      this.telemetry.subscribe((s) => this.showFaults(s));
      const ok = this.last?.answer?.ok ? this.last : null;
      if (ok) await this.hear(ok, performance.now());
    } catch (e) {
      this.startButton.disabled = false;
      this.soundState.textContent = `The engine did not start: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  noteOn(key: number): void {
    if (!this.player.running) return;
    this.player.noteOn(key);
    this.keys.get(key)?.classList.add('down');
  }

  noteOff(key: number): void {
    this.player.noteOff(key);
    this.keys.get(key)?.classList.remove('down');
  }

  // ---- the library -----------------------------------------------------------------

  async loadLibrary(): Promise<void> {
    let entries: PatchEntry[] = [];
    try {
      entries = await this.api.listPatches();
    } catch (e) {
      this.say(`The patch library is not available: ${e instanceof Error ? e.message : String(e)}`, 'error');
    }
    this.fillOpen(entries);
    const files = entries.filter((e) => e.builtin && e.path).map((e) => e.path!);
    const found: NodeInfo[] = [];
    await Promise.all(files.map(async (f) => {
      try {
        found.push(...scanLibrary(f, await this.api.libraryFile(f)));
      } catch { /* a file that does not read gives no completions */ }
    }));
    found.sort((a, b) => a.name.localeCompare(b.name));
    this.library = found;
    document.body.dataset['library'] = String(found.length);
  }

  private fillOpen(entries: PatchEntry[]): void {
    this.openSelect.innerHTML = '';
    this.openSelect.appendChild(el('option', { value: '' }, 'Open…'));
    const mine = el('optgroup', { label: 'My patches' });
    const builtin = el('optgroup', { label: 'Library (opens a copy)' });
    for (const e of entries) {
      if (e.builtin) builtin.appendChild(el('option', { value: `lib:${e.path}` }, e.name));
      else mine.appendChild(el('option', { value: `id:${e.id}` }, `${e.name} (r${e.revision})`));
    }
    if (mine.children.length) this.openSelect.appendChild(mine);
    this.openSelect.appendChild(builtin);
  }

  private setText(text: string): void {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
  }

  async open(value: string): Promise<void> {
    this.openSelect.value = '';
    try {
      if (value.startsWith('id:')) {
        const p = await this.api.getPatch(value.slice(3));
        this.patchId = p.id;
        this.revision = p.revision;
        this.nameInput.value = p.name;
        this.setText(p.text);
        this.savedText = p.text;
        this.newerRevision = 0;
        this.hideNotice();
        this.say(`Opened ${p.name}, revision ${p.revision}`, 'ok');
      } else if (value.startsWith('lib:')) {
        const path = value.slice(4);
        this.patchId = null;
        this.revision = 0;
        this.nameInput.value = path.replace(/\.amp$/, '').replace(/\//g, '_');
        // A copy of a library file: its imports are relative to the library's root.
        this.setText(await this.api.libraryFile(path));
        this.say(`Opened a copy of ${path}`, 'ok');
      }
    } catch (e) {
      this.say(`Could not open: ${e instanceof Error ? e.message : String(e)}`, 'error');
    }
  }

  /** Save; `over`: save over the latest revision (after a conflict). */
  async save(over = false): Promise<void> {
    const text = this.view.state.doc.toString();
    const name = this.nameInput.value.trim() || 'untitled';
    try {
      if (this.patchId) {
        const p = await this.api.savePatch(this.patchId, text, over && this.newerRevision ? this.newerRevision : this.revision);
        this.revision = p.revision;
        if (p.name !== name) await this.api.renamePatch(this.patchId, name);
      } else {
        const p = await this.api.createPatch(name, text);
        this.patchId = p.id;
        this.revision = p.revision;
      }
      this.savedText = text;
      this.newerRevision = 0;
      this.hideNotice();
      this.say(`Saved ${name}, revision ${this.revision}`, 'ok');
      document.body.dataset['saved'] = `${this.patchId}:${this.revision}`;
      // The DAW's tabs offer the new revision to the tracks using the patch.
      new BroadcastChannel('amp-patches').postMessage({ id: this.patchId, revision: this.revision, name });
      this.fillOpen(await this.api.listPatches());
    } catch (e) {
      if (e instanceof PatchConflict) {
        // Nothing was written and the text stays here: the user picks.
        this.newerRevision = Math.max(this.newerRevision, e.currentRevision);
        document.body.dataset['conflict'] = `${this.patchId}:${e.currentRevision}`;
        const theirs = el('button', { class: 'ed-button', 'data-testid': 'load-newer' }, `Load revision ${e.currentRevision}`);
        theirs.onclick = () => void this.loadNewer();
        const mine = el('button', { class: 'ed-button', 'data-testid': 'save-over' }, 'Save mine over it');
        mine.onclick = () => void this.save(true);
        this.showNotice('conflict', `Not saved: revision ${e.currentRevision} of "${name}" was saved elsewhere since ` +
                        `this tab's revision ${e.basedOn} (412). Your text is still here, unsaved.`, theirs, mine);
        this.say(`Not saved: revision ${e.currentRevision} was saved elsewhere`, 'error');
        return;
      }
      this.say(`Not saved: ${e instanceof Error ? e.message : String(e)}`, 'error');
    }
  }
}

function fmt(v: number, unit: string): string {
  const a = Math.abs(v);
  const s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  return unit ? `${s} ${unit}` : s;
}

async function main(): Promise<void> {
  const root = document.getElementById('root');
  if (!root) throw new Error('the page has no #root');
  const page = new EditorPage();
  page.mount(root);
  (globalThis as unknown as { ampEditor: EditorPage }).ampEditor = page;
  if (!globalThis.crossOriginIsolated) {
    page.player.start = async () => { throw new Error('the page is not cross-origin isolated: open it through ampd'); };
  }
  await page.loadLibrary();
  // editor.html#id:PATCH opens a library patch, #lib:PATH a copy of a
  // built-in (the DAW's "Edit patch" and "Fork").
  const open = /^#((?:id|lib):.+)$/.exec(location.hash);
  if (open) await page.open(decodeURIComponent(open[1]!));
  document.body.dataset['ready'] = '1';
}

void main();
