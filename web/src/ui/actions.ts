// actions.ts — what the musician's gestures do to the document: each is one
// labelled transaction of doc/edits.ts's pure edits on the DocStore.
//
// Drags are given the document as it was when the drag began (`base`) and
// the whole offset so far: every pointer move replaces the previous step
// (same coalesce key), so a drag is one undo step and never accumulates
// rounding. Pointer-up calls store.endCoalesce().

import * as E from '../doc/edits';
import type { DocStore } from '../doc/history';
import type { Clip, Loop, Metronome, NoteDoc, PatchRef, ProjectDoc, SampleRef, TrackKind } from '../doc/project';

export class Actions {
  private readonly store: DocStore;
  /** Clips copied with Ctrl+C. */
  private board: E.Clipboard | null = null;

  constructor(store: DocStore) {
    this.store = store;
  }

  private get doc(): ProjectDoc {
    return this.store.doc;
  }

  // ---- project ----
  setName(name: string): void {
    this.store.transact('Rename project', (d) => E.setName(d, name));
  }
  setTempo(bpm: number): void {
    this.store.transact('Change tempo', (d) => E.setTempo(d, bpm));
  }
  addTempoChange(beat: number, bpm: number): void {
    this.store.transact('Add tempo change', (d) => E.addTempoChange(d, beat, bpm));
  }
  removeTempoChange(index: number): void {
    this.store.transact('Remove tempo change', (d) => E.removeTempoChange(d, index));
  }
  setTimeSignature(num: number, den: number): void {
    this.store.transact('Change time signature', (d) => E.setTimeSignature(d, num, den));
  }
  addTimeSignatureChange(beat: number, num: number, den: number): void {
    this.store.transact('Add time signature change', (d) => E.addTimeSignatureChange(d, beat, num, den));
  }
  removeTimeSignatureChange(index: number): void {
    this.store.transact('Remove time signature change', (d) => E.removeTimeSignatureChange(d, index));
  }
  setLoop(loop: Partial<Loop>, coalesce?: string): void {
    const label = loop.enabled === undefined || loop.start_beat !== undefined ? 'Set loop' : loop.enabled ? 'Loop on' : 'Loop off';
    this.store.transact(label, (d) => E.setLoop(d, loop), coalesce ? { coalesce } : {});
  }
  setMetronome(m: Partial<Metronome>): void {
    this.store.transact(m.enabled ? 'Metronome on' : 'Metronome off', (d) => E.setMetronome(d, m));
  }
  setMasterGain(db: number, coalesce?: string): void {
    this.store.transact('Master volume', (d) => E.setMasterGain(d, db), coalesce ? { coalesce } : {});
  }

