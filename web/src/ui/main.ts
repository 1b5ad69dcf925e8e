// main.ts — the first playable page: choose an instrument, play it from the
// computer keyboard, the on-screen piano or a MIDI keyboard, turn its
// params, watch the meter, record and export to WAV.
//
// The page owns no audio: every note and param change is a command for the
// engine (EngineClient), and everything shown comes from the engine's state
// region, read once per animation frame.

import { EngineClient, loadEngineFiles, type EngineFiles } from '../engine/client';
import { exportPerformance } from '../engine/exporter';
import type { ManifestPatch } from '../engine/layout';
import { nativeScript, performanceProject, type Performance } from '../engine/performance';
import { ComputerKeyboard, ScreenKeyboard, type NoteSink } from './keyboard';
import { Meter } from './meter';
import { connectMidi } from './midi';
import { ParamPanel } from './params';
import { Recorder } from './recorder';

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
}

const ui = {
  status: byId<HTMLElement>('status'),
  isolation: byId<HTMLElement>('isolation'),
  start: byId<HTMLButtonElement>('start'),
  instrument: byId<HTMLSelectElement>('instrument'),
  params: byId<HTMLElement>('params'),
  piano: byId<HTMLElement>('piano'),
  octave: byId<HTMLElement>('octave'),
  meter: byId<HTMLElement>('meter-box'),
  cpu: byId<HTMLElement>('cpu'),
  midi: byId<HTMLElement>('midi'),
  record: byId<HTMLButtonElement>('record'),
  export: byId<HTMLButtonElement>('export'),
  exportStatus: byId<HTMLElement>('export-status'),
  download: byId<HTMLAnchorElement>('download'),
  native: byId<HTMLElement>('native-command'),
};

/** Everything that exists once audio has started. */
interface Session {
  context: AudioContext;
  client: EngineClient;
  /** The latest frame a timed (MIDI) message was stamped with. Messages
   *  keep the order they arrived in: the output timestamp wobbles from call
   *  to call, and the engine applies what is due in time order, so a later
   *  message must never get an earlier frame (a note-off sorted before its
   *  note-on would leave the voice stuck). */
  lastTimed: number;
}

/** The engine frame for a timed message, never before the previous one. */
function stamp(session: Session, timeStamp: number): number {
  session.lastTimed = Math.max(session.client.frameAt(timeStamp), session.lastTimed);
  return session.lastTimed;
}

class App implements NoteSink {
  private files: EngineFiles | null = null;
  private session: Session | null = null;
  private starting: Promise<Session | null> | null = null;
  private instruments: ManifestPatch[] = [];
  private patch: ManifestPatch | null = null;
  private panel: ParamPanel | null = null;
  private readonly held = new Map<number, number>();   // MIDI key -> note id
  private piano: ScreenKeyboard | null = null;
  private meter: Meter | null = null;
  private recorder: Recorder | null = null;
  private performance: Performance | null = null;
  private downloadUrl = '';

  async load(): Promise<void> {
    const files = await loadEngineFiles(new URL('./', location.href));
    this.files = files;
    this.instruments = files.manifest.patches.filter((p) => p.meta.kind === 'instrument');
    for (const p of this.instruments) {
      const option = document.createElement('option');
      option.value = p.unit;
      option.textContent = `${p.unit} (${p.meta.voices} voices)`;
      ui.instrument.appendChild(option);
    }
    ui.instrument.addEventListener('change', () => this.choose(ui.instrument.value));
    this.choose(this.instruments[0]?.unit ?? '');

    this.meter = new Meter(ui.cpu);
    ui.meter.appendChild(this.meter.element);
    this.piano = new ScreenKeyboard(this, 48, 84);
    ui.piano.appendChild(this.piano.element);
    const keyboard = new ComputerKeyboard(this, (octave) => this.showOctave(octave));
    keyboard.attach(window);
    this.showOctave(4);

    ui.start.disabled = false;
    ui.start.addEventListener('click', () => void this.start());
    ui.record.addEventListener('click', () => this.toggleRecord());
    ui.export.addEventListener('click', () => void this.export());
    ui.status.textContent = 'Ready: press Start audio, or just play.';
    ui.midi.textContent = 'MIDI: asked for when audio starts';
  }

