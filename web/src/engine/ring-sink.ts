// ring-sink.ts — the EngineSink that writes the command ring (format 3).
//
// Every detail of the ring's commands the DAW uses is in this file. It
// speaks the project's own terms (runtime/README.md, "The project's own
// terms"): beats, exact dB, the sender's clip, placement and region ids,
// clip notes and breakpoints as commands, the mixer order. So the engine
// it builds is the one project_feed builds from the same document, and the
// page plays what `amp render` renders (tests/web/live_parity.mjs proves
// it bit for bit); nothing here turns beats into samples.
//
//   tempo map          tempo_bpm, then tempo_change_beat each
//   signature map      time_signature, then time_signature_change each
//   metronome          metronome (live: `enabled`)
//   loop               loop_beats
//   master             fader_gain(-1, dB)
//   a track            add_track under the lowest free engine id, then
//                      set_track_position(id, index) for every track whose
//                      index changed: the mix sums in the document's order
//                      (buses after the others), so no track is renumbered
//   instrument, insert set_instrument / add_insert, set_param each, settle
//   fader              fader_gain, set_pan, set_mute, set_solo
//   sends              set_send_db (remove: the flag)
//   a clip             clip_notes(clip id, n) + n clip_note (sorted as the
//                      project reader sorts: start, key, length), only when
//                      its notes changed; place_clip_beats(placement id,
//                      ...) with its loop; removed: remove_placement and
//                      clip_notes(id, 0)
//   an audio region    the asset's WAV bytes to the engine once (decoded
//                      and resampled there by amp render's C:
//                      EngineClient.loadWav), load_sample, then
//                      place_region_beats; removed: remove_region
//   sample slots       an instrument's "samples": the asset loaded as a
//                      region's is, then bind_sample(track, slot, id)
//                      (-1: unbound)
//   automation         automation_lane + automation_point each (slot 17:
//                      the fader); a removed lane automation_lane(.., 0)
//   transport          play, stop, seek_beat
//
// Ids: engine track ids, clip ids, placement ids, region ids and sample
// ids are the lowest free below the engine's limits (target.limits, else
// amp_init's fixed sizes); an id past them is refused with one warning and
// `outgrown` is set, so the client can start a larger engine and reset.
//
// Times: structural commands are "as soon as possible" (0: the next
// quantum, in ring order). Live notes carry the engine time of their key
// press; the transport's commands keep their place after them (stamp).
//
// A full ring: commands wait in a backlog, in order, and go out on the
// next flush (a timer), so a large project's load is never cut short.

import { DEFAULTS, type Clip, type Loop, type Metronome, type RegionDoc, type TempoChange,
         type TimeSignatureChange, type TrackKind as DocTrackKind } from '../doc/project';
import { NotePriority, TrackKind, VoiceMode, type CommandSender } from './commands';
import type { EngineSink, FaderSpec, LaneSpec, ParamValue, PatchSpec, SampleBinding, SendSpec, VoiceSpec } from './sink';

/** A WAV file the engine decoded into its pool (EngineClient.loadWav). */
export interface LoadedSample {
  readonly handle: number;
  readonly frames: number;
  readonly channels: number;
  readonly message?: string;
}

/** The ids the engine was sized for (limits.ts EngineLimits has them). */
export interface SinkLimits {
  readonly tracks: number;
  readonly clips: number;
  readonly placementsPerTrack: number;
  readonly samples: number;
  readonly regionsPerTrack: number;
}

/** amp_init's fixed sizes (wasm_main.c browser_config). */
export const FIXED_SINK_LIMITS: SinkLimits = { tracks: 64, clips: 256, placementsPerTrack: 64, samples: 64,
                                               regionsPerTrack: 64 };

