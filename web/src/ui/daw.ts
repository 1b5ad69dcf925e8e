// daw.ts — the DAW's controller: it makes the stores, the actions, the
// audio session and the persistence, hands the views their Ctx, and owns
// what spans views: the shortcuts, computer-keyboard and MIDI playing,
// recording, import and export.

import {
  addClip, addInsert, addTempoChange, addTimeSignatureChange, addTrack, ensureIds, findClip, newTrackId, setTempo, setTimeSignature,
} from '../doc/edits';
import { DocStore } from '../doc/history';
import { emptyProject, type Clip, type PatchRef, type ProjectDoc } from '../doc/project';
import type { EngineFiles } from '../engine/client';
import { patchRefOf } from '../engine/sink';
import { Actions } from './actions';
import type { Ctx, LiveTake, Tool } from './context';
import { download, exportAudio, exportMidi, type WavChoice } from './export';
import { ComputerKeyboard, isTyping } from './keyboard';
import { isLibraryRef, libraryRefs, PatchLibrary } from './library';
import { connectMidi } from './midi';
import { clampTopKey } from './pianoroll';
import { Persistence } from './persist';
import { slotsOf } from './samples';
import { TakeRecorder } from './recorder';
import { AudioSession } from './session';
import { readSmf, readSmfNative } from './smf';
import { barsOf, findTrack } from './song';
import { INITIAL_VIEW, ValueStore, snapBeats, snapDown, type ViewState } from './view';

export interface UiState {
  status: string;
  octave: number;
  keysOn: boolean;
  tool: Tool;
  armed: number | null;
  recording: 'off' | 'countin' | 'on';
  inputQuantize: boolean;
  midi: string;
  busy: string;
  dialog: 'none' | 'projects' | 'conflict' | 'help' | 'patches';
  conflict: number;
  /** The ruler's popover: the bar line's beat and where it opened. */
  marker: { beat: number; x: number; y: number } | null;
}

export class Daw {
  readonly files: EngineFiles;
  readonly store = new DocStore(emptyProject());
  readonly view = new ValueStore<ViewState>(INITIAL_VIEW);
  readonly ui = new ValueStore<UiState>({
    status: '', octave: 4, keysOn: false, tool: 'pointer', armed: null, recording: 'off', inputQuantize: false,
    midi: 'MIDI: starts with audio', busy: '', dialog: 'none', conflict: 0, marker: null,
  });
  readonly act: Actions;
  readonly audio: AudioSession;
  readonly persist: Persistence;
  readonly recorder = new TakeRecorder();
  readonly library = new PatchLibrary();
  readonly keyboard: ComputerKeyboard;
  readonly ctx: Ctx;
  private countIn: ReturnType<typeof setTimeout> | null = null;
  /** Which reader read the last MIDI file: the worker's native one or the page's. */
  lastImportReader: 'native' | 'page' | '' = '';
  /** The last audio export: its note, frames and rate (the tests read it). */
  lastExport: { note: string; frames: number; rate: number } | null = null;

