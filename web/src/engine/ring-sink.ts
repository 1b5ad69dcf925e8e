// ring-sink.ts — the EngineSink that writes today's command ring.
//
// Every detail of the ring's commands the DAW uses is in this file: engine
// track ids, sample positions, the float32 and dB ranges of the fields,
// linear send levels. The commands are the UI's ones of
// runtime/engine/commands.def (the "engine:" ones, beat-based, are refused
// by the ring's drain today). Where no command of today can say what the
// document says, the call is a no-op with one console warning per kind
// and a TODO naming what is missing; the engine-format branch adds
// beat-based ring commands, and this file is switched to them then.
//
// Engine tracks: the engine numbers tracks 0..MAX_TRACKS-1; this sink gives
// each document track the lowest free number (amp_init made track 0, which
// the first clear() removes). The engine runs buses in increasing id, so a
// bus may send only to a bus with a higher engine id; the document's rule
// (a bus sends only to a bus listed after it) is kept by giving a new bus
// the lowest free id above every bus listed before it.
//
// Positions: commands place things at timeline samples, which the engine
// turns into beats through its tempo map (engine_commands.c beats_at); the
// sink keeps the same map (doc/timing.ts) and gives the first sample at or
// after each beat.
//
// A full ring: commands wait in a backlog, in order, and go out on the
// next flush (a timer), so a large project's load is never cut short.
//
// Note clips: load_clip needs a clip block in the engine's pool, which the
// page cannot make (no export for it), so until the engine-format branch's
// beat-based clip commands arrive, this sink plays the clips itself: while
// the transport runs, a timer (every intervalMs) sends the note-ons and
// note-offs of the next lookahead seconds as live notes stamped with their
// engine frames, through the same tempo map and loop as the engine's
// transport, which it starts at a known frame. Notes are cut at their
// clip's end; a looped clip repeats its notes of [0, loop_beats). Stop and
// seek release what was sent ahead. It is an approximation of the
// engine's own clip playback (a tempo or loop change applies from the
// next lookahead on); the export renders the project with the engine's.
// TODO(engine-format merge): place clips with the beat-based commands and
// drop the scheduler.

import { MAX_TRACKS } from '@amp/gen/layout';
import { DEFAULTS, type Clip, type Loop, type Metronome, type RegionDoc, type TempoChange, type TimeSignatureChange,
         type TrackKind as DocTrackKind } from '../doc/project';
import { barsBetween, makeSignatureMap, type SignatureSegment } from '../doc/grid';
import { makeTempoMap, sampleForBeat, Transport, type TempoMap } from '../doc/timing';
import { NotePriority, TrackKind, VoiceMode, type CommandSender } from './commands';
import type { EngineSink, FaderSpec, LaneSpec, ParamValue, PatchSpec, SendSpec, VoiceSpec } from './sink';

/** What the sink needs of the engine (EngineClient has it all). */
export interface RingTarget {
  readonly commands: CommandSender;
  readonly sampleRate: number;
  /** Engine time for a performance.now() time (EngineClient.frameAt): the
   *  earliest frame a command sent at that time can be stamped with. */
  frameAt(ms: number): number;
  /** Put decoded channels (at the engine's rate) into the engine's sample
   *  pool; resolves to a handle for load_sample, -1 when full
   *  (EngineClient.loadSample). Without it, audio regions are not sent. */
  loadSample?(channels: Float32Array[]): Promise<number>;
  /** Decodes assets to the engine's rate (EngineClient.context). */
  readonly context?: BaseAudioContext;
}

/** Decoded audio, as an AudioBuffer has it. */
export interface DecodedAudio {
  readonly numberOfChannels: number;
  readonly length: number;
  getChannelData(channel: number): Float32Array;
}

export interface RingSinkOptions {
  /** Seconds of clip notes sent ahead while playing (default 0.2). */
  readonly lookaheadSeconds?: number;
  /** The scheduler's period (default 25 ms); 0: no timer, call pump(). */
  readonly intervalMs?: number;
  /** The clock (default performance.now()). */
  readonly now?: () => number;
  /** The bytes of an ampd asset (default: GET /api/assets/HASH). */
  readonly fetchAsset?: (hash: string) => Promise<ArrayBuffer>;
  /** Decode to the engine's rate (default: target.context.decodeAudioData). */
  readonly decode?: (bytes: ArrayBuffer) => Promise<DecodedAudio>;
}