/** What the sink needs of the engine (EngineClient has it all). */
export interface RingTarget {
  readonly commands: CommandSender;
  readonly sampleRate: number;
  /** Engine time for a performance.now() time (EngineClient.frameAt): the
   *  earliest frame a command sent at that time can be stamped with. */
  frameAt(ms: number): number;
  /** A WAV file's bytes into the engine's sample pool, decoded and
   *  resampled by the engine (EngineClient.loadWav). */
  loadWav?(bytes: ArrayBuffer): Promise<LoadedSample>;
  /** Decoded channels (at the engine's rate) into the pool; resolves to a
   *  handle for load_sample, -1 when full (EngineClient.loadSample). Used
   *  only without loadWav (with `decode`). */
  loadSample?(channels: Float32Array[]): Promise<number>;
  /** The engine's limits (EngineClient.limits); absent: amp_init's. */
  readonly limits?: SinkLimits | null;
  /** The engine's AudioContext (unused since ring format 3: kept for old
   *  callers). */
  readonly context?: BaseAudioContext;
}

/** Decoded audio, as an AudioBuffer has it. */
export interface DecodedAudio {
  readonly numberOfChannels: number;
  readonly length: number;
  getChannelData(channel: number): Float32Array;
}

export interface RingSinkOptions {
  /** Unused since ring format 3 (the engine plays clips itself). */
  readonly lookaheadSeconds?: number;
  /** Unused since ring format 3. */
  readonly intervalMs?: number;
  /** Unused since ring format 3. */
  readonly now?: () => number;
  /** The bytes of an ampd asset (default: GET /api/assets/HASH). */
  readonly fetchAsset?: (hash: string) => Promise<ArrayBuffer>;
  /** Decode on the page (only for a target without loadWav). */
  readonly decode?: (bytes: ArrayBuffer) => Promise<DecodedAudio>;
}

/** A lane's value at `beat` (PROJECT.md, Automation): the first value
 *  before the first point, the last after the last, linear in beats
 *  between two points; of two points at one beat the later holds from it. */
export function laneValue(points: LaneSpec['points'], beat: number): number {
  const first = points[0];
  if (!first) return NaN;
  if (beat < first.beat) return first.value;
  let i = 0;
  while (i + 1 < points.length && points[i + 1]!.beat <= beat) i++;
  const a = points[i]!;
  const b = points[i + 1];
  if (!b || b.beat === a.beat) return a.value;
  return a.value + (b.value - a.value) * (beat - a.beat) / (b.beat - a.beat);
}

/** A clip's notes as the project reader sorts them (start, key, length;
 *  stable), with the note fields the ring takes. */
export function sortedNotes(clip: Clip): { start: number; length: number; key: number; velocity: number }[] {
  const notes = clip.notes.map((n) => ({ start: n.start_beat, length: n.length_beats, key: n.key,
                                        velocity: n.velocity ?? DEFAULTS.velocity }));
  return notes.sort((a, b) => a.start - b.start || a.key - b.key || a.length - b.length);
}

const INSERT_LIMIT = 16;
const FADER_SLOT = INSERT_LIMIT + 1;   // automation_lane's slot for the fader
const BEAT_MAX = 999999999;
const GAIN_MAX = 24;
const METRONOME_MIN = -150;

const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);
/** A dB value the F32 fields take (-FLT_MAX .. 24). */
const db = (x: number): number => (Number.isFinite(x) ? Math.min(x, GAIN_MAX) : -1e30);

const KIND: Record<DocTrackKind, number> = {
  instrument: TrackKind.Instrument, audio: TrackKind.Audio, bus: TrackKind.Bus,
};
const MODE: Record<VoiceSpec['mode'], number> = { poly: VoiceMode.Poly, mono: VoiceMode.Mono, legato: VoiceMode.Legato };
const PRIORITY: Record<VoiceSpec['priority'], number> = {
  last: NotePriority.Last, low: NotePriority.Low, high: NotePriority.High,
};

interface EngineTrack {
  readonly engine: number;
  readonly kind: DocTrackKind;
  inserts: number;
  /** The position last sent (set_track_position). */
  position: number;
  /** bus doc id -> level sent (dB). */
  sends: Map<number, number>;
  /** "slot.param" -> points sent. */
  lanes: Map<string, LaneSpec['points']>;
  /** The document's params of each slot (0 the instrument, k insert k):
   *  param index -> value, sent again with a settle at play. */
  slots: Map<number, Map<number, number>>;
}