  constructor(files: EngineFiles) {
    this.files = files;
    this.act = new Actions(this.store);
    this.audio = new AudioSession(files, this.store);
    this.persist = new Persistence(this.store);
    this.audio.library = this.library;
    this.audio.beforeBuild = async (node, doc) => { await this.loadLibraryInto(node, doc); };
    this.audio.afterResize = () => { void this.loadLibraryPatches(true); };
    this.audio.listeners.add((track, key, velocity, beat) => this.recorder.note(track, key, velocity, beat));
    this.audio.onState = () => {
      if (this.audio.state === 'running') {
        this.say(`Audio on: ${this.audio.client?.sampleRate ?? 0} Hz.`);
        void connectMidi({
          press: (key, velocity, t) => this.liveOn(key, velocity, t),
          release: (key, t) => this.liveOff(key, t),
        }).then((text) => this.ui.set({ midi: text }));
      } else if (this.audio.state === 'failed') this.say(this.audio.error);
    };
    this.keyboard = new ComputerKeyboard({
      press: (key, velocity) => this.liveOn(key, velocity),
      release: (key) => this.liveOff(key),
    }, (octave) => this.ui.set({ octave }));
    const patches = files.manifest.patches;
    this.ctx = {
      store: this.store,
      view: this.view,
      act: this.act,
      audio: this.audio,
      patches,
      tool: () => this.ui.get().tool,
      setTool: (tool) => this.ui.set({ tool }),
      recording: (): LiveTake | null => this.recorder.take,
      focusRoll: (clip) => this.focusRoll(clip),
      heldKeys: () => this.audio.heldKeys,
      markerMenu: (beat, x, y) => this.ui.set({ marker: { beat, x, y } }),
      say: (text) => this.say(text),
      library: this.library,
      useLibraryPatch: (trackId, id, slot) => this.useLibraryPatch(trackId, id, slot),
      updatePatch: (id, revision) => this.updatePatch(id, revision),
      editPatch: (ref) => this.editPatch(ref),
      bindSampleFile: (trackId, slot, file) => this.bindSampleFile(trackId, slot, file),
      sampleText: (hash) => this.sampleText(hash),
    };
    // Selection that points at things an undo removed goes.
    this.store.subscribe((doc) => this.pruneSelection(doc));
    // An edit is the user acting on the song: the fault and limit reports
    // close (a fault that goes on opens a new one; faults.tsx).
    this.store.subscribe(() => this.audio.telemetry?.dismissFaults());
    // A document naming library patches the engine lacks: load them.
    this.store.subscribe(() => { void this.loadLibraryPatches(false); });
    // A new revision saved in the editor (another tab) or elsewhere: the
    // list is read again, and the tracks using the patch offer it
    // (instrument.tsx).
    if (typeof BroadcastChannel !== 'undefined')
      new BroadcastChannel('amp-patches').onmessage = () => { if (this.library.enabled) void this.library.refresh(); };
    if (typeof addEventListener !== 'undefined')
      addEventListener('focus', () => { if (this.library.available) this.library.refreshSoon(); });
  }

  // ---- the patch library (library.ts) ------------------------------------------------

