// telemetry.ts — what the engine reports, for the views: playhead,
// transport, tempo, meters, voices, CPU, read from the state region once
// per animation frame.
//
// Views subscribe and get the same mutable snapshot object every frame
// (no allocation, no React state): canvases draw from it directly. A
// component that needs to re-render on a change (the transport button)
// compares the fields it shows itself.
//
// Meters: the engine's peak and RMS of its last complete 50 ms window,
// per side, after the fader, as linear values and in dBFS; `hold` is the
// highest peak of the last HOLD_MS (the line a meter draws above its bar);
// `clipped` is the held clip indicator: set when the engine counts a
// sample past full scale (its sticky counters in the state region, version
// 2: tracks[i].clips after the fader, master_clips; a meter remembers the
// count it acknowledged, so a clip between two frames still shows) or a
// peak goes over 0 dBFS (linear > 1: a float mix that a WAV export would
// clip), held until resetClip() (a click on it) or resetAllClips().
//
// Position: bar, beat and tick come from the engine (the state region's
// bar and bar_beat under its own signature map), not recomputed here.
//
// Faults (runtime/engine/engine.h, "Faults"): the engine's signal guard
// silences a slot whose process() call gives NaN, Inf or a sample beyond
// its ceiling. The state region says so per track: `faults`, a sticky
// count of such calls, and `faulted`, a bit per slot (0 the instrument or
// an audio track's regions, 1.. the inserts) for the last call. When a
// track's count moves, the snapshot opens a FaultReport naming the track
// and the slot (the lowest bit set then; the last slot seen when the bit
// has already cleared); it stays while the count keeps moving and closes
// QUIET_MS after it stops, or when the user dismisses it
// (dismissFaults). The event ring's ENGINE_EV_NODE_FAULT records carry the
// same facts but are drained by engine.wasm's control side in the worklet.
// The master's safety limit (a hard clip at +-4.0, +12 dBFS): the sticky
// master_limited count; `masterLimit.active` while it moves and QUIET_MS
// after, or until dismissed.

import { MAX_TRACKS } from '@amp/gen/layout';
import { barBeatAt, signatureMap, TICKS_PER_QUARTER, type BarPosition } from '../doc/grid';
import { DEFAULTS, type ProjectDoc } from '../doc/project';
import { beatToSeconds, tempoMap } from '../doc/timing';
import type { EngineSnapshot } from './layout';

export const HOLD_MS = 1500;
/** A fault report or the master limit closes this long after the engine's
 *  count stopped moving. */
export const QUIET_MS = 4000;
/** dBFS shown for silence. */
export const FLOOR_DB = -120;

export function toDb(linear: number): number {
  return linear > 0 ? Math.max(FLOOR_DB, 20 * Math.log10(linear)) : FLOOR_DB;
}

export class LevelMeter {
  /** Linear, L and R. */
  readonly peak: [number, number] = [0, 0];
  readonly rms: [number, number] = [0, 0];
  readonly peakDb: [number, number] = [FLOOR_DB, FLOOR_DB];
  readonly rmsDb: [number, number] = [FLOOR_DB, FLOOR_DB];
  /** Highest peak (linear) of the last HOLD_MS, per side. */
  readonly hold: [number, number] = [0, 0];
  private readonly holdAt: [number, number] = [0, 0];
  /** Held clip indicator (see the top of the file). */
  clipped = false;
  /** The highest peak (dBFS) since the last reset: what the clip showed. */
  maxDb = FLOOR_DB;
  /** The engine's clip counter as last read, and as last acknowledged. */
  clipCount = 0;
  private acknowledged = 0;

  /** `clips`: the engine's sticky count of samples past full scale. */
  update(peak: readonly [number, number], rms: readonly [number, number], nowMs: number, clips?: number): void {
    if (clips !== undefined) {
      if (clips < this.acknowledged) this.acknowledged = 0;   // a new engine counts from 0
      this.clipCount = clips;
      if (clips > this.acknowledged) this.clipped = true;
    }
    for (let c = 0; c < 2; c++) {
      const p = peak[c] ?? 0;
      const r = rms[c] ?? 0;
      this.peak[c] = p;
      this.rms[c] = r;
      this.peakDb[c] = toDb(p);
      this.rmsDb[c] = toDb(r);
      if (p >= this.hold[c]! || nowMs - this.holdAt[c]! > HOLD_MS) {
        this.hold[c] = p;
        this.holdAt[c] = nowMs;
      }
      if (p > 1) this.clipped = true;
      const db = toDb(p);
      if (db > this.maxDb) this.maxDb = db;
    }
  }

  resetClip(): void {
    this.clipped = false;
    this.acknowledged = this.clipCount;
    this.maxDb = Math.max(this.peakDb[0], this.peakDb[1]);
  }

  clear(): void {
    this.peak.fill(0);
    this.rms.fill(0);
    this.peakDb.fill(FLOOR_DB);
    this.rmsDb.fill(FLOOR_DB);
    this.hold.fill(0);
    this.clipped = false;
    this.maxDb = FLOOR_DB;
    this.clipCount = 0;
    this.acknowledged = 0;
  }
}