  // ---- tracks ----
  /** Adds a track; returns its id (null when refused: 64 tracks). */
  addTrack(kind: TrackKind, patch?: PatchRef): number | null {
    const id = E.newTrackId(this.doc);
    const spec: E.NewTrack = patch === undefined ? { kind, id } : { kind, id, patch };
    const label = kind === 'instrument' ? 'Add instrument track' : kind === 'audio' ? 'Add audio track' : 'Add bus';
    return this.store.transact(label, (d) => E.addTrack(d, spec)) ? id : null;
  }
  removeTrack(id: number): void {
    this.store.transact('Delete track', (d) => E.removeTrack(d, id));
  }
  renameTrack(id: number, name: string): void {
    this.store.transact('Rename track', (d) => E.renameTrack(d, id, name));
  }
  moveTrack(id: number, index: number): void {
    this.store.transact('Reorder tracks', (d) => E.moveTrack(d, id, index));
  }
  colorTrack(id: number, color: string): void {
    this.store.transact('Track colour', (d) => E.setTrackColor(d, id, color));
  }
  setGain(id: number, db: number, coalesce?: string): void {
    this.store.transact('Volume', (d) => E.setGain(d, id, db), coalesce ? { coalesce } : {});
  }
  /** One instrument param (slot 0) of a track (the caller clamps it to
   *  the patch's range). */
  setParam(id: number, name: string, value: number, coalesce?: string): void {
    this.store.transact(`Set ${name}`, (d) => E.setParam(d, id, name, value), coalesce ? { coalesce } : {});
  }
  setPan(id: number, pan: number, coalesce?: string): void {
    this.store.transact('Pan', (d) => E.setPan(d, id, pan), coalesce ? { coalesce } : {});
  }
  setMute(id: number, mute: boolean): void {
    this.store.transact(mute ? 'Mute' : 'Unmute', (d) => E.setMute(d, id, mute));
  }
  setSolo(id: number, solo: boolean): void {
    this.store.transact(solo ? 'Solo' : 'Unsolo', (d) => E.setSolo(d, id, solo));
  }
  setSend(id: number, bus: number, db: number | null, coalesce?: string): void {
    this.store.transact(db === null ? 'Remove send' : 'Send level', (d) => E.setSend(d, id, bus, db),
                        coalesce ? { coalesce } : {});
  }
  /** `slots`: the new patch's sample slots (its metadata's "samples");
   *  the bindings of those the old one had too are kept. */
  setInstrument(id: number, patch: PatchRef, slots: readonly string[] = []): void {
    this.store.transact('Change instrument', (d) => E.setInstrument(d, id, patch, {}, slots));
  }
  /** Bind sample slot `slot` of a track's instrument (null: unbind); one
   *  undo step. Returns whether the document changed. */
  bindSample(id: number, slot: string, ref: SampleRef | null): boolean {
    const name = ref?.ui?.name;
    const label = ref ? `Load ${name ?? 'sample'} into ${slot}` : `Clear ${slot}`;
    return this.store.transact(label, (d) => E.bindSample(d, id, slot, ref));
  }

  // ---- clips ----
  /** A new empty clip; returns its id (null when refused). */
  addClip(trackId: number, start: number, length: number, notes: readonly NoteDoc[] = [], name?: string): string | null {
    const id = E.newClipId(this.doc);
    const spec: E.NewClip = { id, start_beat: start, length_beats: length, notes, ...(name ? { name } : {}) };
    return this.store.transact('New clip', (d) => E.addClip(d, trackId, spec)) ? id : null;
  }
  moveClips(base: ProjectDoc, ids: readonly string[], anchor: string, dbeat: number, toTrack: number, coalesce: string): void {
    const at = E.findClip(base, anchor);
    if (!at) return;
    const dtrack = E.trackIndex(base, toTrack) - at.trackIndex;
    this.store.transact(ids.length > 1 ? 'Move clips' : 'Move clip',
                        () => E.moveClips(base, ids, dbeat, dtrack), { coalesce });
  }
  resizeClip(base: ProjectDoc, id: string, start: number, length: number, coalesce: string): void {
    const at = E.findClip(base, id);
    if (!at) return;
    const c = at.clip;
    this.store.transact('Resize clip', () => {
      let d = base;
      if (start !== c.start_beat) d = E.resizeClip(d, id, 'left', start);
      if (start + length !== c.start_beat + c.length_beats) d = E.resizeClip(d, id, 'right', start + length);
      return d;
    }, { coalesce });
  }
  /** Drag of the loop handle: the clip becomes `length` long, its content
   *  (the loop, or all it had) repeating. */
  loopClip(base: ProjectDoc, id: string, length: number, coalesce: string): void {
    const at = E.findClip(base, id);
    if (!at) return;
    const c = at.clip;
    const loop = c.loop_beats ?? c.length_beats;
    this.store.transact('Loop clip', () => {
      let d = E.resizeClip(base, id, 'right', c.start_beat + length);
      // Dragged back to (or inside) its content, a clip that had no loop
      // has none again.
      d = E.setClipLoop(d, id, length <= loop && c.loop_beats === undefined ? undefined : loop);
      return d;
    }, { coalesce });
  }
  splitClip(id: string, beat: number): string | null {
    const newId = E.newClipId(this.doc);
    return this.store.transact('Split clip', (d) => E.splitClip(d, id, beat, newId)) ? newId : null;
  }
  duplicateClips(ids: readonly string[]): string[] {
    const made: string[] = [];
    this.store.transact(ids.length > 1 ? 'Duplicate clips' : 'Duplicate clip', (d) => {
      let out = d;
      for (const id of ids) {
        const newId = E.newClipId(out);
        const next = E.duplicateClip(out, id, newId);
        if (next !== out) made.push(newId);
        out = next;
      }
      return out;
    });
    return made;
  }
  deleteClips(ids: readonly string[]): void {
    this.store.transact(ids.length > 1 ? 'Delete clips' : 'Delete clip', (d) => E.deleteClips(d, ids));
  }
  copyClips(ids: readonly string[]): number {
    this.board = E.copyClips(this.doc, ids);
    return this.board.clips.length;
  }
  pasteClips(trackId: number, beat: number): string[] {
    const board = this.board;
    if (!board) return [];
    const ids: string[] = [];
    this.store.transact('Paste', (d) => E.pasteClips(d, board, trackId, beat, ids));
    return ids;
  }
  setClip(id: string, clip: Clip, label: string): void {
    this.store.transact(label, (d) => E.setClip(d, id, clip));
  }

