// player.ts — the editor's sound: an engine (EngineClient, as the DAW
// starts it) whose track 0 plays the last patch that compiled. Each new
// module from the compile service is loaded into the running engine
// (loadModuleIntoWorklet); a module already loaded (the same compile key) is
// reused. The first becomes track 0's instrument (set_instrument); each one
// after it is hot swapped in (swap_patch, runtime/engine/patch_swap.h): held
// notes go on, params keep their values, state whose name and shape match
// carries over and the rest crossfades in over 10 ms. An engine takes at
// most 32 modules (runtime/wasm/README.md): past that the engine is started
// again (and the sound restarts).

import { EngineClient, loadEngineFiles, type EngineFiles } from '../engine/client';
import { loadModuleIntoWorklet } from '../engine/modules';
import type { ParamMeta, CompiledMeta } from './api';

const MODULES_PER_ENGINE = 32;

export class Player {
  client: EngineClient | null = null;
  /** The page's AudioContext; a test may put an OfflineAudioContext here
   *  before start() to render the editor's sound sample-exactly. */
  context: BaseAudioContext | null = null;
  private files: EngineFiles | null = null;
  private loaded = new Map<string, number>();
  private sounding = new Map<number, number>();
  /** The patch track 0 plays: its compile key and metadata. */
  current: { key: string; meta: CompiledMeta; patchId: number } | null = null;
  /** The params' values as set by the sliders, by name. */
  readonly values = new Map<string, number>();

  get running(): boolean {
    return this.client !== null;
  }

  async start(): Promise<void> {
    if (this.client) return;
    this.files ??= await loadEngineFiles(new URL('./', location.href));
    this.context ??= new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
    if (this.context instanceof AudioContext) await this.context.resume();
    this.client = await EngineClient.start(this.context, this.files);
    this.client.node.connect(this.context.destination);
    this.loaded.clear();
  }

  private async restart(): Promise<void> {
    const old = this.client;
    this.client = null;
    old?.node.disconnect();
    old?.close();
    await this.start();
  }

  /** Load `bytes` (compile `key`) and make it track 0's instrument. */
  async use(key: string, bytes: ArrayBuffer, meta: CompiledMeta):
      Promise<{ loadMs: number; reused: boolean; swapped: boolean }> {
    if (!this.client) throw new Error('the engine is not running');
    const t0 = performance.now();
    let patchId = this.loaded.get(key);
    const reused = patchId !== undefined;
    let fresh = false;
    if (patchId === undefined) {
      if (this.loaded.size >= MODULES_PER_ENGINE) {
        await this.restart();
        fresh = true;
      }
      const reply = await loadModuleIntoWorklet(this.client!.node, bytes, { builtin: `editor/${key}.amp` });
      patchId = reply.patchId;
      this.loaded.set(key, patchId);
    }
    const c = this.client!;
    const swapped = this.current !== null && !fresh;
    if (swapped) {
      if (this.current!.patchId !== patchId) c.commands.swapPatch(0, patchId - 1);
    } else {
      c.allNotesOff();
      this.sounding.clear();
      c.selectPatch(patchId - 1);
    }
    this.current = { key, meta, patchId };
    for (const p of meta.params) {
      const v = this.values.get(p.name);
      if (v !== undefined && v >= p.min && v <= p.max && v !== p.default) c.setParam(p.index, v);
    }
    return { loadMs: performance.now() - t0, reused, swapped };
  }

  setParam(p: ParamMeta, value: number): void {
    this.values.set(p.name, value);
    this.client?.setParam(p.index, value);
  }

  noteOn(key: number, velocity = 0.8): void {
    if (!this.client || this.sounding.has(key)) return;
    const id = this.client.noteOn(key, velocity);
    if (id >= 0) this.sounding.set(key, id);
  }

  noteOff(key: number): void {
    const id = this.sounding.get(key);
    if (id === undefined || !this.client) return;
    this.client.noteOff(id);
    this.sounding.delete(key);
  }

  allOff(): void {
    this.client?.allNotesOff();
    this.sounding.clear();
  }
}