  /** Start audio (on a click or the first note: browsers start audio only
   *  after a gesture). */
  start(): Promise<Session | null> {
    if (this.session) return Promise.resolve(this.session);
    if (!this.starting) this.starting = this.startAudio();
    return this.starting;
  }

  private async startAudio(): Promise<Session | null> {
    const files = this.files;
    if (!files) return null;
    ui.status.textContent = 'Starting the audio engine…';
    try {
      const context = new AudioContext({ latencyHint: 'interactive' });
      const client = await EngineClient.start(context, files);
      client.node.connect(context.destination);
      client.node.onprocessorerror = () => {
        ui.status.textContent = 'The audio engine stopped with an error; reload the page.';
      };
      await context.resume();
      this.session = { context, client, lastTimed: 0 };
      if (this.patch) this.applyPatch(this.patch);
      ui.start.textContent = 'Audio on';
      ui.start.disabled = true;
      ui.status.textContent = `Engine running at ${client.sampleRate} Hz.`;
      document.body.dataset['engine'] = 'running';
      requestAnimationFrame((t) => this.frame(t));
      // Asked for here, after a gesture, not on page load: the browser may
      // show a permission prompt.
      void connectMidi({
        press: (key, velocity, t) => this.press(key, velocity, t, true),
        release: (key, t) => this.release(key, t, true),
      }).then((text) => { ui.midi.textContent = text; });
      return this.session;
    } catch (e) {
      ui.status.textContent = `The audio engine did not start: ${String(e)}`;
      this.starting = null;
      return null;
    }
  }

  private choose(unit: string): void {
    const patch = this.instruments.find((p) => p.unit === unit) ?? null;
    if (!patch) return;
    this.releaseAll(performance.now());
    this.patch = patch;
    ui.instrument.value = unit;
    this.panel = new ParamPanel(patch.meta.params, [], (index, value) => this.setParam(index, value));
    ui.params.replaceChildren(this.panel.element);
    if (this.session) this.applyPatch(patch);
  }

  /** Select the patch in the engine and send the sliders' values. */
  private applyPatch(patch: ManifestPatch): void {
    const client = this.session?.client;
    if (!client) return;
    client.selectPatch(patch.index);
    const values = this.panel?.current() ?? [];
    patch.meta.params.forEach((p) => {
      const v = values[p.index];
      if (v !== undefined) client.setParam(p.index, v);
    });
  }

  private setParam(index: number, value: number): void {
    this.session?.client.setParam(index, value);
    this.recorder?.param(index, value, performance.now());
  }

  press(key: number, velocity: number, timeStamp: number, timed = false): void {
    if (!this.session) {
      void this.start().then((s) => { if (s && !this.held.has(key)) this.press(key, velocity, timeStamp); });
      return;
    }
    const client = this.session.client;
    const old = this.held.get(key);
    const time = timed ? stamp(this.session, timeStamp) : 0;
    if (old !== undefined) client.noteOff(old, time);
    const id = client.noteOn(key, velocity, time);
    if (id < 0) return;
    this.held.set(key, id);
    this.piano?.light(key, true);
    this.recorder?.press(key, velocity, timeStamp);
  }

  release(key: number, timeStamp: number, timed = false): void {
    const id = this.held.get(key);
    if (id === undefined || !this.session) return;
    const time = timed ? stamp(this.session, timeStamp) : 0;
    this.session.client.noteOff(id, time);
    this.held.delete(key);
    this.piano?.light(key, false);
    this.recorder?.release(key, timeStamp);
  }