/** Frames between two automation values the scheduler sends (21 ms at
 *  48 kHz; the engine's own lanes step every 16 samples). */
const AUTOMATION_STEP = 1024;
/** Seconds of automation sent ahead. */
const AUTOMATION_AHEAD = 0.06;

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

/** The engine's sample ids (wasm_main.c max_samples) and region ids
 *  (tracks x regions per track). */
const SAMPLE_IDS = 64;
const REGION_IDS = 64 * 64;

/** Note ids of clip notes: above the ids Sync gives live notes, below the
 *  engine's live-note limit (ENGINE_LIVE_NOTE_MAX, 0x3fffffff). */
const CLIP_NOTE_FIRST = 0x20000000;
const CLIP_NOTE_LAST = 0x3fffffff;

interface SentClipNote {
  readonly engine: number;
  readonly id: number;
  readonly on: number;
  readonly off: number;
}

const GAIN_MIN = -144;   // set_gain's floor: silence
const GAIN_MAX = 24;
const BPM_MIN = 20;      // the tempo commands' float32 field
const BPM_MAX = 999;
const SEND_MAX = 4;      // set_send's linear level
const INSERT_LIMIT = 16;

const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);

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
  sends: Map<number, number>;   // bus doc id -> linear level
}

export class RingSink implements EngineSink {
  private readonly target: RingTarget;
  private readonly tracks = new Map<number, EngineTrack>();
  /** Engine ids taken: amp_init's track 0 until the first clear(). */
  private readonly taken = new Set<number>([0]);
  private order: readonly number[] = [];
  private map: TempoMap = makeTempoMap(120, []);
  private readonly backlog: (() => boolean)[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly warned = new Set<string>();
  private lastLive = 0;
  private rebuild = false;
  /** Commands that could not be sent (ring full) and are still waiting. */
  get waiting(): number {
    return this.backlog.length;
  }

  // The clip scheduler (see the top of the file).
  private readonly clips = new Map<string, { trackId: number; clip: Clip }>();
  private loopValue: Loop | null = null;
  private playing = false;
  /** The playhead while stopped. */
  private playhead = 0;
  /** While playing: at engine frame anchorFrame the playhead is at anchorBeat. */
  private anchorFrame = 0;
  private anchorBeat = 0;
  private scheduledTo = 0;
  private sounding: SentClipNote[] = [];
  private nextClipNote = CLIP_NOTE_FIRST;
  private timer: ReturnType<typeof setInterval> | null = null;
  private signatures: readonly SignatureSegment[] = makeSignatureMap(4, 4, []);
  private metronome: Metronome | null = null;
  /** Clicks sent ahead: silenced when the transport stops before them. */
  private clicks: { at: number; env: GainNode }[] = [];
  /** Automation lanes by document track, with the value last sent. */
  private readonly lanes = new Map<number, { lane: LaneSpec; last: number }[]>();
  private lanesTo = 0;
  private passCache: { key: string; map: TempoMap; loopValue: Loop | null; value: ReturnType<RingSink['passes']> } | null = null;
  private readonly lookahead: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  // Audio regions: a sample id per asset (loaded once, in the background:
  // place_region may name a sample loaded later), a region id per ui.id.
  private readonly samples = new Map<string, number>();
  private readonly regions = new Map<string, { num: number; trackId: number }>();
  private nextRegion = 0;
  private readonly fetchAsset: (hash: string) => Promise<ArrayBuffer>;
  private readonly decode: ((bytes: ArrayBuffer) => Promise<DecodedAudio>) | null;
  /** Loads of assets still running (tests wait for them). */
  readonly loading = new Set<Promise<void>>();

  constructor(target: RingTarget, opts: RingSinkOptions = {}) {
    this.target = target;
    this.lookahead = opts.lookaheadSeconds ?? 0.2;
    this.intervalMs = opts.intervalMs ?? 25;
    this.now = opts.now ?? (() => performance.now());
    this.fetchAsset = opts.fetchAsset ?? (async (hash) => {
      const r = await fetch(`/api/assets/${hash}`, { credentials: 'same-origin' });
      if (!r.ok) throw new Error(`asset ${hash}: HTTP ${r.status}`);
      return r.arrayBuffer();
    });
    const context = target.context;
    this.decode = opts.decode ?? (context ? (bytes) => context.decodeAudioData(bytes) : null);
  }

  /** The engine track id of a document track (-1: none). */
  engineTrack(trackId: number): number {
    return this.tracks.get(trackId)?.engine ?? -1;
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
    console.warn(`engine: ${what} is not sent to the engine yet (${todo})`);
  }

  private position(beat: number): number {
    return sampleForBeat(this.map, Math.max(0, beat), this.target.sampleRate);
  }

  private track(trackId: number): EngineTrack | undefined {
    const t = this.tracks.get(trackId);
    if (!t) this.missing(`track ${trackId}`, 'the sync layer named a track it did not add');
    return t;
  }

  // ---- the project -------------------------------------------------------------------

  clear(): void {
    this.rebuild = false;
    this.halt();
    this.clips.clear();
    this.regions.clear();
    this.lanes.clear();
    this.playhead = 0;
    for (const id of [...this.taken].sort((a, b) => b - a)) this.emit(() => this.cmd.removeTrack(0, id));
    this.taken.clear();
    this.tracks.clear();
    this.order = [];
    const t = this.stamp(0);
    this.emit(() => this.cmd.stop(t));
    this.emit(() => this.cmd.seek(t, 0));
  }

  setTempoMap(bpm: number, changes: readonly TempoChange[]): void {
    this.reanchor();
    this.map = makeTempoMap(bpm, changes);
    if (bpm < BPM_MIN || bpm > BPM_MAX || changes.some((c) => c.bpm < BPM_MIN || c.bpm > BPM_MAX))
      this.missing('a tempo below 20 or above 999 bpm',
                   'TODO: tempo_bpm (f64, 1..1000) through the ring; today tempo is float32 20..999');
    const base = clamp(bpm, BPM_MIN, BPM_MAX);
    this.emit(() => this.cmd.tempo(0, base));
    // Each change at the first sample whose beat, under the map so far,
    // reaches the change's beat (the engine keeps that beat).
    const sorted = this.map.changes;
    sorted.forEach((c, k) => {
      const partial = makeTempoMap(bpm, sorted.slice(0, k));
      const at = sampleForBeat(partial, c.beat, this.target.sampleRate);
      const v = clamp(c.bpm, BPM_MIN, BPM_MAX);
      this.emit(() => this.cmd.tempoChange(0, at, v));
    });
    // Clips and the loop are kept in beats by the engine; nothing to move.
  }

  setTimeSignature(num: number, den: number, changes: readonly TimeSignatureChange[]): void {
    this.signatures = makeSignatureMap(num, den, changes);
    this.emit(() => this.cmd.timeSignature(0, num, den));
    if (changes.length)
      this.missing('time-signature changes', 'TODO: a time_signature_change command (engine-format branch)');
  }

  setLoop(loop: Loop | null): void {
    this.reanchor();
    this.loopValue = loop;
    if (!loop) {
      this.emit(() => this.cmd.loop(0, 0, 0, false));
      return;
    }
    const start = this.position(loop.start_beat);
    const end = this.position(loop.end_beat);
    const enabled = loop.enabled && end > start;
    this.emit(() => this.cmd.loop(0, start, Math.max(start, end), enabled));
  }

  /** The metronome: no ring command has it yet (TODO: the engine-format
   *  branch's metronome command), so while playing the scheduler plays its
   *  clicks itself, as short tones on the engine's AudioContext at the
   *  frames of the beats (engine time is the context's frame count), an
   *  accent on each bar's first beat. */
  setMetronome(metronome: Metronome | null): void {
    this.metronome = metronome?.enabled ? metronome : null;
    if (this.metronome && !this.target.context)
      this.missing('the metronome', 'TODO: a metronome command (engine-format branch)');
  }

  setMasterGain(db: number): void {
    const v = clamp(db, GAIN_MIN, GAIN_MAX);
    this.emit(() => this.cmd.setMasterGain(0, v));
  }

  // ---- tracks -------------------------------------------------------------------------

  private freeId(from: number): number {
    for (let id = from; id < MAX_TRACKS; id++) if (!this.taken.has(id)) return id;
    for (let id = 0; id < from; id++) if (!this.taken.has(id)) return id;
    return -1;
  }

  addTrack(trackId: number, position: number, kind: DocTrackKind): void {
    if (this.tracks.has(trackId)) this.removeTrack(trackId);
    let from = 0;
    if (kind === 'bus') {
      // Above every bus listed before it (see the top of the file).
      for (const id of this.order.slice(0, position)) {
        const t = this.tracks.get(id);
        if (t?.kind === 'bus') from = Math.max(from, t.engine + 1);
      }
    }
    const engine = this.freeId(from);
    if (engine < 0) {
      this.missing(`more than ${MAX_TRACKS} tracks`, 'the engine has no more track ids');
      return;
    }
    this.taken.add(engine);
    this.tracks.set(trackId, { engine, kind, inserts: 0, sends: new Map() });
    const order = this.order.filter((id) => id !== trackId);
    order.splice(position, 0, trackId);
    this.order = order;
    this.emit(() => this.cmd.addTrack(0, engine, KIND[kind]));
  }

  removeTrack(trackId: number): void {
    const t = this.tracks.get(trackId);
    if (!t) return;
    this.tracks.delete(trackId);
    this.taken.delete(t.engine);
    for (const [id, c] of this.clips) if (c.trackId === trackId) this.clips.delete(id);
    for (const [id, r] of this.regions) if (r.trackId === trackId) this.regions.delete(id);
    this.lanes.delete(trackId);
    this.sounding = this.sounding.filter((n) => n.engine !== t.engine);
    this.order = this.order.filter((id) => id !== trackId);
    for (const other of this.tracks.values()) other.sends.delete(trackId);
    this.emit(() => this.cmd.removeTrack(0, t.engine));
  }

  setTrackOrder(trackIds: readonly number[]): void {
    this.order = trackIds.slice();
    // The engine runs buses by id: a bus sending to one with a lower id
    // needs the tracks numbered again, which only a rebuild can do (no
    // command renumbers a track). TODO: a move_track command.
    for (const t of this.tracks.values())
      if (t.kind === 'bus')
        for (const bus of t.sends.keys())
          if ((this.tracks.get(bus)?.engine ?? Infinity) < t.engine) this.rebuild = true;
  }

  /** Whether the engine's tracks must be built again (sink.ts). */
  needsRebuild(): boolean {
    return this.rebuild;
  }

  setInstrument(trackId: number, instrument: PatchSpec): void {
    const t = this.track(trackId);
    if (!t) return;
    if (instrument.patch < 0) this.missing('a patch this engine does not have', 'the instrument is removed');
    this.emit(() => this.cmd.selectPatch(0, instrument.patch, t.engine));
    this.setParams(trackId, 0, instrument.params);
  }

  setParams(trackId: number, slot: number, params: readonly ParamValue[]): void {
    const t = this.track(trackId);
    if (!t || slot < 0 || slot > INSERT_LIMIT) return;
    for (const p of params) {
      if (!Number.isFinite(p.value)) continue;
      this.emit(() => this.cmd.setParam(0, p.index, p.value, t.engine, slot));
    }
  }

  setInserts(trackId: number, inserts: readonly PatchSpec[]): void {
    const t = this.track(trackId);
    if (!t) return;
    for (; t.inserts > 0; t.inserts--) this.emit(() => this.cmd.removeInsert(0, t.engine, 1));
    for (const ins of inserts) {
      if (ins.patch < 0 || t.inserts >= INSERT_LIMIT) {
        this.missing('an insert patch this engine does not have', 'the insert is left out');
        continue;
      }
      const position = ++t.inserts;
      this.emit(() => this.cmd.addInsert(0, t.engine, position, ins.patch));
      this.setParams(trackId, position, ins.params);
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
    const gain = clamp(fader.gain_db, GAIN_MIN, GAIN_MAX);
    const pan = clamp(fader.pan, -1, 1);
    this.emit(() => this.cmd.setGain(0, t.engine, gain));
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
      if (s.level_db > 20 * Math.log10(SEND_MAX))
        this.missing('a send above +12 dB', 'set_send takes a linear level up to 4');
      next.set(s.bus, s.level_db <= -150 ? 0 : clamp(10 ** (s.level_db / 20), 0, SEND_MAX));
    }
    for (const [bus] of t.sends)
      if (!next.has(bus)) {
        const b = this.tracks.get(bus);
        if (b) this.emit(() => this.cmd.setSend(0, t.engine, b.engine, 0));
      }
    for (const [bus, level] of next) {
      if (t.sends.get(bus) === level) continue;
      const b = this.tracks.get(bus)!;
      this.emit(() => this.cmd.setSend(0, t.engine, b.engine, level));
    }
    t.sends = next;
    this.setTrackOrder(this.order);
  }

  /** Automation: the page cannot put a lane block in the engine's pool
   *  (TODO: an amp_lane_new export, or the engine-format branch's
   *  beat-based lane command), so while playing the scheduler sends each
   *  lane's value as set_param (set_gain, set_pan for the fader) at its
   *  frame every AUTOMATION_STEP frames, when it changed. */
  setAutomation(trackId: number, lanes: readonly LaneSpec[]): void {
    if (lanes.length) this.lanes.set(trackId, lanes.map((lane) => ({ lane, last: NaN })));
    else this.lanes.delete(trackId);
  }

  // ---- clips and regions ------------------------------------------------------------------

  putClip(trackId: number, clipId: string, clip: Clip): void {
    this.clips.set(clipId, { trackId, clip });
  }

  removeClip(clipId: string): void {
    this.clips.delete(clipId);
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
      if (this.nextRegion >= REGION_IDS) {
        this.missing(`more than ${REGION_IDS} audio regions`, 'the engine has no more region ids');
        return;
      }
      entry = { num: this.nextRegion++, trackId };
    }
    this.regions.set(regionId, { num: entry.num, trackId });
    const rate = this.target.sampleRate;
    const start = this.position(region.start_beat);
    const first = Math.max(0, Math.round((region.offset_seconds ?? 0) * rate));
    const frames = region.length_seconds !== undefined ? Math.max(1, Math.round(region.length_seconds * rate)) : 0;
    const db = clamp(region.gain_db ?? 0, GAIN_MIN, GAIN_MAX);
    const num = entry.num;
    this.emit(() => this.cmd.placeRegion(0, start, t.engine, num, sample, first, frames, db));
  }