/** A track's slot the signal guard silenced (see the top of the file). */
export interface FaultReport {
  /** Document track id. */
  trackId: number;
  /** 0: the instrument (an audio track: its regions); 1..: insert slot - 1;
   *  -1: the slot's bit had cleared before the page read it. */
  slot: number;
  /** Calls silenced since the report opened. */
  calls: number;
  /** performance.now() of the first and the last reading that saw the
   *  count move. */
  firstMs: number;
  lastMs: number;
}

/** The master's safety limit as the page shows it. */
export interface MasterLimitReport {
  /** Shown: the count moved within QUIET_MS and was not dismissed. */
  active: boolean;
  /** Samples clipped since the report opened. */
  samples: number;
  firstMs: number;
  lastMs: number;
}

/** The snapshot every subscriber gets (the same object every frame). */
export class TelemetrySnapshot {
  /** Whether the engine has reported at all. */
  live = false;
  playing = false;
  /** Playhead in beats, seconds (through the tempo map) and bars. */
  beat = 0;
  seconds = 0;
  position: BarPosition = { bar: 1, beat: 1, tick: 0 };
  /** Tempo in force at the playhead. */
  tempo: number = DEFAULTS.tempo;
  master = new LevelMeter();
  /** By document track id. */
  readonly tracks = new Map<number, LevelMeter & { voices: number }>();
  /** Voices sounding on every track. */
  voices = 0;
  /** The worklet's share of real time, 0..1+, and the highest of the last
   *  HOLD_MS. */
  cpu = 0;
  cpuPeak = 0;
  /** Engine counters worth showing when they move. */
  commandsRefused = 0;
  faults = 0;
  /** Open fault reports, oldest first (see the top of the file). */
  readonly faultReports: FaultReport[] = [];
  readonly masterLimit: MasterLimitReport = { active: false, samples: 0, firstMs: 0, lastMs: 0 };
  /** Bumped whenever faultReports or masterLimit open, close or change
   *  slot, so a view re-renders on this number alone. */
  faultVersion = 0;
  /** The engine's frame after the last quantum (context frames). */
  frames = 0;
  /** performance.now() of this reading. */
  at = 0;
}

export interface TelemetrySource {
  snapshot(): EngineSnapshot | null;
}

export type TelemetryListener = (s: TelemetrySnapshot) => void;

export class Telemetry {
  readonly snapshot = new TelemetrySnapshot();
  private source: TelemetrySource;
  private readonly listeners = new Set<TelemetryListener>();
  private doc: ProjectDoc | null = null;
  /** Document track id -> engine track id (RingSink.engineTrack). */
  private engineTrack: (trackId: number) => number;
  private frame = 0;
  private cpuPeakAt = 0;
  private readonly spare: (LevelMeter & { voices: number })[] = [];
  /** Document track id -> the engine's faults count last read. */
  private readonly faultCounts = new Map<number, number>();
  private limitedCount = 0;

  constructor(source: TelemetrySource, engineTrack: (trackId: number) => number = () => -1) {
    this.source = source;
    this.engineTrack = engineTrack;
  }

  /** The document the playhead is read under (tempo map, signatures, the
   *  track list). */
  setDocument(doc: ProjectDoc): void {
    this.doc = doc;
  }

  /** Read another engine from now on (a new, larger one: client.ts
   *  resizeEngine). */
  setSource(source: TelemetrySource): void {
    this.source = source;
  }

  setTrackMap(engineTrack: (trackId: number) => number): void {
    this.engineTrack = engineTrack;
  }

