// sync.ts — the one writer of the engine's commands from the DAW.
//
// Sync listens to the DocStore and, for every change, compares the document
// before and after by identity (documents share what an edit did not
// touch: doc/project.ts) and tells an EngineSink what changed, in the
// project's terms. A whole-document load (`reset`) rebuilds everything.
// Live notes (computer keyboard, MIDI) and the transport go through here
// too, so the ring has one producer.
//
// Diff granularity: the project's scalars (tempo map, signature, loop,
// metronome, master); per track: instrument + params, inserts, voice,
// fader, sends, automation; clips and regions by ui.id, anywhere in the
// project (a clip dragged to another track is one putClip). Changing one
// note re-sends its clip only.

import type { ChangeCause, DocStore } from '../doc/history';
import {
  DEFAULTS,
  type AutomationTarget,
  type Clip,
  type Fader,
  type Insert,
  type ProjectDoc,
  type RegionDoc,
  type TrackDoc,
} from '../doc/project';
import type { EngineSink, FaderSpec, LaneSpec, ParamValue, PatchRegistry, PatchSpec, SampleBinding, SendSpec } from './sink';

/** Fader slot and params of an automation lane (sink.ts LaneSpec). */
const FADER_SLOT = -1;

function faderSpec(f: Fader | undefined): FaderSpec {
  return { gain_db: f?.gain_db ?? 0, pan: f?.pan ?? 0, mute: f?.mute ?? false, solo: f?.solo ?? false };
}

function sameFader(a: Fader | undefined, b: Fader | undefined): boolean {
  const x = faderSpec(a);
  const y = faderSpec(b);
  return x.gain_db === y.gain_db && x.pan === y.pan && x.mute === y.mute && x.solo === y.solo;
}

export class Sync {
  private readonly sink: EngineSink;
  private readonly registry: PatchRegistry;
  private unsubscribe: (() => void) | null = null;
  private doc: ProjectDoc | null = null;
  private nextNoteId = 1;
  /** Live notes sounding: note id -> track id. */
  private readonly live = new Map<number, number>();
  private playing = false;
  /** Called once when the sink says the engine is outgrown (EngineSink.
   *  outgrown) after a change or a reset, with the document: the page
   *  then starts a larger engine and resets into it (client.ts
   *  resizeEngine). Again only after the next reset. */
  onOutgrown: ((doc: ProjectDoc) => void) | null = null;
  private outgrownSaid = false;

  constructor(sink: EngineSink, registry: PatchRegistry) {
    this.sink = sink;
    this.registry = registry;
  }

  /** Build the engine from `store.doc` and follow the store from then on. */
  attach(store: DocStore): void {
    this.detach();
    this.reset(store.doc);
    this.unsubscribe = store.subscribe((doc, prev, cause) => this.change(doc, prev, cause));
  }