  removeRegion(regionId: string): void {
    const entry = this.regions.get(regionId);
    if (!entry) return;
    this.regions.delete(regionId);
    this.emit(() => this.cmd.removeRegion(0, entry.num));
  }

  /** The sample id of an asset, loading it the first time; -1 when it
   *  cannot be. */
  private sampleOf(hash: string): number {
    const known = this.samples.get(hash);
    if (known !== undefined) return known;
    const loadSample = this.target.loadSample?.bind(this.target);
    const decode = this.decode;
    if (!loadSample || !decode) {
      this.missing('audio regions', 'this engine target cannot load samples');
      return -1;
    }
    if (this.samples.size >= SAMPLE_IDS) {
      this.missing(`more than ${SAMPLE_IDS} audio files`, 'the engine has no more sample ids');
      return -1;
    }
    const id = this.samples.size;
    this.samples.set(hash, id);
    const job = (async () => {
      try {
        const audio = await decode(await this.fetchAsset(hash));
        const channels = Array.from({ length: Math.min(2, audio.numberOfChannels) }, (_, c) => audio.getChannelData(c));
        const handle = await loadSample(channels);
        if (handle < 0) {
          this.missing('samples past the engine\'s sample pool', 'the region stays silent');
          return;
        }
        const frames = audio.length;
        const rate = this.target.sampleRate;
        this.emit(() => this.cmd.loadSample(0, id, handle, frames, rate, channels.length));
      } catch (e) {
        console.warn(`engine: asset ${hash} did not load: ${String(e)}`);
      }
    })();
    this.loading.add(job);
    void job.finally(() => this.loading.delete(job));
    return id;
  }