interface PlacedClip {
  readonly clip: number;
  readonly placement: number;
  trackId: number;
  notes: Clip['notes'] | null;
}

/** The lowest free number below a limit. */
class FreeIds {
  private readonly used = new Set<number>();
  take(limit: number): number {
    for (let i = 0; i < limit; i++)
      if (!this.used.has(i)) {
        this.used.add(i);
        return i;
      }
    return -1;
  }
  give(id: number): void {
    this.used.delete(id);
  }
  all(): number[] {
    return [...this.used];
  }
  clear(): void {
    this.used.clear();
  }
  add(id: number): void {
    this.used.add(id);
  }
}

export class RingSink implements EngineSink {
  private target: RingTarget;
  private readonly tracks = new Map<number, EngineTrack>();
  /** Engine track ids taken: amp_init's track 0 until the first clear(). */
  private readonly trackIds = new FreeIds();
  private readonly clipIds = new FreeIds();
  private readonly placementIds = new FreeIds();
  private readonly regionIds = new FreeIds();
  private readonly clips = new Map<string, PlacedClip>();
  private readonly regions = new Map<string, { num: number; trackId: number }>();
  private readonly backlog: (() => boolean)[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly warned = new Set<string>();
  private lastLive = 0;
  private playingNow = false;
  private playhead = 0;
  // Audio: a sample id per asset (loaded once, in the background:
  // place_region_beats may name a sample loaded later).
  private readonly samples = new Map<string, number>();
  private readonly sizes = new Map<string, { channels: number; frames: number }>();
  private readonly problems = new Map<string, string>();
  private readonly fetchAsset: (hash: string) => Promise<ArrayBuffer>;
  private readonly decode: ((bytes: ArrayBuffer) => Promise<DecodedAudio>) | null;
  /** Loads of assets still running (tests wait for them). */
  readonly loading = new Set<Promise<void>>();
  /** Set when the document needs more of an id than the engine has (the
   *  client then starts a larger engine and resets Sync into it). */
  outgrown = false;

  constructor(target: RingTarget, opts: RingSinkOptions = {}) {
    this.target = target;
    this.trackIds.add(0);
    this.fetchAsset = opts.fetchAsset ?? (async (hash) => {
      const r = await fetch(`/api/assets/${hash}`, { credentials: 'same-origin' });
      if (!r.ok) throw new Error(`asset ${hash}: HTTP ${r.status}`);
      return r.arrayBuffer();
    });
    const context = target.context;
    this.decode = opts.decode ?? (context ? (bytes) => context.decodeAudioData(bytes) : null);
  }

  /** Write to another engine from now on (a new, larger one: client.ts
   *  resizeEngine): everything this sink knew of the old one is dropped
   *  (what waits in the backlog too); the caller then rebuilds the
   *  document into it (Sync.reset). */
  retarget(target: RingTarget): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.backlog.length = 0;
    this.target = target;
    this.tracks.clear();
    this.trackIds.clear();
    this.trackIds.add(0);
    this.clips.clear();
    this.clipIds.clear();
    this.placementIds.clear();
    this.regions.clear();
    this.regionIds.clear();
    this.samples.clear();
    this.lastLive = 0;
    this.playingNow = false;
    this.outgrown = false;
  }

  /** The audio files loaded so far, by asset hash, at the engine's rate
   *  (for engineSizing's sample pool). */
  sampleSizes(): Record<string, { channels: number; frames: number }> {
    return Object.fromEntries(this.sizes);
  }

  /** One asset's size in the engine (at its rate), once loaded. */
  sampleSize(hash: string): { channels: number; frames: number } | undefined {
    return this.sizes.get(hash);
  }

  /** Why an asset is not in the engine (it did not fetch or decode), if
   *  it is not. */
  sampleProblem(hash: string): string | undefined {
    return this.problems.get(hash);
  }