  // ---- notes ----
  /** Adds a note; returns its index in the clip. */
  addNote(clipId: string, note: NoteDoc, coalesce?: string): number {
    const at = E.findClip(this.doc, clipId);
    if (!at) return -1;
    const index = at.clip.notes.length;
    return this.store.transact('Add note', (d) => E.addNote(d, clipId, note), coalesce ? { coalesce } : {}) ? index : -1;
  }
  /** Length of a note being drawn (the same undo step as its addition). */
  drawNoteLength(base: ProjectDoc, clipId: string, note: NoteDoc, coalesce: string): void {
    this.store.transact('Add note', () => E.addNote(base, clipId, note), { coalesce });
  }
  moveNotes(base: ProjectDoc, clipId: string, indices: readonly number[], dbeat: number, dkey: number, coalesce: string): void {
    this.store.transact(indices.length > 1 ? 'Move notes' : 'Move note',
                        () => E.moveNotes(base, clipId, indices, dbeat, dkey), coalesce ? { coalesce } : {});
  }
  nudgeNotes(clipId: string, indices: readonly number[], dbeat: number, dkey: number): void {
    this.store.transact(indices.length > 1 ? 'Move notes' : 'Move note',
                        (d) => E.moveNotes(d, clipId, indices, dbeat, dkey));
  }
  resizeNotes(base: ProjectDoc, clipId: string, indices: readonly number[], dlength: number, coalesce: string): void {
    this.store.transact('Resize notes', () => E.resizeNotes(base, clipId, indices, dlength), { coalesce });
  }
  deleteNotes(clipId: string, indices: readonly number[]): void {
    this.store.transact(indices.length > 1 ? 'Delete notes' : 'Delete note', (d) => E.deleteNotes(d, clipId, indices));
  }
  setVelocity(clipId: string, indices: readonly number[], v: number, coalesce: string): void {
    this.store.transact('Velocity', (d) => E.setVelocity(d, clipId, indices, v), { coalesce });
  }
  quantize(clipId: string, indices: readonly number[], grid: number): void {
    this.store.transact('Quantize', (d) => E.quantizeNotes(d, clipId, indices, grid));
  }
  /** A recorded take: notes into a new clip (one undo step). */
  recordTake(trackId: number, start: number, length: number, notes: readonly NoteDoc[]): string | null {
    return this.addClip(trackId, start, length, notes, 'Recording');
  }
}