  // ---- transport and live notes ------------------------------------------------------------

  /** The earliest frame a command sent now can be stamped with. */
  private frameNow(): number {
    return this.target.frameAt(this.now());
  }

  /** A timed command's stamp: never before the last one (see timeOf). */
  private stamp(t: number): number {
    const v = Math.max(t, this.lastLive);
    this.lastLive = v;
    return v;
  }

  play(): void {
    if (this.playing) return;
    const at = this.stamp(this.frameNow());
    this.emit(() => this.cmd.play(at));
    this.playing = true;
    this.anchorFrame = at;
    this.anchorBeat = this.playhead;
    for (const lanes of this.lanes.values()) for (const l of lanes) l.last = NaN;
    this.lanesTo = at;
    this.scheduledTo = at;
    if (this.intervalMs > 0 && this.timer === null) this.timer = setInterval(() => this.pump(), this.intervalMs);
    this.pump();
  }

  stop(): void {
    if (!this.playing) {
      const t = this.stamp(0);
      this.emit(() => this.cmd.stop(t));
      return;
    }
    const at = this.stamp(this.frameNow());
    this.release(at);
    this.emit(() => this.cmd.stop(at));
    this.playhead = this.beatAtFrame(at);
    this.halt();
  }

  seekBeat(beat: number): void {
    const b = Math.max(0, beat);
    const at = this.stamp(this.playing ? this.frameNow() : 0);
    const position = this.position(b);
    if (this.playing) {
      this.release(at);
      this.anchorFrame = at;
      this.anchorBeat = b;
      this.scheduledTo = at;
      this.lanesTo = at;
    } else {
      this.playhead = b;
    }
    this.emit(() => this.cmd.seek(at, position));
  }