  /** Load the library modules `doc` names into the engine of `node`; a
   *  patch that does not compile or load is said in the status line. */
  private async loadLibraryInto(node: AudioWorkletNode, doc: ProjectDoc): Promise<boolean> {
    let loaded = false;
    for (const r of libraryRefs(doc)) {
      try {
        await this.library.load(node, r.library, r.revision);
        loaded = true;
      } catch (e) {
        this.say(`Library patch "${this.library.nameOf(r.library) ?? r.library}" r${r.revision}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return loaded;
  }

  /** Bring the running engine up to the document's library patches and send
   *  the tracks using them again. */
  async loadLibraryPatches(force: boolean): Promise<void> {
    const client = this.audio.client;
    const doc = this.store.doc;
    if (!client || !libraryRefs(doc).length || (!force && this.library.allLoaded(client.node, doc))) return;
    await this.loadLibraryInto(client.node, doc);
    if (this.audio.client === client) this.audio.sync?.resendPatches((ref) => isLibraryRef(ref));
  }

  /** Pick the latest revision of library patch `id` as a track's
   *  instrument (slot 0) or as a new insert (slot 1). Compiled first: a
   *  patch that does not compile leaves the track as it is. */
  async useLibraryPatch(trackId: number, id: string, slot: number): Promise<boolean> {
    const entry = this.library.entries.find((e) => e.id === id);
    if (!entry?.revision) return false;
    this.say(`Compiling "${entry.name}"…`);
    try {
      const c = await this.library.compile(id, entry.revision);
      const ref: PatchRef = { library: id, revision: entry.revision };
      // An instrument or a generator (no inputs, plays by itself) is a
      // track's instrument; an effect goes in the insert chain.
      const effect = c.meta.kind === 'effect';
      if (slot === 0 && effect) { this.say(`"${entry.name}" is an effect: add it in the mixer's insert chain.`); return false; }
      if (slot > 0 && !effect) { this.say(`"${entry.name}" is an instrument: pick it as a track's instrument.`); return false; }
      // Into the running engine first, so the track gets it with the edit.
      const client = this.audio.client;
      if (client) await this.library.load(client.node, id, entry.revision);
      if (slot === 0) {
        this.act.setInstrument(trackId, ref, c.meta.samples);
      } else {
        this.store.transact(`Add ${entry.name}`, (doc) => addInsert(doc, trackId, ref));
      }
      this.say(`"${entry.name}" r${entry.revision} on the track (${c.meta.params.length} params).`);
      return true;
    } catch (e) {
      this.say(e instanceof Error ? e.message : String(e));
      return false;
    }
  }

  /** Move every track using library patch `id` to `revision` (one undo
   *  step); params the new revision no longer has are dropped. */
  async updatePatch(id: string, revision: number): Promise<void> {
    let c;
    try {
      c = await this.library.compile(id, revision);
    } catch (e) {
      this.say(e instanceof Error ? e.message : String(e));
      return;
    }
    const client = this.audio.client;
    if (client) {
      try {
        await this.library.load(client.node, id, revision);
      } catch (e) {
        this.say(e instanceof Error ? e.message : String(e));
        return;
      }
    }
    const names = new Set(c.meta.params.map((p) => p.name));
    const keep = (params: Readonly<Record<string, number>> | undefined): Record<string, number> | undefined => {
      if (!params) return undefined;
      const out = Object.fromEntries(Object.entries(params).filter(([k]) => names.has(k)));
      return Object.keys(out).length ? out : undefined;
    };
    const move = <T extends { patch?: PatchRef; params?: Readonly<Record<string, number>> }>(x: T): T => {
      if (!isLibraryRef(x.patch) || x.patch.library !== id || x.patch.revision === revision) return x;
      const next: T = { ...x, patch: { ...x.patch, revision } };
      const params = keep(x.params);
      if (params) next.params = params; else delete next.params;
      return next;
    };
    this.store.transact(`Update ${this.library.nameOf(id) ?? 'patch'} to r${revision}`, (doc) => ({
      ...doc,
      tracks: doc.tracks.map((t) => {
        const moved = t.kind === 'instrument' ? move(t) : t;
        return t.inserts?.some((i) => isLibraryRef(i.patch) && i.patch.library === id)
          ? { ...moved, inserts: t.inserts.map((i) => move(i)) } : moved;
      }),
    }));
    this.say(`Tracks using "${this.library.nameOf(id) ?? id}" now play revision ${revision}.`);
  }

  /** Open a track's patch in the editor: a library patch to edit, a
   *  built-in as a copy to fork into the library. */
  editPatch(ref: PatchRef | undefined): void {
    let hash = '';
    if (isLibraryRef(ref)) hash = `#id:${ref.library}`;
    else if (typeof ref === 'object' && ref && 'builtin' in ref) hash = `#lib:${ref.builtin}`;
    else if (typeof ref === 'string') hash = `#lib:${ref.slice(ref.lastIndexOf('/') + 1)}`;
    window.open(`editor.html${hash}`, '_blank');
  }

  /** The name of a library patch the page has seen (ui/library.ts). */
  libraryName(id: string, revision: number): string | undefined {
    const name = this.library.nameOf(id, revision);
    const unit = this.library.compiledOf(id, revision)?.meta.name;
    return name && unit && unit !== name ? `${name} (${unit})` : name ?? unit;
  }

  // ---- sample slots ----------------------------------------------------------------------

  /** Bind an audio file to sample slot `slot` of a track's instrument:
   *  the file is checked to be a WAV (the engine reads WAV only: PROJECT.md),
   *  uploaded to ampd (POST /api/assets: stored once by its SHA-256), and
   *  the slot names that hash with the file's name (one undo step). The
   *  sync layer then loads the asset into the engine's sample pool and
   *  binds it (bind_sample); the export hands the worker its bytes. */
  async bindSampleFile(trackId: number, slot: string, file: File): Promise<boolean> {
    const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
    const tag = (from: number): string => String.fromCharCode(...head.subarray(from, from + 4));
    if (head.length < 12 || (tag(0) !== 'RIFF' && tag(0) !== 'RF64') || tag(8) !== 'WAVE') {
      this.say(`${file.name} is not a WAV file: a sample slot plays WAV (8 to 32-bit integer or float).`);
      return false;
    }
    if (!this.persist.server) {
      this.say('Loading a sample needs ampd, which stores the audio: this page has no server.');
      return false;
    }
    this.ui.set({ busy: `Uploading ${file.name}…` });
    try {
      const asset = await this.persist.client.uploadAsset(file, file.name);
      const bound = this.act.bindSample(trackId, slot, { asset: asset.hash, ui: { name: file.name } });
      const track = findTrack(this.store.doc, trackId);
      this.say(bound ? `${file.name} is in ${slot} of "${track?.name ?? trackId}".`
                     : `${slot} of "${track?.name ?? trackId}" already plays ${file.name}.`);
      return bound;
    } catch (e) {
      this.say(`Could not upload ${file.name}: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    } finally {
      this.ui.set({ busy: '' });
    }
  }

  sampleText(hash: string): string {
    const problem = this.audio.sink?.sampleProblem(hash);
    if (problem !== undefined) return `not playable: ${problem}`;
    const size = this.audio.sink?.sampleSize(hash);
    const rate = this.audio.client?.sampleRate;
    if (!size || !rate) return '';
    return `${(size.frames / rate).toFixed(2)} s · ${size.channels === 1 ? 'mono' : 'stereo'}`;
  }

  say(status: string): void {
    this.ui.set({ status });
  }

  async boot(): Promise<void> {
    const message = await this.persist.boot();
    this.library.enabled = this.persist.client.storage;
    // The list (names, newer revisions) when the song uses library patches;
    // otherwise when a picker opens (library.ts refreshSoon).
    if (this.library.enabled && libraryRefs(this.store.doc).length) void this.library.refresh();
    if (message) this.say(message);
    const first = this.store.doc.tracks[0];
    if (first) this.view.set({ selectedTrack: first.id });
  }

  // ---- live playing ----------------------------------------------------------------------

  /** The track the keyboards play: the armed one, else the selected
   *  instrument track, else the first. */
  playTrack(): number | null {
    const doc = this.store.doc;
    const armed = this.ui.get().armed;
    if (armed !== null && findTrack(doc, armed)) return armed;
    const sel = findTrack(doc, this.view.get().selectedTrack);
    if (sel?.kind === 'instrument') return sel.id;
    return doc.tracks.find((t) => t.kind === 'instrument')?.id ?? null;
  }

  private readonly liveTracks = new Map<number, number>();

  liveOn(key: number, velocity: number, atMs?: number): void {
    const track = this.playTrack();
    if (track === null) {
      this.say('Add an instrument track to play it.');
      return;
    }
    this.liveTracks.set(key, track);
    this.audio.noteOn(track, key, velocity, atMs);
  }

  liveOff(key: number, atMs?: number): void {
    const track = this.liveTracks.get(key);
    if (track === undefined) return;
    this.liveTracks.delete(key);
    this.audio.noteOff(track, key, atMs);
  }

  // ---- recording -------------------------------------------------------------------------

  /** Record on the armed (else the selected) instrument track: a bar of
   *  count-in clicks, then the transport runs from the playhead and what is
   *  played lands in a new clip. */
  async toggleRecord(): Promise<void> {
    const state = this.ui.get();
    if (state.recording !== 'off') {
      this.stopRecording();
      return;
    }
    const track = this.playTrack();
    const t = findTrack(this.store.doc, track);
    if (track === null || !t || t.kind !== 'instrument') {
      this.say('Select or arm an instrument track to record on.');
      return;
    }
    if (!(await this.audio.ensure())) return;
    this.ui.set({ armed: track, recording: 'countin' });
    if (this.audio.playing()) this.audio.pause();
    const doc = this.store.doc;
    const start = this.audio.positionBeat();
    const bars = barsOf(doc);
    const [num] = bars.signatureAt(start);
    const beatLen = bars.beatsPerBarAt(start) / num;
    const bpm = this.audio.telemetry?.snapshot.tempo || doc.tempo || 120;
    const secondsPerClick = (beatLen * 60) / bpm;
    const context = this.audio.context;
    const now = context?.currentTime ?? 0;
    for (let i = 0; i < num; i++) this.audio.click(now + 0.05 + i * secondsPerClick, i === 0);
    this.say(`Count-in… recording on "${t.name ?? ''}" from bar ${bars.position(start).bar}.`);
    this.recorder.begin(track, start);
    this.countIn = setTimeout(() => {
      this.countIn = null;
      if (this.ui.get().recording !== 'countin') return;
      this.ui.set({ recording: 'on' });
      this.audio.play();
      this.say(`Recording on "${t.name ?? ''}". Press Record or Space to stop.`);
    }, (0.05 + num * secondsPerClick) * 1000);
  }

  stopRecording(): void {
    if (this.countIn !== null) clearTimeout(this.countIn);
    this.countIn = null;
    const end = this.audio.positionBeat();
    this.audio.pause();
    const doc = this.store.doc;
    const bars = barsOf(doc);
    const grid = this.ui.get().inputQuantize ? snapBeats(this.view.get().snap, bars.beatsPerBarAt(0)) : 0;
    const take = this.recorder.finish(end, bars.beatsPerBarAt(this.recorder.take?.startBeat ?? 0), grid);
    this.ui.set({ recording: 'off' });
    if (!take) {
      this.say('Recording stopped: nothing was played.');
      return;
    }
    const id = this.act.recordTake(take.trackId, take.start, take.length, take.notes);
    if (id) this.view.set({ selectedClips: [id], openClip: id, selectedNotes: [], selectedTrack: take.trackId });
    this.say(`Recorded ${take.notes.length} notes.`);
  }

  // ---- transport -------------------------------------------------------------------------

  togglePlay(): void {
    if (this.ui.get().recording !== 'off') {
      this.stopRecording();
      return;
    }
    this.audio.togglePlay();
  }

  // ---- the piano roll --------------------------------------------------------------------

  focusRoll(clip: Clip): void {
    const v = this.view.get();
    if (!clip.notes.length) return;
    let lo = 127, hi = 0;
    for (const n of clip.notes) { lo = Math.min(lo, n.key); hi = Math.max(hi, n.key); }
    const mid = Math.round((lo + hi) / 2);
    const rows = 22;
    this.view.set({ rollTopKey: clampTopKey(v, rows * v.rollKeyHeight, mid + Math.floor(rows / 2)) });
  }

  private pruneSelection(doc: ProjectDoc): void {
    const v = this.view.get();
    const patch: Partial<ViewState> = {};
    if (v.openClip && !findClip(doc, v.openClip)) { patch.openClip = null; patch.selectedNotes = []; }
    const clips = v.selectedClips.filter((id) => findClip(doc, id));
    if (clips.length !== v.selectedClips.length) patch.selectedClips = clips;
    if (v.openClip && patch.openClip === undefined) {
      const n = findClip(doc, v.openClip)?.clip.notes.length ?? 0;
      const notes = v.selectedNotes.filter((i) => i < n);
      if (notes.length !== v.selectedNotes.length) patch.selectedNotes = notes;
    }
    if (v.selectedTrack !== null && !findTrack(doc, v.selectedTrack)) patch.selectedTrack = doc.tracks[0]?.id ?? null;
    const armed = this.ui.get().armed;
    if (armed !== null && !findTrack(doc, armed)) this.ui.set({ armed: null });
    if (Object.keys(patch).length) this.view.set(patch);
  }

  // ---- shortcuts ---------------------------------------------------------------------------

  attachKeys(): void {
    addEventListener('keydown', (e) => this.keyDown(e));
    addEventListener('keyup', (e) => {
      if (this.ui.get().keysOn) this.keyboard.up(e);
    });
    addEventListener('blur', () => this.keyboard.releaseAll(performance.now()));
  }

  private keyDown(e: KeyboardEvent): void {
    const target = e.target as HTMLElement | null;
    // In a field, a list or a slider the keys are theirs (Home on a fader
    // moves the fader), except the save and transport ones.
    const field = target instanceof HTMLInputElement || target instanceof HTMLSelectElement ||
      target instanceof HTMLTextAreaElement;
    const typing = isTyping(target) || (field && !(target instanceof HTMLInputElement && target.type === 'range'));
    const mod = e.ctrlKey || e.metaKey;
    if (mod && e.code === 'KeyS') { e.preventDefault(); void this.save(); return; }
    if (typing) return;
    if (mod && e.code === 'KeyZ') { e.preventDefault(); if (e.shiftKey) this.store.redo(); else this.store.undo(); return; }
    if (mod && e.code === 'KeyY') { e.preventDefault(); this.store.redo(); return; }
    if (e.code === 'Space') {
      if (target instanceof HTMLButtonElement || target instanceof HTMLSelectElement) target.blur();
      e.preventDefault();
      if (!e.repeat) this.togglePlay();
      return;
    }
    if (field) return;
    if (this.ui.get().keysOn && !mod && this.keyboard.down(e)) {
      this.audio.start();
      return;
    }
    const v = this.view.get();
    const inRoll = target?.classList.contains('roll-canvas') ?? false;
    if (mod && e.code === 'KeyD') { e.preventDefault(); this.duplicate(); return; }
    if (mod && e.code === 'KeyC') { e.preventDefault(); this.copy(); return; }
    if (mod && e.code === 'KeyV') { e.preventDefault(); this.paste(); return; }
    if (mod && e.code === 'KeyA' && inRoll) { e.preventDefault(); this.selectAllNotes(); return; }
    if (mod) return;
    if (e.key === '?') { this.ui.set({ dialog: this.ui.get().dialog === 'help' ? 'none' : 'help' }); e.preventDefault(); return; }
    if (e.code === 'Escape' && this.ui.get().dialog === 'help') { this.ui.set({ dialog: 'none' }); e.preventDefault(); return; }
    switch (e.code) {
      case 'KeyM': this.ui.set({ keysOn: !this.ui.get().keysOn }); e.preventDefault(); return;
      case 'KeyR': void this.toggleRecord(); e.preventDefault(); return;
      case 'KeyL': this.toggleLoop(); e.preventDefault(); return;
      case 'KeyS': this.splitAtPlayhead(); e.preventDefault(); return;
      case 'KeyQ': this.quantize(); e.preventDefault(); return;
      case 'Delete': case 'Backspace':
        e.preventDefault();
        if ((inRoll || !v.selectedClips.length) && v.openClip && v.selectedNotes.length) {
          this.act.deleteNotes(v.openClip, v.selectedNotes);
          this.view.set({ selectedNotes: [] });
        } else if (v.selectedClips.length) {
          this.act.deleteClips(v.selectedClips);
        }
        return;
      case 'Equal': case 'NumpadAdd': this.zoom(inRoll, 1.25); e.preventDefault(); return;
      case 'Minus': case 'NumpadSubtract': this.zoom(inRoll, 0.8); e.preventDefault(); return;
      case 'ArrowUp': case 'ArrowDown': case 'ArrowLeft': case 'ArrowRight':
        if (v.openClip && v.selectedNotes.length) {
          e.preventDefault();
          const grid = snapBeats(v.snap, barsOf(this.store.doc).beatsPerBarAt(0)) || 0.25;
          const dk = e.code === 'ArrowUp' ? (e.shiftKey ? 12 : 1) : e.code === 'ArrowDown' ? (e.shiftKey ? -12 : -1) : 0;
          const db = e.code === 'ArrowRight' ? grid : e.code === 'ArrowLeft' ? -grid : 0;
          this.act.nudgeNotes(v.openClip, v.selectedNotes, db, dk);
        }
        return;
      case 'Home': this.audio.seek(0); e.preventDefault(); return;
      default:
    }
  }

  zoom(roll: boolean, by: number): void {
    const v = this.view.get();
    if (roll) this.view.set({ rollPxPerBeat: Math.min(800, Math.max(8, v.rollPxPerBeat * by)) });
    else this.view.set({ pxPerBeat: Math.min(400, Math.max(2, v.pxPerBeat * by)) });
  }

  toggleLoop(): void {
    const loop = this.store.doc.loop;
    if (loop) this.act.setLoop({ enabled: !loop.enabled });
    else {
      const bar = barsOf(this.store.doc).beatsPerBarAt(0);
      const start = snapDown(this.audio.positionBeat(), bar);
      this.act.setLoop({ enabled: true, start_beat: start, end_beat: start + 4 * bar });
    }
  }

  splitAtPlayhead(): void {
    const v = this.view.get();
    const beat = this.audio.positionBeat();
    const doc = this.store.doc;
    let ids = v.selectedClips.slice();
    if (!ids.length && v.selectedTrack !== null)
      ids = (findTrack(doc, v.selectedTrack)?.clips ?? []).map((c) => c.ui?.id ?? '').filter(Boolean);
    const inside = ids.filter((id) => {
      const c = findClip(doc, id)?.clip;
      return c && beat > c.start_beat && beat < c.start_beat + c.length_beats;
    });
    if (!inside.length) { this.say('Put the playhead inside a selected clip to split it (S).'); return; }
    for (const id of inside) this.act.splitClip(id, beat);
  }

  quantize(): void {
    const v = this.view.get();
    if (!v.openClip) return;
    const clip = findClip(this.store.doc, v.openClip)?.clip;
    if (!clip) return;
    const grid = snapBeats(v.snap, barsOf(this.store.doc).beatsPerBarAt(0)) || 0.25;
    const indices = v.selectedNotes.length ? v.selectedNotes : clip.notes.map((_, i) => i);
    this.act.quantize(v.openClip, indices, grid);
  }

  selectAllNotes(): void {
    const v = this.view.get();
    const clip = v.openClip ? findClip(this.store.doc, v.openClip)?.clip : null;
    if (clip) this.view.set({ selectedNotes: clip.notes.map((_, i) => i) });
  }

  duplicate(): void {
    const ids = this.act.duplicateClips(this.view.get().selectedClips);
    if (ids.length) this.view.set({ selectedClips: ids });
  }

  copy(): void {
    const n = this.act.copyClips(this.view.get().selectedClips);
    if (n) this.say(`Copied ${n} clip${n === 1 ? '' : 's'}.`);
  }

  paste(): void {
    const v = this.view.get();
    const track = v.selectedTrack ?? this.store.doc.tracks[0]?.id;
    if (track === undefined || track === null) return;
    const ids = this.act.pasteClips(track, this.audio.positionBeat());
    if (ids.length) this.view.set({ selectedClips: ids });
  }

  // ---- files ---------------------------------------------------------------------------------

  async save(force = false): Promise<void> {
    this.ui.set({ busy: 'Saving…' });
    const r = await this.persist.save(force);
    this.ui.set({ busy: '' });
    if (r.ok) this.say(`Saved (revision ${r.revision}).`);
    else if (r.conflict !== undefined) this.ui.set({ dialog: 'conflict', conflict: r.conflict, status: r.message });
    else this.say(r.message);
  }

  newProject(): void {
    if (this.store.dirty && !this.persist.state.serverId && this.store.doc.tracks.length &&
        !confirm('This project is kept only in this browser. Start a new one and discard it?')) return;
    this.audio.pause();
    this.persist.fresh();
    this.view.set({ ...INITIAL_VIEW });
    this.say('New project.');
  }

  /** Open a server project; `server`: its latest revision even when this
   *  browser has newer edits of it (the conflict dialog's "Open theirs"). */
  async openProject(id: string, server = false): Promise<void> {
    this.audio.pause();
    this.view.set({ ...INITIAL_VIEW });
    try {
      this.say(await this.persist.open(id, server));
      const first = this.store.doc.tracks[0];
      if (first) this.view.set({ selectedTrack: first.id });
    } catch (e) {
      this.say(`Could not open the project: ${String(e)}`);
    }
  }

  /** A file dropped on the page (not on a sample slot): a WAV file goes
   *  into the selected instrument track's first sample slot when its patch
   *  has one; anything else is read as a MIDI file. */
  async dropFile(file: File): Promise<void> {
    const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
    const tag = String.fromCharCode(...head);
    if (tag !== 'RIFF' && tag !== 'RF64') {
      await this.importMidi(file);
      return;
    }
    const track = findTrack(this.store.doc, this.view.get().selectedTrack);
    const slot = track ? slotsOf(this.ctx, track)[0] : undefined;
    if (!track || slot === undefined) {
      this.say(`To play ${file.name}, drop it on a sample slot: add an instrument track with the Sampler (its Instrument tab shows the slot).`);
      return;
    }
    await this.bindSampleFile(track.id, slot, file);
  }

  /** Standard MIDI File -> tracks added to the project (one undo step). */
  async importMidi(file: File): Promise<void> {
    try {
      const bytes = await file.arrayBuffer();
      const patches = this.files.manifest.patches;
      const drums = patches.find((p) => p.unit === 'drums');
      const keys = patches.find((p) => p.unit === 'epiano') ?? patches.find((p) => p.meta.kind === 'instrument');
      // The native reader in the export worker when it has one, else the page's.
      const native = await readSmfNative(new URL('export-worker.js', location.href).href, bytes,
                                         keys ? fileOf(keys.source) : 'epiano.amp', drums ? fileOf(drums.source) : 'drums.amp');
      const song = native ?? readSmf(new Uint8Array(bytes));
      this.lastImportReader = native ? 'native' : 'page';
      let count = 0;
      this.store.transact(`Import ${file.name}`, (doc0) => {
        let doc: ProjectDoc = doc0;
        // Into an empty project the file's tempo map and meter come too.
        if (doc.tracks.length === 0) {
          doc = setTimeSignature(setTempo(doc, song.tempo), song.timeSignature[0], song.timeSignature[1]);
          for (const c of song.tempoChanges) doc = addTempoChange(doc, c.beat, c.bpm);
          for (const c of song.signatureChanges) doc = addTimeSignatureChange(doc, c.beat, c.num, c.den);
        }
        const bars = barsOf(doc);
        for (const t of song.tracks) {
          const patch = t.channel === 9 && drums ? drums : keys;
          const nativePatch = native?.patches[song.tracks.indexOf(t)];
          const id = newTrackId(doc);
          const end = Math.max(...t.notes.map((n) => n.start_beat + n.length_beats));
          const bar = bars.beatsPerBarAt(0);
          const ref = nativePatch ?? (patch ? patchRefOf(patch) : undefined);
          const next = addTrack(doc, { kind: 'instrument', id, name: t.name, ...(ref ? { patch: ref } : {}) });
          if (next === doc) break;   // 64 tracks
          doc = addClip(next, id, { start_beat: 0, length_beats: Math.max(bar, Math.ceil(end / bar) * bar),
                                    notes: t.notes, name: t.name });
          count++;
        }
        return ensureIds(doc);
      });
      this.say(count ? `Imported ${count} track${count === 1 ? '' : 's'} from ${file.name}.` : `${file.name} has no notes.`);
    } catch (e) {
      this.say(`Could not import ${file.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async exportAudio(format: WavChoice, stems: boolean): Promise<void> {
    if (this.ui.get().busy) return;
    this.ui.set({ busy: 'Rendering… 0 %' });
    try {
      // Library patches: their modules go to the export worker too.
      const parts = await this.library.exportParts(this.store.doc);
      const r = await exportAudio(this.files, parts.doc, format, stems,
                                  (hash) => this.persist.client.fetchAsset(hash),
                                  (f) => this.ui.set({ busy: `Rendering… ${Math.floor(f * 100)} %` }), parts.modules);
      this.lastExport = { note: r.note, frames: r.frames, rate: r.rate };
      for (const f of r.files) download(f);
      this.say(r.note);
    } catch (e) {
      this.say(`Export failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.ui.set({ busy: '' });
    }
  }

  exportMidi(): void {
    download(exportMidi(this.store.doc));
    this.say('Exported the notes as a MIDI file.');
  }
}

/** A patch source's file name ("nodes/epiano.amp" -> "epiano.amp"). */
function fileOf(source: string): string {
  return source.slice(source.lastIndexOf('/') + 1);
}
