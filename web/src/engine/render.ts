// render.ts — render a performance with the engine, no AudioContext.
//
// The export worker's loop: the same engine.wasm (the multi-track engine,
// runtime/engine_*.c) and the same quanta as the worklet (128 frames, the
// last one shorter), then amp_refill after each, as the worklet does. The
// instrument is a node made with the performance's start values and
// settled (amp_select, amp_param_now, amp_settle), as a project's "params"
// are (runtime/engine/project_feed.c), and becomes track 0's at frame 0; each event is
// a command (runtime/engine/commands.def) written into the engine's command ring
// before the quantum it falls in, stamped with its frame, exactly as the
// page sends its notes: the engine applies it at that sample. The worker
// has no AudioContext, so its frames are the engine's own (no
// amp_set_time). performanceProject() (performance.ts) is the same
// performance as a project for the native `amp render`.

import { CommandSender } from './commands';
import { QUANTUM } from './layout';
import { performanceEvents, type Performance, type PerformanceEvent } from './performance';
import { RingWriter } from './ring';
import { startEngine } from './wasm';

export interface RenderResult {
  channels: [Float32Array, Float32Array];
  /** Wall-clock milliseconds the render took. */
  elapsedMs: number;
}

function send(commands: CommandSender, e: PerformanceEvent): void {
  let ok: boolean;
  if (e.kind === 'on') ok = commands.noteOn(e.frame, e.noteId, e.key, e.velocity);
  else if (e.kind === 'off') ok = commands.noteOff(e.frame, e.noteId);
  else ok = commands.setParam(e.frame, e.param, e.value);
  if (!ok) throw new Error(`the command ring refused a ${e.kind} event at frame ${e.frame}`);
}

export function renderPerformance(module: WebAssembly.Module, memory: WebAssembly.Memory,
                                  p: Performance, now: () => number): RenderResult {
  const t0 = now();
  const engine = startEngine(module, memory, p.sampleRate);
  if (engine.amp_select(p.patch) !== p.patch) throw new Error(`no patch ${p.patch} in the engine`);
  // As a project's instrument: set, then settle (always, as project_feed.c does).
  for (const s of p.startParams)
    if (engine.amp_param_now(s.param, s.value) !== 0) throw new Error(`no param ${s.name}`);
  engine.amp_settle();

  const commands = new CommandSender(new RingWriter(memory.buffer, engine.amp_command_ring()));
  const events = performanceEvents(p);
  const left = new Float32Array(p.frames);
  const right = new Float32Array(p.frames);
  const outL = new Float32Array(memory.buffer, engine.amp_output(0), QUANTUM);
  const outR = new Float32Array(memory.buffer, engine.amp_output(1), QUANTUM);
  let next = 0;
  for (let q = 0; q < p.frames; q += QUANTUM) {
    const n = Math.min(QUANTUM, p.frames - q);
    for (let e = events[next]; e && e.frame < q + n; e = events[++next])
      send(commands, e);
    engine.amp_process(n);
    engine.amp_refill();
    left.set(n === QUANTUM ? outL : outL.subarray(0, n), q);
    right.set(n === QUANTUM ? outR : outR.subarray(0, n), q);
  }
  return { channels: [left, right], elapsedMs: now() - t0 };
}