  /** The beat the transport is at, by this sink's reckoning. */
  beatNow(): number {
    return this.playing ? this.beatAtFrame(this.frameNow()) : this.playhead;
  }

  private halt(): void {
    this.playing = false;
    this.sounding = [];
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Note-offs at `at` (or at their note-on, if later) for every clip note
   *  sent and not yet released. */
  private release(at: number): void {
    const seconds = at / this.target.sampleRate;
    for (const c of this.clicks) if (c.at >= seconds) c.env.disconnect();
    this.clicks = [];
    for (const n of this.sounding) {
      const t = Math.max(at, n.on);
      this.emit(() => this.cmd.noteOff(t, n.id, n.engine));
    }
    this.sounding = [];
  }

  /** Move the anchor to now, before the map or the loop changes. */
  private reanchor(): void {
    if (!this.playing) return;
    const at = Math.max(this.scheduledTo, this.frameNow());
    this.anchorBeat = this.beatAtFrame(at);
    this.anchorFrame = at;
    this.scheduledTo = at;
    this.lanesTo = at;
  }

  /** The passes of the transport from the anchor: the first from the
   *  anchor's beat, then, with a loop the anchor is before the end of,
   *  one per turn of the loop from its start. Each is the engine's
   *  transport from its first frame (doc/timing.ts Transport); a pass ends
   *  at the first frame at or past the loop's end. */
  private passes(): { first: Transport; firstEnd: number; loop: Transport | null; loopFrames: number; end: number } {
    const rate = this.target.sampleRate;
    const key = `${this.anchorBeat}`;
    if (this.passCache && this.passCache.key === key && this.passCache.map === this.map && this.passCache.loopValue === this.loopValue)
      return this.passCache.value;
    const first = new Transport(this.map, rate, this.anchorBeat);
    const l = this.loopValue;
    let value;
    if (l && l.enabled && l.end_beat > l.start_beat && this.anchorBeat < l.end_beat) {
      const loop = new Transport(this.map, rate, l.start_beat);
      value = { first, firstEnd: first.sampleFor(l.end_beat), loop, loopFrames: Math.max(1, loop.sampleFor(l.end_beat)),
                end: l.end_beat };
    } else {
      value = { first, firstEnd: Infinity, loop: null, loopFrames: 0, end: Infinity };
    }
    this.passCache = { key, map: this.map, loopValue: this.loopValue, value };
    return value;
  }

  private beatAtFrame(frame: number): number {
    const p = this.passes();
    const d = frame - this.anchorFrame;
    if (d < p.firstEnd || !p.loop) return p.first.beatAt(Math.max(0, d));
    return p.loop.beatAt((d - p.firstEnd) % p.loopFrames);
  }

  /** Send the clip notes of the next lookahead (the timer calls it). */
  pump(): void {
    if (!this.playing) return;
    const rate = this.target.sampleRate;
    const horizon = this.frameNow() + Math.round(this.lookahead * rate);
    const from = this.scheduledTo;
    if (horizon <= from) return;
    this.forPasses(from, horizon, (tr, origin, f0, f1, limit) => this.schedulePass(tr, origin, f0, f1, limit));
    // Automation a shorter way ahead: its values wait in the worklet's
    // queue of timed commands, which is short (wasm_main.c PENDING_MAX).
    if (this.lanes.size) {
      const laneHorizon = this.frameNow() + Math.round(AUTOMATION_AHEAD * rate);
      if (laneHorizon > this.lanesTo) {
        this.forPasses(Math.max(this.lanesTo, this.anchorFrame), laneHorizon,
                       (tr, origin, f0, f1) => this.scheduleLanes(tr, origin, f0, f1));
        this.lanesTo = laneHorizon;
      }
    }
    // Note-offs that fall in the window.
    const keep: SentClipNote[] = [];
    for (const n of this.sounding) {
      if (n.off < horizon) this.emit(() => this.cmd.noteOff(n.off, n.id, n.engine));
      else keep.push(n);
    }
    this.sounding = keep;
    this.scheduledTo = horizon;
  }

  /** Call `fn` for each pass of the transport over frames [from, to):
   *  the pass, its first frame, the part of [from, to) in it, and the beat
   *  it ends at (the loop's end, or Infinity). */
  private forPasses(from: number, to: number,
                    fn: (tr: Transport, origin: number, f0: number, f1: number, limit: number) => void): void {
    const p = this.passes();
    let d = from - this.anchorFrame;
    while (this.anchorFrame + d < to) {
      if (d < p.firstEnd || !p.loop) {
        const end = Math.min(p.firstEnd, to - this.anchorFrame);
        fn(p.first, this.anchorFrame, this.anchorFrame + d, this.anchorFrame + end, p.end);
        d = end;
      } else {
        const k = Math.floor((d - p.firstEnd) / p.loopFrames);
        const start = p.firstEnd + k * p.loopFrames;
        const end = Math.min(start + p.loopFrames, to - this.anchorFrame);
        fn(p.loop, this.anchorFrame + start, this.anchorFrame + d, this.anchorFrame + end, p.end);
        d = end;
      }
    }
  }

  /** Note-ons (and clicks) of a pass of the transport `tr` that starts at
   *  frame `origin`, for the frames [f0, f1); beats at or past `limit`
   *  (the loop's end) belong to the next pass. */
  private schedulePass(tr: Transport, origin: number, f0: number, f1: number, limit: number): void {
    if (f1 <= f0) return;
    const b0 = tr.beatAt(f0 - origin);
    const b1 = Math.min(limit, tr.beatAt(f1 - origin) + 1e-9);
    const inWindow = (frame: number): boolean => frame >= f0 && frame < f1;
    const frameOf = (beat: number): number => origin + tr.sampleFor(beat);
    if (this.metronome && this.target.context) {
      for (const bar of barsBetween(this.signatures, Math.max(0, b0 - 256), b1)) {
        const unit = 4 / bar.den;
        for (let k = 0; k < bar.num; k++) {
          const beat = bar.beat + k * unit;
          if (beat < tr.startBeat || beat >= limit) continue;
          const frame = frameOf(beat);
          if (inWindow(frame)) this.click(frame, k === 0);
        }
      }
    }
    for (const { trackId, clip } of this.clips.values()) {
      const t = this.tracks.get(trackId);
      if (!t || t.kind !== 'instrument') continue;
      const start = clip.start_beat;
      const end = start + clip.length_beats;
      if (end <= b0 - 1e-6 || start > b1) continue;
      const looped = clip.loop_beats !== undefined && clip.loop_beats > 0;
      const period = looped ? clip.loop_beats! : Infinity;
      const first = looped ? Math.max(0, Math.floor((b0 - start) / period) - 1) : 0;
      for (let k = first; ; k++) {
        const base = looped ? start + k * period : start;
        if (base > Math.min(end, b1)) break;
        for (const n of clip.notes) {
          if (n.start_beat >= period) continue;
          const on = base + n.start_beat;
          if (on < tr.startBeat || on >= end || on >= limit || on < b0 - 1e-6 || on > b1) continue;
          const onFrame = frameOf(on);
          if (!inWindow(onFrame)) continue;
          const off = Math.min(on + n.length_beats, end);
          // The note-off on the transport's own reckoning; a note past
          // the loop's end is cut at the wrap, as the engine releases
          // clip notes there.
          const offFrame = Math.max(onFrame + 1, off >= limit ? origin + tr.sampleFor(limit) : frameOf(off));
          const id = this.nextClipNote;
          this.nextClipNote = id >= CLIP_NOTE_LAST ? CLIP_NOTE_FIRST : id + 1;
          const key = clamp(n.key, 0, 127);
          const velocity = clamp(n.velocity ?? DEFAULTS.velocity, 0, 1);
          this.emit(() => this.cmd.noteOn(onFrame, id, key, velocity, t.engine));
          this.sounding.push({ engine: t.engine, id, on: onFrame, off: offFrame });
        }
        if (!looped) break;
      }
    }
  }

  /** The lanes' values on the control grid of frames [f0, f1). */
  private scheduleLanes(tr: Transport, origin: number, f0: number, f1: number): void {
    const first = origin + Math.ceil((f0 - origin) / AUTOMATION_STEP) * AUTOMATION_STEP;
    for (const [trackId, lanes] of this.lanes) {
      const t = this.tracks.get(trackId);
      if (!t) continue;
      for (const entry of lanes) {
        const { lane } = entry;
        for (let f = first; f < f1; f += AUTOMATION_STEP) {
          const value = laneValue(lane.points, tr.beatAt(f - origin));
          if (value === entry.last || !Number.isFinite(value)) continue;
          entry.last = value;
          if (lane.slot >= 0) {
            this.emit(() => this.cmd.setParam(f, lane.param, value, t.engine, lane.slot));
          } else if (lane.param === 0) {
            const db = clamp(value, GAIN_MIN, GAIN_MAX);
            this.emit(() => this.cmd.setGain(f, t.engine, db));
          } else {
            const pan = clamp(value, -1, 1);
            this.emit(() => this.cmd.setPan(f, t.engine, pan));
          }
        }
      }
    }
  }

  /** One click of the metronome at engine (context) frame `frame`. */
  private click(frame: number, accent: boolean): void {
    const context = this.target.context;
    if (!context) return;
    const at = frame / this.target.sampleRate;
    const gain = 10 ** ((this.metronome?.gain_db ?? 0) / 20) * (accent ? 0.5 : 0.3);
    const osc = context.createOscillator();
    const env = context.createGain();
    osc.frequency.value = accent ? 1760 : 1320;
    env.gain.setValueAtTime(gain, at);
    env.gain.exponentialRampToValueAtTime(gain * 0.001, at + 0.04);
    osc.connect(env).connect(context.destination);
    osc.start(at);
    osc.stop(at + 0.05);
    this.clicks = this.clicks.filter((c) => c.at > context.currentTime);
    this.clicks.push({ at, env });
  }


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
