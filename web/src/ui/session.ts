// session.ts — the audio side of the DAW as the views see it (AudioPort):
// the engine started on the first gesture, the sync layer attached to the
// document store (engine/sync.ts, the one writer of the command ring),
// live notes from the keyboards, the transport, and the state region read
// once per animation frame for the playhead, meters and CPU.
//
// Before the engine runs (browsers start audio only after a click or a
// key), the playhead is a local cursor and notes are dropped; everything
// else works on the document alone.

import type { DocStore } from '../doc/history';
import { EngineClient, resizeEngine, type EngineFiles } from '../engine/client';
import type { ProjectDoc } from '../doc/project';
import type { EngineSnapshot } from '../engine/layout';
import { RingSink } from '../engine/ring-sink';
import type { PatchLibrary } from './library';
import { Sync } from '../engine/sync';
import { manifestRegistry } from '../engine/sink';
import { Telemetry } from '../engine/telemetry';
import type { AudioPort, MeterReading } from './context';
import { tempoAt } from './song';

export type SessionState = 'off' | 'starting' | 'running' | 'failed';

/** Who hears live notes besides the engine (the recorder, the piano roll's
 *  keys): key, velocity (0 = release), beat where it sounds. */
export type NoteListener = (trackId: number, key: number, velocity: number, beat: number) => void;

interface LiveNote { trackId: number; noteId: number }

export class AudioSession implements AudioPort {
  private readonly files: EngineFiles;
  private readonly store: DocStore;
  state: SessionState = 'off';
  error = '';
  context: AudioContext | null = null;
  client: EngineClient | null = null;
  /** How long the last resize for a bigger song took (ms), for tests. */
  lastResizeMs = 0;
  private resizing = false;
  sync: Sync | null = null;
  sink: RingSink | null = null;
  private starting: Promise<boolean> | null = null;
  private cursor = 0;
  private snap: EngineSnapshot | null = null;
  private snapAt = 0;
  private wantPlaying = false;
  /** (track, key) -> the sounding live note. */
  private readonly held = new Map<string, LiveNote>();
  readonly heldKeys = new Set<number>();
  /** The state region as the views read it (engine/telemetry.ts). */
  telemetry: Telemetry | null = null;
  readonly listeners = new Set<NoteListener>();
  onState: (() => void) | null = null;

  /** The user's patch library (library.ts): its modules join the engine. */
  library: PatchLibrary | null = null;
  /** Called after the engine (re)started and before the document is built
   *  into it: load the library modules the document names (Daw). */
  beforeBuild: ((node: AudioWorkletNode, doc: ProjectDoc) => Promise<void>) | null = null;
  /** After a resize rebuilt the document into a new engine. */
  afterResize: (() => void) | null = null;

  constructor(files: EngineFiles, store: DocStore) {
    this.files = files;
    this.store = store;
  }

  start(): void {
    void this.ensure();
  }

  /** Start the engine; resolves to whether it runs. */
  ensure(): Promise<boolean> {
    if (this.state === 'running') return Promise.resolve(true);
    if (!this.starting) this.starting = this.boot();
    return this.starting;
  }

  /** A song past the engine's limits: a new engine sized for it, the
   *  document rebuilt into it (the transport stops; resizeEngine). */
  private async resize(doc: ProjectDoc): Promise<void> {
    const { client, sink, sync, telemetry } = this;
    if (!client || !sink || !sync || this.resizing) return;
    this.resizing = true;
    try {
      const next = await resizeEngine({ client, sink, sync, ...(telemetry ? { telemetry } : {}), doc });
      next.client.node.onprocessorerror = () => {
        this.error = 'The audio engine stopped with an error; reload the page.';
        this.setState('failed');
      };
      this.client = next.client;
      this.lastResizeMs = next.ms;
      this.setState('running');
      this.afterResize?.();
    } catch (e) {
      this.error = `The song no longer fits the audio engine, and a bigger one did not start: ${String(e)}`;
      this.setState('failed');
    } finally {
      this.resizing = false;
    }
  }

  private async boot(): Promise<boolean> {
    this.setState('starting');
    try {
      const context = new AudioContext({ latencyHint: 'interactive' });
      // The engine's pools are sized for the song open now (limits.ts);
      // one that outgrows them gets a bigger engine (resize below).
      const client = await EngineClient.start(context, this.files, { project: this.store.doc });
      client.node.connect(context.destination);
      client.node.onprocessorerror = () => {
        this.error = 'The audio engine stopped with an error; reload the page.';
        this.setState('failed');
      };
      await context.resume();
      const sink = new RingSink(client);
      await this.beforeBuild?.(client.node, this.store.doc).catch(() => undefined);
      const registry = this.library
        ? this.library.registry(this.files.manifest.patches, () => this.client?.node ?? client.node)
        : manifestRegistryOf(this.files);
      const sync = new Sync(sink, registry);
      sync.onOutgrown = (doc) => { void this.resize(doc); };
      sync.attach(this.store);
      if (this.cursor > 0) sync.seekBeat(this.cursor);
      const telemetry = new Telemetry(client, (id) => sink.engineTrack(id));
      telemetry.setDocument(this.store.doc);
      this.store.subscribe((doc) => telemetry.setDocument(doc));
      telemetry.subscribe(() => undefined);
      this.telemetry = telemetry;
      this.context = context;
      this.client = client;
      this.sink = sink;
      this.sync = sync;
      this.setState('running');
      document.body.dataset['engine'] = 'running';
      return true;
    } catch (e) {
      this.error = `The audio engine did not start: ${String(e)}`;
      this.starting = null;
      this.setState('failed');
      return false;
    }
  }

  private setState(s: SessionState): void {
    this.state = s;
    this.onState?.();
  }