  detach(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Everything from scratch: clear the engine, then every setting, track
   *  and clip of `doc`. */
  reset(doc: ProjectDoc): void {
    this.outgrownSaid = false;
    this.live.clear();
    this.playing = false;
    this.sink.clear();
    this.doc = doc;
    this.sink.setTempoMap(doc.tempo ?? DEFAULTS.tempo, doc.tempo_changes ?? []);
    const [num, den] = doc.time_signature ?? DEFAULTS.timeSignature;
    this.sink.setTimeSignature(num, den, doc.time_signature_changes ?? []);
    this.sink.setLoop(doc.loop ?? null);
    this.sink.setMetronome(doc.metronome ?? null);
    this.sink.setMasterGain(doc.master?.gain_db ?? 0);
    doc.tracks.forEach((t, i) => this.sink.addTrack(t.id, i, t.kind));
    if (doc.tracks.length) this.sink.setTrackOrder(doc.tracks.map((t) => t.id));
    for (const t of doc.tracks) this.buildTrack(t, undefined);
    // Sends last: every bus exists by now.
    for (const t of doc.tracks) if (t.sends?.length) this.sink.setSends(t.id, this.sends(t));
    this.checkOutgrown(doc);
  }

  private checkOutgrown(doc: ProjectDoc): void {
    if (this.outgrownSaid || !this.sink.outgrown) return;
    this.outgrownSaid = true;
    this.onOutgrown?.(doc);
  }

  /** The document the engine holds now. */
  get current(): ProjectDoc | null {
    return this.doc;
  }

  /** Apply a change of the document (DocStore listener). */
  change(doc: ProjectDoc, prev: ProjectDoc, cause: ChangeCause): void {
    if (cause === 'replace' || this.doc !== prev) {
      // A replaced document, or one we did not see the way to: rebuild.
      if (cause === 'replace' || this.doc === null) {
        this.reset(doc);
        return;
      }
      prev = this.doc;
    }
    this.diff(prev, doc);
    this.doc = doc;
    if (this.sink.needsRebuild?.()) this.reset(doc);
    else this.checkOutgrown(doc);
  }

  private diff(prev: ProjectDoc, doc: ProjectDoc): void {
    if (prev === doc) return;
    const s = this.sink;
    if (prev.tempo !== doc.tempo || prev.tempo_changes !== doc.tempo_changes)
      s.setTempoMap(doc.tempo ?? DEFAULTS.tempo, doc.tempo_changes ?? []);
    if (prev.time_signature !== doc.time_signature || prev.time_signature_changes !== doc.time_signature_changes) {
      const [num, den] = doc.time_signature ?? DEFAULTS.timeSignature;
      s.setTimeSignature(num, den, doc.time_signature_changes ?? []);
    }
    if (prev.loop !== doc.loop) s.setLoop(doc.loop ?? null);
    if (prev.metronome !== doc.metronome) s.setMetronome(doc.metronome ?? null);
    if ((prev.master?.gain_db ?? 0) !== (doc.master?.gain_db ?? 0)) s.setMasterGain(doc.master?.gain_db ?? 0);
    if (prev.tracks === doc.tracks) return;

    const before = new Map(prev.tracks.map((t) => [t.id, t]));
    const after = new Map(doc.tracks.map((t) => [t.id, t]));
    // A track whose kind changed is a new track.
    const gone = prev.tracks.filter((t) => after.get(t.id)?.kind !== t.kind);
    const added = doc.tracks.filter((t) => before.get(t.id)?.kind !== t.kind);

    // Clips and regions by id, over the tracks that changed.
    const oldClips = new Map<string, { track: number; clip: Clip }>();
    const oldRegions = new Map<string, { track: number; region: RegionDoc }>();
    for (const t of prev.tracks) {
      if (after.get(t.id) === t) continue;
      for (const c of t.clips ?? []) if (c.ui?.id) oldClips.set(c.ui.id, { track: t.id, clip: c });
      for (const r of t.regions ?? []) if (r.ui?.id) oldRegions.set(r.ui.id, { track: t.id, region: r });
    }
    const newClips = new Map<string, { track: number; clip: Clip }>();
    const newRegions = new Map<string, { track: number; region: RegionDoc }>();
    for (const t of doc.tracks) {
      if (before.get(t.id) === t) continue;
      for (const c of t.clips ?? []) if (c.ui?.id) newClips.set(c.ui.id, { track: t.id, clip: c });
      for (const r of t.regions ?? []) if (r.ui?.id) newRegions.set(r.ui.id, { track: t.id, region: r });
    }
    const goneIds = new Set(gone.map((t) => t.id));
    // Removed clips first (those of removed tracks go with their track).
    for (const [id, o] of oldClips) if (!newClips.has(id) && !goneIds.has(o.track)) s.removeClip(id);
    for (const [id, o] of oldRegions) if (!newRegions.has(id) && !goneIds.has(o.track)) s.removeRegion(id);
    // A removed track takes the sends to it along (in the engine too);
    // sends are set after the adds below, when every bus they name exists.
    for (const t of gone) s.removeTrack(t.id);
    for (const t of added) s.addTrack(t.id, doc.tracks.indexOf(t), t.kind);
    const order = (ts: readonly TrackDoc[]): string => ts.map((t) => t.id).join(',');
    if (gone.length || added.length || order(prev.tracks) !== order(doc.tracks))
      s.setTrackOrder(doc.tracks.map((t) => t.id));

    for (const t of doc.tracks) {
      const p = before.get(t.id);
      if (p === t) continue;
      if (!p || p.kind !== t.kind) this.buildTrack(t, undefined);
      else this.updateTrack(p, t);
    }
    for (const t of doc.tracks) {
      const p = before.get(t.id);
      if (p === t) continue;
      const fresh = !p || p.kind !== t.kind;
      if (fresh ? t.sends?.length : p.sends !== t.sends) s.setSends(t.id, this.sends(t));
    }
    // Clips that are new or changed (or moved track).
    for (const [id, n] of newClips) {
      const o = oldClips.get(id);
      if (o && o.clip === n.clip && o.track === n.track && !added.some((t) => t.id === n.track)) continue;
      if (added.some((t) => t.id === n.track)) continue;   // built with its track
      s.putClip(n.track, id, n.clip);
    }
    for (const [id, n] of newRegions) {
      const o = oldRegions.get(id);
      if (o && o.region === n.region && o.track === n.track) continue;
      if (added.some((t) => t.id === n.track)) continue;
      s.putRegion(n.track, id, n.region);
    }
  }

  /** Everything of a new track but its sends. */
  private buildTrack(t: TrackDoc, _prev: undefined): void {
    const s = this.sink;
    if (t.kind === 'instrument') {
      s.setInstrument(t.id, this.instrument(t));
      if (t.voice_mode || t.note_priority || t.glide_seconds) s.setVoice(t.id, this.voice(t));
      if (t.samples) s.setSamples?.(t.id, this.samples(t));
    }
    if (t.inserts?.length) s.setInserts(t.id, t.inserts.map((i) => this.insert(i)));
    if (!sameFader(t.fader, undefined)) s.setFader(t.id, faderSpec(t.fader));
    if (t.automation?.length) s.setAutomation(t.id, this.lanes(t));
    for (const c of t.clips ?? []) if (c.ui?.id) s.putClip(t.id, c.ui.id, c);
    for (const r of t.regions ?? []) if (r.ui?.id) s.putRegion(t.id, r.ui.id, r);
  }

  private updateTrack(p: TrackDoc, t: TrackDoc): void {
    const s = this.sink;
    if (t.kind === 'instrument') {
      if (JSON.stringify(p.patch) !== JSON.stringify(t.patch)) {
        s.setInstrument(t.id, this.instrument(t));
      } else if (p.params !== t.params) {
        const changed = this.changedParams(this.registry.indexOf(t.patch), p.params, t.params);
        if (changed === null) s.setInstrument(t.id, this.instrument(t));
        else if (changed.length) s.setParams(t.id, 0, changed);
      }
      if (p.voice_mode !== t.voice_mode || p.note_priority !== t.note_priority || p.glide_seconds !== t.glide_seconds)
        s.setVoice(t.id, this.voice(t));
      if (JSON.stringify(p.patch) !== JSON.stringify(t.patch) ||
          JSON.stringify(p.samples) !== JSON.stringify(t.samples))
        s.setSamples?.(t.id, this.samples(t, p));
    }
    if (p.inserts !== t.inserts) this.updateInserts(p, t);
    if (p.fader !== t.fader && !sameFader(p.fader, t.fader)) s.setFader(t.id, faderSpec(t.fader));
    if (p.automation !== t.automation) s.setAutomation(t.id, this.lanes(t));
  }

  private updateInserts(p: TrackDoc, t: TrackDoc): void {
    const a = p.inserts ?? [];
    const b = t.inserts ?? [];
    const samePatches = a.length === b.length &&
      a.every((x, i) => JSON.stringify(x.patch) === JSON.stringify(b[i]?.patch));
    if (!samePatches) {
      this.sink.setInserts(t.id, b.map((i) => this.insert(i)));
      return;
    }
    const changes = b.map((ins, i) => {
      const old = a[i]!;
      return old.params === ins.params ? [] : this.changedParams(this.registry.indexOf(ins.patch), old.params, ins.params);
    });
    if (changes.some((c) => c === null)) {
      this.sink.setInserts(t.id, b.map((i) => this.insert(i)));
      return;
    }
    changes.forEach((c, i) => {
      if (c?.length) this.sink.setParams(t.id, i + 1, c);
    });
  }

  /** The params of `b` that differ from `a`; null when a param of `a` is
   *  no longer set (it goes back to its default, which only the patch
   *  knows: the caller sets the patch again whole). */
  private changedParams(patch: number, a: Readonly<Record<string, number>> | undefined,
                        b: Readonly<Record<string, number>> | undefined): ParamValue[] | null {
    for (const name of Object.keys(a ?? {})) if (b?.[name] === undefined) return null;
    const out: ParamValue[] = [];
    for (const [name, value] of Object.entries(b ?? {})) {
      if (a?.[name] === value) continue;
      const index = this.registry.paramIndex(patch, name);
      if (index >= 0) out.push({ index, value });
    }
    return out;
  }

  private patchSpec(ref: TrackDoc['patch'], params: Readonly<Record<string, number>> | undefined): PatchSpec {
    const patch = this.registry.indexOf(ref);
    const values: ParamValue[] = [];
    if (patch >= 0)
      for (const [name, value] of Object.entries(params ?? {})) {
        const index = this.registry.paramIndex(patch, name);
        if (index >= 0) values.push({ index, value });
      }
    return { patch, params: values };
  }

  private instrument(t: TrackDoc): PatchSpec {
    return this.patchSpec(t.patch, t.params);
  }

  private insert(i: Insert): PatchSpec {
    return this.patchSpec(i.patch, i.params);
  }

  private voice(t: TrackDoc): { mode: NonNullable<TrackDoc['voice_mode']>; priority: NonNullable<TrackDoc['note_priority']>; glide_seconds: number } {
    return { mode: t.voice_mode ?? 'poly', priority: t.note_priority ?? 'last', glide_seconds: t.glide_seconds ?? 0 };
  }

  private sends(t: TrackDoc): SendSpec[] {
    return (t.sends ?? []).map((x) => ({ bus: x.bus, level_db: x.level_db }));
  }

  private lanes(t: TrackDoc): LaneSpec[] {
    const out: LaneSpec[] = [];
    for (const a of t.automation ?? []) {
      const target: AutomationTarget = a.target;
      if ('fader' in target) {
        out.push({ slot: FADER_SLOT, param: target.fader === 'gain_db' ? 0 : 1, points: a.points });
        continue;
      }
      const ref = target.slot === 0 ? t.patch : t.inserts?.[target.slot - 1]?.patch;
      const param = this.registry.paramIndex(this.registry.indexOf(ref), target.param);
      if (param >= 0) out.push({ slot: target.slot, param, points: a.points });
    }
    return out;
  }

  /** Every sample slot of the instrument the document binds (by the
   *  slot's index in its patch's metadata, the engine's terms), and the
   *  slots `prev` bound that it no longer does, by their index in `prev`'s
   *  patch (unbound: asset null). The engine keeps a track's bindings
   *  across instruments (bind_sample), so a slot the old patch had bound
   *  must be cleared even when the new patch names it otherwise. Only
   *  assets: a slot naming a file is left unbound (the page plays ampd
   *  assets only). */
  private samples(t: TrackDoc, prev?: TrackDoc): SampleBinding[] {
    const out = new Map<number, string | null>();
    const slotOf = (ref: TrackDoc['patch'], name: string): number =>
      this.registry.sampleSlot?.(this.registry.indexOf(ref), name) ?? -1;
    for (const name of Object.keys(prev?.samples ?? {})) {
      const slot = slotOf(prev!.patch, name);
      if (slot >= 0) out.set(slot, null);
    }
    for (const [name, ref] of Object.entries(t.samples ?? {})) {
      const slot = slotOf(t.patch, name);
      if (slot >= 0) out.set(slot, ref.asset ?? null);
    }
    return [...out].map(([slot, asset]) => ({ slot, asset }));
  }

  /** Send again every instrument and insert chain with a patch `uses`
   *  names (a patch module that joined the engine after they were sent:
   *  the registry gave -1 then), with its params, voice and automation. */
  resendPatches(uses: (ref: TrackDoc['patch']) => boolean): void {
    const doc = this.doc;
    if (!doc) return;
    for (const t of doc.tracks) {
      const instrument = t.kind === 'instrument' && uses(t.patch);
      const inserts = (t.inserts ?? []).some((i) => uses(i.patch));
      if (instrument) {
        this.sink.setInstrument(t.id, this.instrument(t));
        if (t.voice_mode || t.note_priority || t.glide_seconds) this.sink.setVoice(t.id, this.voice(t));
        if (t.samples) this.sink.setSamples?.(t.id, this.samples(t));
      }
      if (inserts) this.sink.setInserts(t.id, (t.inserts ?? []).map((i) => this.insert(i)));
      if ((instrument || inserts) && t.automation?.length) this.sink.setAutomation(t.id, this.lanes(t));
    }
  }

  // ---- live notes and the transport --------------------------------------------------

  /** Start a live note on a track; returns its id for noteOff. */
  noteOn(trackId: number, key: number, velocity: number, atMs?: number): number {
    const id = this.nextNoteId++;
    this.live.set(id, trackId);
    this.sink.noteOn(trackId, id, key, velocity, atMs);
    return id;
  }

  noteOff(noteId: number, atMs?: number): void {
    const track = this.live.get(noteId);
    if (track === undefined) return;
    this.live.delete(noteId);
    this.sink.noteOff(track, noteId, atMs);
  }

  allNotesOff(): void {
    this.live.clear();
    this.sink.allNotesOff();
  }

  play(): void {
    this.playing = true;
    this.sink.play();
  }

  stop(): void {
    this.playing = false;
    this.sink.stop();
  }

  /** The transport as last asked (the engine's own state is in telemetry). */
  get isPlaying(): boolean {
    return this.playing;
  }

  seekBeat(beat: number): void {
    this.sink.seekBeat(Math.max(0, beat));
  }
}