  private releaseAll(timeStamp: number): void {
    for (const key of [...this.held.keys()]) this.release(key, timeStamp);
  }

  private showOctave(octave: number): void {
    ui.octave.textContent = `Keyboard from C${octave} (Z/X: octave down/up)`;
  }

  private frame(nowMs: number): void {
    const s = this.session?.client.snapshot() ?? null;
    this.meter?.update(s, nowMs);
    if (this.recorder) ui.record.textContent = `Stop (${this.recorder.noteCount} notes)`;
    requestAnimationFrame((t) => this.frame(t));
  }

  private toggleRecord(): void {
    const now = performance.now();
    if (this.recorder) {
      this.performance = this.recorder.finish(now);
      this.recorder = null;
      ui.record.textContent = 'Record';
      ui.record.setAttribute('aria-pressed', 'false');
      ui.export.disabled = !this.performance;
      const unity = this.session?.client.unityGainDb;
      ui.native.textContent = !this.performance ? ''
        : unity === undefined ? '(start audio to see the native render of it)'
        : nativeScript(this.performance, unity);
      ui.exportStatus.textContent = this.performance
        ? `Recorded ${this.performance.notes.length} notes, ${(this.performance.frames / this.performance.sampleRate).toFixed(2)} s.`
        : 'Nothing was played.';
      return;
    }
    if (!this.patch) return;
    const rate = this.session?.client.sampleRate ?? 48000;
    this.recorder = new Recorder(this.patch, this.panel?.current() ?? [], rate, now);
    this.performance = null;
    ui.export.disabled = true;
    ui.record.setAttribute('aria-pressed', 'true');
    ui.exportStatus.textContent = 'Recording…';
  }

  private async export(): Promise<void> {
    const files = this.files;
    const p = this.performance;
    if (!files || !p) return;
    ui.export.disabled = true;
    ui.exportStatus.textContent = 'Rendering…';
    try {
      const r = await exportPerformance(new URL('export-worker.js', location.href).href,
                                        files.module, files.manifest.memoryPages, p);
      if (this.downloadUrl) URL.revokeObjectURL(this.downloadUrl);
      this.downloadUrl = URL.createObjectURL(new Blob([r.wav], { type: 'audio/wav' }));
      ui.download.href = this.downloadUrl;
      ui.download.download = `${p.patchName}.wav`;
      ui.download.hidden = false;
      ui.exportStatus.textContent =
        `Rendered ${(r.audioMs / 1000).toFixed(2)} s in ${r.elapsedMs.toFixed(0)} ms ` +
        `(${(r.audioMs / Math.max(1, r.elapsedMs)).toFixed(0)}× real time).`;
      ui.download.click();
    } catch (e) {
      ui.exportStatus.textContent = `Export failed: ${String(e)}`;
    } finally {
      ui.export.disabled = false;
    }
  }

  /** The state the end-to-end tests and the console look at. */
  debug(): object {
    return { files: this.files, session: this.session, performance: this.performance, EngineClient };
  }
}

function main(): void {
  // The building blocks, for the console and the end-to-end tests (which
  // render in an OfflineAudioContext of their own).
  (globalThis as unknown as { ampLib: object }).ampLib =
    { EngineClient, loadEngineFiles, exportPerformance, performanceProject };
  if (!globalThis.crossOriginIsolated) {
    ui.isolation.hidden = false;
    ui.isolation.textContent =
      'This page is not cross-origin isolated, so the audio engine cannot run: it needs ' +
      'shared memory, which browsers allow only when the server sends ' +
      '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp". ' +
      'Open the page through ampd (make run), not from a plain file server.';
    ui.status.textContent = 'Audio is off: the page is not cross-origin isolated.';
    ui.start.disabled = true;
    return;
  }
  const app = new App();
  (globalThis as unknown as { amp: App }).amp = app;
  app.load().catch((e: unknown) => {
    ui.status.textContent = `The engine could not be loaded: ${String(e)}`;
  });
}

main();