  running(): boolean {
    return this.state === 'running';
  }

  /** The state region, read at most once per animation frame. */
  snapshot(): EngineSnapshot | null {
    const now = performance.now();
    if (this.client && now - this.snapAt > 4) {
      this.snap = this.client.snapshot();
      this.snapAt = now;
    }
    return this.snap;
  }

  playing(): boolean {
    const s = this.snapshot();
    return s ? s.playing : false;
  }

  positionBeat(): number {
    const s = this.snapshot();
    if (s && (s.playing || this.wantPlaying)) return s.beat;
    return this.cursor;
  }

  /** The beat at which something played at performance.now() time `ms`
   *  sounds: the engine's beat after its last quantum, moved on by the
   *  frames between that quantum and the note's engine time. */
  beatAt(ms: number): number {
    const s = this.snapshot();
    const client = this.client;
    if (!s || !client || !s.playing) return this.positionBeat();
    const frames = client.frameAt(ms) - s.frames;
    const bpm = s.tempo > 0 ? s.tempo : tempoAt(this.store.doc, s.beat);
    return s.beat + (frames / client.sampleRate) * (bpm / 60);
  }

  /** The beat at which a note sent now (time 0) sounds: the engine reads
   *  the ring at the start of each quantum, so it plays the note from the
   *  start of the quantum after the last one the state region shows done,
   *  which is the region's beat (one quantum later if a quantum was being
   *  rendered as the note went in). The region is read afresh here. */
  beatNow(): number {
    const client = this.client;
    const s = client?.snapshot() ?? null;
    if (!s || !s.playing) return this.positionBeat();
    return s.beat;
  }

  seek(beat: number): void {
    this.cursor = Math.max(0, beat);
    this.sync?.seekBeat(this.cursor);
  }

  play(): void {
    void this.ensure().then((ok) => {
      if (!ok || !this.sync) return;
      this.wantPlaying = true;
      this.sync.play();
    });
  }

  /** Stop where the playhead is (pause). */
  pause(): void {
    const s = this.snapshot();
    if (s?.playing) this.cursor = s.beat;
    this.wantPlaying = false;
    this.sync?.stop();
    this.sync?.seekBeat(this.cursor);
  }

  /** Stop and go back to the start (beat 0). */
  stop(): void {
    const wasPlaying = this.playing();
    this.pause();
    if (!wasPlaying) this.seek(0);
  }

  togglePlay(): void {
    if (this.playing() || this.wantPlaying) this.pause();
    else this.play();
  }

  /** Whether the transport was asked to run (the engine follows within a
   *  quantum). */
  get transportRequested(): boolean {
    return this.wantPlaying;
  }

  noteOn(trackId: number, key: number, velocity: number, atMs?: number): void {
    const id = `${trackId}:${key}`;
    this.noteOff(trackId, key, atMs);
    const beat = atMs === undefined ? this.beatNow() : this.beatAt(atMs);
    this.heldKeys.add(key);
    for (const fn of this.listeners) fn(trackId, key, velocity, beat);
    if (!this.sync) {
      void this.ensure();
      return;
    }
    const noteId = this.sync.noteOn(trackId, key, velocity, atMs);
    this.held.set(id, { trackId, noteId });
  }

  noteOff(trackId: number, key: number, atMs?: number): void {
    const id = `${trackId}:${key}`;
    const h = this.held.get(id);
    this.heldKeys.delete(key);
    if (!h) return;
    this.held.delete(id);
    const beat = atMs === undefined ? this.beatNow() : this.beatAt(atMs);
    for (const fn of this.listeners) fn(trackId, key, 0, beat);
    this.sync?.noteOff(h.noteId, atMs);
  }

  allNotesOff(): void {
    for (const [, h] of this.held) this.sync?.noteOff(h.noteId);
    this.held.clear();
    this.heldKeys.clear();
  }

  meter(target: number | 'master'): MeterReading | null {
    const t = this.telemetry?.snapshot;
    if (!t?.live) return null;
    const m = target === 'master' ? t.master : t.tracks.get(target);
    if (!m) return null;
    return target === 'master' ? { peak: m.peak, rms: m.rms, clipped: m.clipped, limited: t.masterLimit.active }
      : { peak: m.peak, rms: m.rms, clipped: m.clipped };
  }

  /** A click on a meter: its clip light; the master's also closes the
   *  fault and limit reports (faults.tsx). */
  resetClip(target: number | 'master'): void {
    this.telemetry?.resetClip(target === 'master' ? undefined : target);
    if (target === 'master') this.telemetry?.dismissFaults();
  }

  faulted(trackId: number): boolean {
    return this.telemetry?.snapshot.faultReports.some((r) => r.trackId === trackId) ?? false;
  }

  cpu(): { load: number; voices: number } | null {
    const t = this.telemetry?.snapshot;
    return t?.live ? { load: t.cpuPeak, voices: t.voices } : null;
  }

  frames(): number {
    return this.snapshot()?.frames ?? 0;
  }

  /** A click of the count-in (the engine's metronome is not sent by the
   *  ring yet: ring-sink.ts), as a short tone on the same AudioContext at
   *  context time `at`. */
  click(at: number, accent: boolean): void {
    const context = this.context;
    if (!context) return;
    const osc = context.createOscillator();
    const gain = context.createGain();
    osc.frequency.value = accent ? 1760 : 1320;
    gain.gain.setValueAtTime(0.25, at);
    gain.gain.exponentialRampToValueAtTime(0.001, at + 0.05);
    osc.connect(gain).connect(context.destination);
    osc.start(at);
    osc.stop(at + 0.06);
  }
}

function manifestRegistryOf(files: EngineFiles): ReturnType<typeof manifestRegistry> {
  return manifestRegistry(files.manifest.patches);
}