  subscribe(fn: TelemetryListener): () => void {
    this.listeners.add(fn);
    if (this.listeners.size === 1) this.start();
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.stop();
    };
  }

  resetClip(trackId?: number): void {
    if (trackId === undefined) this.snapshot.master.resetClip();
    else this.snapshot.tracks.get(trackId)?.resetClip();
  }

  resetAllClips(): void {
    this.snapshot.master.resetClip();
    for (const m of this.snapshot.tracks.values()) m.resetClip();
  }

  /** The user acted on the reports: close them all (new faults open new
   *  ones). */
  dismissFaults(): void {
    const s = this.snapshot;
    if (!s.faultReports.length && !s.masterLimit.active) return;
    s.faultReports.length = 0;
    s.masterLimit.active = false;
    s.masterLimit.samples = 0;
    s.faultVersion++;
  }

  private start(): void {
    if (this.frame || typeof requestAnimationFrame === 'undefined') return;
    const tick = (): void => {
      this.frame = requestAnimationFrame(tick);
      this.update(performance.now());
      for (const fn of [...this.listeners]) fn(this.snapshot);
    };
    this.frame = requestAnimationFrame(tick);
  }

  private stop(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  /** Read the state region into the snapshot (called each frame; callable
   *  by hand in tests). */
  update(nowMs: number): TelemetrySnapshot {
    const s = this.snapshot;
    const e = this.source.snapshot();
    s.at = nowMs;
    if (!e) return s;
    s.live = true;
    s.playing = e.playing;
    s.beat = e.beat;
    s.tempo = e.tempo;
    s.frames = e.frames;
    s.commandsRefused = e.commandsRefused;
    s.faults = e.faults;
    const doc = this.doc;
    if (e.sigDen > 0) {
      const beats = Math.floor(e.barBeat + 1e-9);
      const tick = Math.max(0, Math.round((e.barBeat - beats) * (4 / e.sigDen) * TICKS_PER_QUARTER));
      s.position = { bar: e.bar + 1, beat: beats + 1, tick };
      s.seconds = doc ? beatToSeconds(tempoMap(doc), Math.max(0, e.beat)) : e.sampleRate ? e.playhead / e.sampleRate : 0;
    } else if (doc) {
      s.seconds = beatToSeconds(tempoMap(doc), Math.max(0, e.beat));
      s.position = barBeatAt(signatureMap(doc), Math.max(0, e.beat));
    } else {
      s.seconds = e.sampleRate ? e.playhead / e.sampleRate : 0;
      s.position = { bar: Math.floor(e.beat / 4) + 1, beat: Math.floor(e.beat % 4) + 1, tick: 0 };
    }
    s.master.update(e.peak, e.rms, nowMs, e.masterClips);

    // Voices: every track the engine has, whoever made it.
    let voices = 0;
    const byEngine = new Map<number, EngineSnapshot['tracks'][number]>();
    for (const t of e.tracks) {
      voices += t.voices;
      byEngine.set(t.id, t);
    }
    s.voices = voices;

    if (doc) {
      const seen = new Set<number>();
      for (const t of doc.tracks) {
        seen.add(t.id);
        let m = s.tracks.get(t.id);
        if (!m) {
          m = this.spare.pop() ?? Object.assign(new LevelMeter(), { voices: 0 });
          m.clear();
          s.tracks.set(t.id, m);
        }
        const id = this.engineTrack(t.id);
        const et = id >= 0 && id < MAX_TRACKS ? byEngine.get(id) : undefined;
        if (et) {
          m.update(et.peak, et.rms, nowMs, et.clips);
          m.voices = et.voices;
          this.readFaults(t.id, et, nowMs);
        } else {
          m.update([0, 0], [0, 0], nowMs);
          m.voices = 0;
        }
      }
      for (const [id, m] of s.tracks)
        if (!seen.has(id)) {
          s.tracks.delete(id);
          this.spare.push(m);
          this.faultCounts.delete(id);
        }
    }
    this.readLimit(e.masterLimited ?? 0, nowMs);
    this.closeQuiet(nowMs);

    s.cpu = e.cpuLoad;
    if (e.cpuLoad >= s.cpuPeak || nowMs - this.cpuPeakAt > HOLD_MS) {
      s.cpuPeak = e.cpuLoad;
      this.cpuPeakAt = nowMs;
    }
    return s;
  }

  /** A track's faults count and faulted bits into its report. */
  private readFaults(trackId: number, et: EngineSnapshot['tracks'][number], nowMs: number): void {
    const count = et.faults ?? 0;
    const last = this.faultCounts.get(trackId);
    this.faultCounts.set(trackId, count);
    // A track counts from 0 when it is added, and so does a new engine
    // (a count below the last one read).
    const base = last === undefined || count < last ? 0 : last;
    if (count <= base) return;
    const bits = et.faulted ?? 0;
    const slot = bits ? 31 - Math.clz32(bits & -bits) : -1;
    const s = this.snapshot;
    let report = s.faultReports.find((r) => r.trackId === trackId && (slot < 0 || r.slot === slot || r.slot < 0));
    if (!report) {
      report = { trackId, slot, calls: 0, firstMs: nowMs, lastMs: nowMs };
      s.faultReports.push(report);
      s.faultVersion++;
    } else if (report.slot < 0 && slot >= 0) {
      report.slot = slot;
      s.faultVersion++;
    }
    report.calls += count - base;
    report.lastMs = nowMs;
  }

  private readLimit(count: number, nowMs: number): void {
    const last = count < this.limitedCount ? 0 : this.limitedCount;   // a new engine counts from 0
    this.limitedCount = count;
    if (count <= last) return;
    const m = this.snapshot.masterLimit;
    if (!m.active) {
      m.active = true;
      m.samples = 0;
      m.firstMs = nowMs;
      this.snapshot.faultVersion++;
    }
    m.samples += count - last;
    m.lastMs = nowMs;
  }

  /** Close what has been quiet for QUIET_MS. */
  private closeQuiet(nowMs: number): void {
    const s = this.snapshot;
    const before = s.faultReports.length;
    for (let i = s.faultReports.length - 1; i >= 0; i--)
      if (nowMs - s.faultReports[i]!.lastMs > QUIET_MS) s.faultReports.splice(i, 1);
    if (s.faultReports.length !== before) s.faultVersion++;
    if (s.masterLimit.active && nowMs - s.masterLimit.lastMs > QUIET_MS) {
      s.masterLimit.active = false;
      s.faultVersion++;
    }
  }
}