  /** The engine track id of a document track (-1: none). */
  engineTrack(trackId: number): number {
    return this.tracks.get(trackId)?.engine ?? -1;
  }

  /** Commands that could not be sent (ring full) and are still waiting. */
  get waiting(): number {
    return this.backlog.length;
  }

  private get limits(): SinkLimits {
    return this.target.limits ?? FIXED_SINK_LIMITS;
  }

  // ---- plumbing ----------------------------------------------------------------------

  private get cmd(): CommandSender {
    return this.target.commands;
  }

  private emit(write: () => boolean): void {
    if (this.backlog.length || !write()) {
      this.backlog.push(write);
      this.scheduleFlush();
    }
  }

  /** Send what waits for room in the ring; true when nothing is left. */
  flush(): boolean {
    while (this.backlog.length) {
      if (!this.backlog[0]!()) {
        this.scheduleFlush();
        return false;
      }
      this.backlog.shift();
    }
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== null) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, 10);
  }

  private missing(what: string, todo: string): void {
    if (this.warned.has(what)) return;
    this.warned.add(what);
    console.warn(`engine: ${what} is not sent to the engine (${todo})`);
  }

  private full(what: string): void {
    this.outgrown = true;
    this.missing(`more ${what} than this engine holds`, 'a larger engine is needed');
  }

  private track(trackId: number): EngineTrack | undefined {
    const t = this.tracks.get(trackId);
    if (!t) this.missing(`track ${trackId}`, 'the sync layer named a track it did not add');
    return t;
  }

  // ---- the project -------------------------------------------------------------------

  clear(): void {
    this.playingNow = false;
    this.playhead = 0;
    for (const c of this.clips.values()) this.emit(() => this.cmd.clipNotes(0, c.clip, 0));
    this.clips.clear();
    this.clipIds.clear();
    this.placementIds.clear();
    this.regions.clear();
    this.regionIds.clear();
    for (const id of this.trackIds.all().sort((a, b) => b - a)) this.emit(() => this.cmd.removeTrack(0, id));
    this.trackIds.clear();
    this.tracks.clear();
    this.outgrown = false;
    const t = this.stamp(0);
    this.emit(() => this.cmd.stop(t));
    this.emit(() => this.cmd.seekBeat(t, 0));
  }

  setTempoMap(bpm: number, changes: readonly TempoChange[]): void {
    this.emit(() => this.cmd.tempoBpm(0, clamp(bpm, 1, 1000)));
    for (const c of changes) {
      const beat = clamp(c.beat, 0, BEAT_MAX);
      const v = clamp(c.bpm, 1, 1000);
      this.emit(() => this.cmd.tempoChangeBeat(0, beat, v));
    }
  }

  setTimeSignature(num: number, den: number, changes: readonly TimeSignatureChange[]): void {
    this.emit(() => this.cmd.timeSignature(0, num, den));
    for (const c of changes) {
      const beat = clamp(c.beat, 0, BEAT_MAX);
      this.emit(() => this.cmd.timeSignatureChange(0, beat, c.num, c.den));
    }
  }

  setLoop(loop: Loop | null): void {
    if (!loop) {
      this.emit(() => this.cmd.loopBeats(0, 0, 0, false));
      return;
    }
    const start = clamp(loop.start_beat, 0, BEAT_MAX);
    const end = clamp(loop.end_beat, 0, BEAT_MAX);
    const enabled = loop.enabled && end > start;
    this.emit(() => this.cmd.loopBeats(0, start, Math.max(start, end), enabled));
  }

  /** The engine's metronome (clicks on the signature map's beats, added
   *  to the master after its fader) while the transport plays. */
  setMetronome(metronome: Metronome | null): void {
    const gain = clamp(metronome?.gain_db ?? 0, METRONOME_MIN, GAIN_MAX);
    const on = metronome?.enabled ?? false;
    this.emit(() => this.cmd.metronome(0, gain, on));
  }

  setMasterGain(gainDb: number): void {
    const v = db(gainDb);
    this.emit(() => this.cmd.faderGain(0, -1, v));
  }

  // ---- tracks -------------------------------------------------------------------------

  addTrack(trackId: number, position: number, kind: DocTrackKind): void {
    if (this.tracks.has(trackId)) this.removeTrack(trackId);
    const engine = this.trackIds.take(this.limits.tracks);
    if (engine < 0) {
      this.full('tracks');
      return;
    }
    // A new track's position is its id: set_track_position follows
    // (setTrackOrder, or here for a track added alone).
    this.tracks.set(trackId, { engine, kind, inserts: 0, position: engine, sends: new Map(), lanes: new Map(),
                                     slots: new Map() });
    this.emit(() => this.cmd.addTrack(0, engine, KIND[kind]));
    this.position(trackId, position);
  }

  private position(trackId: number, position: number): void {
    const t = this.tracks.get(trackId);
    if (!t || t.position === position) return;
    t.position = position;
    this.emit(() => this.cmd.setTrackPosition(0, t.engine, position));
  }

  removeTrack(trackId: number): void {
    const t = this.tracks.get(trackId);
    if (!t) return;
    // Its placements, regions, lanes and sends go with it in the engine;
    // its clips' notes are freed here.
    for (const [id, c] of this.clips)
      if (c.trackId === trackId) {
        this.emit(() => this.cmd.clipNotes(0, c.clip, 0));
        this.clipIds.give(c.clip);
        this.placementIds.give(c.placement);
        this.clips.delete(id);
      }
    for (const [id, r] of this.regions)
      if (r.trackId === trackId) {
        this.regionIds.give(r.num);
        this.regions.delete(id);
      }
    this.tracks.delete(trackId);
    for (const other of this.tracks.values()) other.sends.delete(trackId);
    this.emit(() => this.cmd.removeTrack(0, t.engine));
    this.trackIds.give(t.engine);
  }

  /** Every track whose index changed gets set_track_position. */
  setTrackOrder(trackIds: readonly number[]): void {
    trackIds.forEach((id, i) => this.position(id, i));
  }

  setInstrument(trackId: number, instrument: PatchSpec): void {
    const t = this.track(trackId);
    if (!t) return;
    if (instrument.patch < 0) this.missing('a patch this engine does not have', 'the instrument is removed');
    this.emit(() => this.cmd.selectPatch(0, instrument.patch, t.engine));
    t.slots.delete(0);
    if (instrument.patch < 0) return;
    t.slots.set(0, new Map());
    this.setParams(trackId, 0, instrument.params);
    this.emit(() => this.cmd.settle(0, t.engine, 0));
  }

  setParams(trackId: number, slot: number, params: readonly ParamValue[]): void {
    const t = this.track(trackId);
    if (!t || slot < 0 || slot > INSERT_LIMIT) return;
    const kept = t.slots.get(slot);
    for (const p of params) {
      if (!Number.isFinite(p.value)) continue;
      kept?.set(p.index, p.value);
      this.emit(() => this.cmd.setParam(0, p.index, p.value, t.engine, slot));
    }
  }

  setInserts(trackId: number, inserts: readonly PatchSpec[]): void {
    const t = this.track(trackId);
    if (!t) return;
    for (; t.inserts > 0; t.inserts--) {
      t.slots.delete(t.inserts);
      this.emit(() => this.cmd.removeInsert(0, t.engine, 1));
    }
    for (const ins of inserts) {
      if (ins.patch < 0 || t.inserts >= INSERT_LIMIT) {
        this.missing('an insert patch this engine does not have', 'the insert is left out');
        continue;
      }
      const position = ++t.inserts;
      t.slots.set(position, new Map());
      this.emit(() => this.cmd.addInsert(0, t.engine, position, ins.patch));
      this.setParams(trackId, position, ins.params);
      this.emit(() => this.cmd.settle(0, t.engine, position));
    }
  }

  setVoice(trackId: number, voice: VoiceSpec): void {
    const t = this.track(trackId);
    if (!t) return;
    const glide = clamp(voice.glide_seconds, 0, 10);
    this.emit(() => this.cmd.setVoiceMode(0, t.engine, MODE[voice.mode], PRIORITY[voice.priority], glide));
  }

  setFader(trackId: number, fader: FaderSpec): void {
    const t = this.track(trackId);
    if (!t) return;
    const gain = db(fader.gain_db);
    const pan = clamp(fader.pan, -1, 1);
    this.emit(() => this.cmd.faderGain(0, t.engine, gain));
    this.emit(() => this.cmd.setPan(0, t.engine, pan));
    this.emit(() => this.cmd.setMute(0, t.engine, fader.mute));
    this.emit(() => this.cmd.setSolo(0, t.engine, fader.solo));
  }

  setSends(trackId: number, sends: readonly SendSpec[]): void {
    const t = this.track(trackId);
    if (!t) return;
    const next = new Map<number, number>();
    for (const s of sends) {
      const bus = this.tracks.get(s.bus);
      if (!bus || bus.kind !== 'bus' || bus.engine === t.engine) continue;
      next.set(s.bus, db(s.level_db));
    }
    for (const [bus] of t.sends)
      if (!next.has(bus)) {
        const b = this.tracks.get(bus);
        if (b) this.emit(() => this.cmd.setSendDb(0, t.engine, b.engine, 0, true));
      }
    for (const [bus, level] of next) {
      if (t.sends.get(bus) === level) continue;
      const b = this.tracks.get(bus)!;
      this.emit(() => this.cmd.setSendDb(0, t.engine, b.engine, level, false));
    }
    t.sends = next;
  }

  /** Automation as the engine's own lanes, point by point; a lane whose
   *  points did not change is not sent again. */
  setAutomation(trackId: number, lanes: readonly LaneSpec[]): void {
    const t = this.track(trackId);
    if (!t) return;
    const next = new Map<string, LaneSpec>();
    for (const l of lanes) next.set(`${l.slot < 0 ? FADER_SLOT : l.slot}.${l.param}`, l);
    for (const key of t.lanes.keys())
      if (!next.has(key)) {
        const [slot, param] = key.split('.').map(Number) as [number, number];
        this.emit(() => this.cmd.automationLane(0, t.engine, slot, param, 0));
        t.lanes.delete(key);
      }
    for (const [key, lane] of next) {
      if (t.lanes.get(key) === lane.points) continue;
      t.lanes.set(key, lane.points);
      const slot = lane.slot < 0 ? FADER_SLOT : lane.slot;
      const points = lane.points.filter((p) => Number.isFinite(p.value))
        .map((p) => ({ beat: clamp(p.beat, 0, BEAT_MAX), value: p.value }))
        .sort((a, b) => a.beat - b.beat);
      this.emit(() => this.cmd.automationLane(0, t.engine, slot, lane.param, points.length));
      for (const p of points) this.emit(() => this.cmd.automationPoint(0, p.beat, t.engine, slot, lane.param, p.value));
    }
  }

  // ---- clips and regions ------------------------------------------------------------------

  putClip(trackId: number, clipId: string, clip: Clip): void {
    const t = this.track(trackId);
    if (!t || t.kind !== 'instrument') return;
    let c = this.clips.get(clipId);
    if (!c) {
      const num = this.clipIds.take(this.limits.clips);
      const placement = num < 0 ? -1 : this.placementIds.take(this.limits.tracks * this.limits.placementsPerTrack);
      if (num < 0 || placement < 0) {
        if (num >= 0) this.clipIds.give(num);
        this.full('clips');
        return;
      }
      c = { clip: num, placement, trackId, notes: null };
      this.clips.set(clipId, c);
    }
    c.trackId = trackId;
    const num = c.clip;
    if (c.notes !== clip.notes) {
      c.notes = clip.notes;
      const notes = sortedNotes(clip);
      this.emit(() => this.cmd.clipNotes(0, num, notes.length));
      for (const n of notes) {
        const start = clamp(n.start, 0, BEAT_MAX);
        const length = clamp(n.length, 1e-9, BEAT_MAX);
        const velocity = clamp(n.velocity, 0, 1);
        const key = clamp(Math.round(n.key), 0, 127);
        this.emit(() => this.cmd.clipNote(0, num, start, length, velocity, key));
      }
    }
    const start = clamp(clip.start_beat, 0, BEAT_MAX);
    const length = clamp(clip.length_beats, 1e-9, BEAT_MAX);
    const loop = clamp(clip.loop_beats ?? 0, 0, BEAT_MAX);
    const placement = c.placement;
    this.emit(() => this.cmd.placeClipBeats(0, placement, t.engine, num, start, length, loop));
  }

  removeClip(clipId: string): void {
    const c = this.clips.get(clipId);
    if (!c) return;
    this.clips.delete(clipId);
    this.emit(() => this.cmd.removePlacement(0, c.placement));
    this.emit(() => this.cmd.clipNotes(0, c.clip, 0));
    this.clipIds.give(c.clip);
    this.placementIds.give(c.placement);
  }

  /** Place an audio region: its asset's sample id at once (the engine
   *  plays it once loaded), the sample loaded in the background. */
  putRegion(trackId: number, regionId: string, region: RegionDoc): void {
    const t = this.track(trackId);
    if (!t || t.kind !== 'audio') return;
    if (!region.asset) {
      this.missing('audio regions naming a file', 'the page plays ampd assets only');
      return;
    }
    const sample = this.sampleOf(region.asset);
    if (sample < 0) return;
    let entry = this.regions.get(regionId);
    if (!entry) {
      const num = this.regionIds.take(this.limits.tracks * this.limits.regionsPerTrack);
      if (num < 0) {
        this.full('audio regions');
        return;
      }
      entry = { num, trackId };
    }
    this.regions.set(regionId, { num: entry.num, trackId });
    const start = clamp(region.start_beat, 0, BEAT_MAX);
    const offset = clamp(region.offset_seconds ?? 0, 0, BEAT_MAX);
    const length = clamp(region.length_seconds ?? 0, 0, BEAT_MAX);
    const gain = db(region.gain_db ?? 0);
    const num = entry.num;
    this.emit(() => this.cmd.placeRegionBeats(0, num, t.engine, sample, start, offset, length, gain));
  }

  /** Bind the instrument's sample slots: each asset's sample id at once
   *  (the engine reads it once loaded), loaded in the background. */
  setSamples(trackId: number, samples: readonly SampleBinding[]): void {
    const t = this.track(trackId);
    if (!t || t.kind !== 'instrument') return;
    for (const b of samples) {
      const sample = b.asset ? this.sampleOf(b.asset) : -1;
      this.emit(() => this.cmd.bindSample(0, t.engine, b.slot, sample));
    }
  }

  removeRegion(regionId: string): void {
    const entry = this.regions.get(regionId);
    if (!entry) return;
    this.regions.delete(regionId);
    this.regionIds.give(entry.num);
    this.emit(() => this.cmd.removeRegion(0, entry.num));
  }

  /** The sample id of an asset, loading it the first time; -1 when it
   *  cannot be. */
  private sampleOf(hash: string): number {
    const known = this.samples.get(hash);
    if (known !== undefined) return known;
    const target = this.target;
    if (!target.loadWav && !(target.loadSample && this.decode)) {
      this.missing('audio regions', 'this engine target cannot load samples');
      return -1;
    }
    if (this.samples.size >= this.limits.samples) {
      this.full('audio files');
      return -1;
    }
    const id = this.samples.size;
    this.samples.set(hash, id);
    const rate = target.sampleRate;
    const job = (async () => {
      try {
        const bytes = await this.fetchAsset(hash);
        let loaded: LoadedSample;
        if (target.loadWav) {
          loaded = await target.loadWav(bytes);
        } else {
          const audio = await this.decode!(bytes);
          const channels = Array.from({ length: Math.min(2, audio.numberOfChannels) }, (_, c) => audio.getChannelData(c));
          loaded = { handle: await target.loadSample!(channels), frames: audio.length, channels: channels.length };
        }
        if (loaded.handle < 0) {
          if (loaded.message?.includes('full')) this.outgrown = true;
          this.problems.set(hash, loaded.message ?? 'the sample pool is full');
          console.warn(`engine: asset ${hash} is not in the engine: ${loaded.message ?? 'the sample pool is full'}`);
          return;
        }
        this.problems.delete(hash);
        this.sizes.set(hash, { channels: loaded.channels, frames: loaded.frames });
        this.emit(() => this.cmd.loadSample(0, id, loaded.handle, loaded.frames, rate, loaded.channels));
      } catch (e) {
        this.problems.set(hash, String(e));
        console.warn(`engine: asset ${hash} did not load: ${String(e)}`);
      }
    })();
    this.loading.add(job);
    void job.finally(() => this.loading.delete(job));
    return id;
  }

  // ---- transport and live notes ------------------------------------------------------------

  /** A timed command's stamp: never before the last one (see timeOf). */
  private stamp(t: number): number {
    const v = Math.max(t, this.lastLive);
    this.lastLive = v;
    return v;
  }

  /** Start the transport. From a stop, every instrument and insert is
   *  first settled again at the document's params (set_param each, then
   *  settle: what project_feed does when it builds a node), so that
   *  playing from the top sounds as `amp render` renders, whatever ran
   *  while the engine stood (free-running LFOs, delay lines fed by live
   *  notes, params moved by automation at the playhead). It cuts what
   *  still sounds (a reverb tail of the last stop, a held live note). */
  play(): void {
    const at = this.stamp(0);
    if (!this.playingNow)
      for (const t of this.tracks.values())
        for (const [slot, params] of t.slots) {
          for (const [index, value] of params) this.emit(() => this.cmd.setParam(at, index, value, t.engine, slot));
          this.emit(() => this.cmd.settle(at, t.engine, slot));
        }
    this.playingNow = true;
    this.emit(() => this.cmd.play(at));
  }

  stop(): void {
    const at = this.stamp(0);
    this.playingNow = false;
    this.emit(() => this.cmd.stop(at));
  }

  seekBeat(beat: number): void {
    const b = clamp(beat, 0, BEAT_MAX);
    const at = this.stamp(0);
    this.playhead = b;
    this.emit(() => this.cmd.seekBeat(at, b));
  }

  /** The beat last sought to (the engine's playhead is in the state
   *  region: Telemetry). Kept for older callers. */
  beatNow(): number {
    return this.playhead;
  }

  /** Whether play() was the last transport call. */
  get playing(): boolean {
    return this.playingNow;
  }

  /** Nothing to do since ring format 3 (the engine plays clips); kept for
   *  older callers. */
  pump(): void {}

  /** A live note's engine time. The engine applies what is due in time
   *  order, so live notes keep the order they were played in: a note
   *  stamped earlier than the one before it (output timestamps wobble; an
   *  "as soon as possible" 0 after a timed note-on) gets that note's time,
   *  or a note-off could come before its note-on and leave a voice stuck. */
  private timeOf(atMs: number | undefined): number {
    return this.stamp(atMs === undefined ? 0 : this.target.frameAt(atMs));
  }

  noteOn(trackId: number, noteId: number, key: number, velocity: number, atMs?: number): void {
    const t = this.tracks.get(trackId);
    if (!t || t.kind !== 'instrument') return;
    const time = this.timeOf(atMs);
    const k = clamp(Math.round(key), 0, 127);
    const v = clamp(velocity, 0, 1);
    this.emit(() => this.cmd.noteOn(time, noteId, k, v, t.engine));
  }

  noteOff(trackId: number, noteId: number, atMs?: number): void {
    const t = this.tracks.get(trackId);
    if (!t) return;
    const time = this.timeOf(atMs);
    this.emit(() => this.cmd.noteOff(time, noteId, t.engine));
  }

  allNotesOff(): void {
    this.emit(() => this.cmd.allNotesOff(0));
  }
}
