// modules.mjs — a patch module loaded into the engine that is already
// running (runtime/wasm/wasm_modules.c, web/src/engine/modules.ts).
//
// tests/fixtures/module_synth.amp, a patch that is not built into
// engine.wasm, is compiled into a module here (runtime/wasm/patch_module.sh,
// as the compile service will), and once more claiming ABI version 99.
//
// 1. Bit for bit, in an OfflineAudioContext with the real worklet: track 0
//    plays the epiano from frame 0; the rendering is suspended at LOAD (a
//    quantum boundary), the ABI-99 module is offered and must be refused
//    with the loader's message, the good module is loaded (no restart: same
//    context, same engine) and gets the first patch id after the built-in
//    registry; at SWITCH track 0 takes the module's patch (set_instrument,
//    the hard cut the engine makes for any patch) and plays NOTES from
//    there. Checked: the output before SWITCH equals, bit for bit, the same
//    render with no module loaded (the engine kept playing what it played,
//    across the load); from SWITCH on it equals `amp render
//    module_synth.amp --notes NOTES` bit for bit (a stereo patch at the
//    engine's unity gain passes unchanged), and is not silent; no command
//    was refused.
// 2. Measured (logged, not asserted: no timing thresholds), in a real-time
//    AudioContext with the epiano playing: the time from the module's bytes
//    to the first quantum in which its note sounds (compile, the worklet's
//    load, the command), and the longest process() call (the worklet's
//    FineClock worker times each one) before and around the load, against
//    the quantum's budget, plus the longest gap between quanta.

import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  buildDir, check, compareBits, describeDifference, nativeRender, pageReady, readWav, repo, webDir,
} from './lib.mjs';
import { noteCommands, parseNotes } from './offline.mjs';

const execFileAsync = promisify(execFile);

const RATE = 48000;
const FRAMES = 76800;            // 1.6 s
const LOAD = 112 * 128;          // 0.299 s: the rendering stops here for the load
const SWITCH = 19200;            // 0.4 s: track 0 takes the module's patch
const EPIANO_NOTES = '64@0:0.5 67@0.15:0.9 71@0.3:1.2';   // all start before SWITCH
const NOTES = '48@0:0.5 55@0.1:0.7 60@0.2:0.9/0.6';
const FIXTURE = 'tests/fixtures/module_synth.amp';

async function buildModule(outDir, extra = []) {
  const t0 = performance.now();
  await execFileAsync('sh', ['runtime/wasm/patch_module.sh', path.join(buildDir, 'ampc'), FIXTURE, outDir,
                             '-I', 'nodes', ...extra], { cwd: repo });
  const ms = performance.now() - t0;
  return { bytes: await readFile(path.join(outDir, 'module_synth.module.wasm')), ms };
}

/** Runs in the page: the offline render of part 1 (load: false for the
 *  reference without a module). */
async function offlineInPage({ load, good, bad, epiano, epianoEvents, moduleEvents, frames, loadAt, switchAt }) {
  const lib = globalThis.ampLib;
  globalThis.ampTestFiles ??= await lib.loadEngineFiles(new URL('./', location.href));
  const fromB64 = (t) => Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
  const toBase64 = (floats) => {
    const bytes = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  };
  const context = new OfflineAudioContext(2, frames, 48000);
  const client = await lib.EngineClient.start(context, globalThis.ampTestFiles);
  client.node.connect(context.destination);
  const c = client.commands;
  let sent = 0;
  const send = (ok, what) => { if (!ok) throw new Error(`the ring refused ${what}`); sent++; };
  send(c.selectPatch(0, epiano), 'epiano');
  for (const e of epianoEvents)
    send(e.kind === 'on' ? c.noteOn(e.frame, e.id, e.key, e.velocity) : c.noteOff(e.frame, e.id), 'an epiano note');
  const result = { refused: null, loaded: null };
  const suspended = context.suspend(loadAt / 48000).then(async () => {
    if (load) {
      try {
        await lib.loadModuleIntoWorklet(client.node, fromB64(bad));
      } catch (e) {
        result.refused = String(e.message ?? e);
      }
      const reply = await lib.loadModuleIntoWorklet(client.node, fromB64(good), { builtin: 'module_synth.amp' });
      result.loaded = { patchId: reply.patchId, patch: reply.patch };
      send(c.selectPatch(switchAt, reply.patchId - 1), 'the module patch');
      for (const e of moduleEvents)
        send(e.kind === 'on' ? c.noteOn(switchAt + e.frame, 100 + e.id, e.key, e.velocity)
                             : c.noteOff(switchAt + e.frame, 100 + e.id), 'a module note');
    }
    await context.resume();
  });
  const rendered = await context.startRendering();
  await suspended;
  const channels = [];
  for (let ch = 0; ch < rendered.numberOfChannels; ch++) channels.push(toBase64(rendered.getChannelData(ch)));
  return { ...result, channels, sent, state: client.snapshot() };
}

/** Runs in the page: part 3, the export worker: the module handed to it,
 *  then a project naming {"builtin": "module_synth.amp"} rendered. */
async function exportInPage({ good, json }) {
  const bytes = Uint8Array.from(atob(good), (ch) => ch.charCodeAt(0));
  const module = await WebAssembly.compile(bytes);
  const worker = new Worker('export-worker.js', { type: 'module' });
  const ask = (message) => new Promise((resolve) => {
    worker.onmessage = (e) => { if (e.data.type !== 'progress') resolve(e.data); };
    worker.onerror = (e) => resolve({ type: 'error', message: e.message || 'worker error' });
    worker.postMessage(message);
  });
  const loaded = await ask({ type: 'patch-module', id: 1, module, builtin: 'module_synth.amp' });
  const reply = await ask({ type: 'render-project', json, assets: {}, format: 'f32' });
  worker.terminate();
  if (reply.type !== 'project-done') return { loaded, error: reply.message };
  const b = new Uint8Array(reply.mix);
  let bin = '';
  for (let i = 0; i < b.length; i += 0x8000) bin += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return { loaded, mix: btoa(bin) };
}

/** Part 4, in Node (the V8 of Chromium, performance.now() in microseconds):
 *  the loader itself (web/src/engine/modules.ts, bundled here) timed on an
 *  engine instance — the work the worklet does between two quanta. */
async function loaderTimes(tmp, modules) {
  const bundle = path.join(tmp, 'modules-loader.mjs');
  await execFileAsync(path.join(repo, 'web/node_modules/.bin/esbuild'),
                      ['web/src/engine/modules.ts', '--format=esm', `--outfile=${bundle}`, '--log-level=warning'], { cwd: repo });
  const { loadPatchModule } = await import(bundle);
  const engineModule = new WebAssembly.Module(await readFile(path.join(webDir, 'engine.wasm')));
  const memory = new WebAssembly.Memory({ initial: 1024, maximum: 1024, shared: true });
  const engine = new WebAssembly.Instance(engineModule, { env: { memory, emscripten_notify_memory_growth() {} } }).exports;
  engine._initialize?.();
  check(engine.amp_init(RATE) === 0, 'amp_init failed in Node');
  const times = [];
  for (const [name, bytes] of modules) {
    const t0 = performance.now();
    const m = new WebAssembly.Module(bytes);
    const t1 = performance.now();
    loadPatchModule(engine, memory, m, {});
    times.push(`${name} compile ${(t1 - t0).toFixed(2)} ms + load ${(performance.now() - t1).toFixed(2)} ms`);
  }
  return times;
}

/** Runs in the page: part 2, in real time. */
async function realtimeInPage({ good, epiano }) {
  const lib = globalThis.ampLib;
  globalThis.ampTestFiles ??= await lib.loadEngineFiles(new URL('./', location.href));
  const bytes = Uint8Array.from(atob(good), (ch) => ch.charCodeAt(0));
  const context = new AudioContext({ sampleRate: 48000 });
  const client = await lib.EngineClient.start(context, globalThis.ampTestFiles);
  client.node.connect(context.destination);
  await context.resume();
  const c = client.commands;
  c.selectPatch(0, epiano);
  c.noteOn(0, 1, 60, 0.8);
  c.addTrack(0, 1, 0);                       // TrackKind.Instrument
  c.setGain(0, 1, client.unityGainDb);
  // A worker that watches the FineClock buffer (engine/client.ts: f64[4]
  // quanta timed, f64[5] the last one's ms) and records every quantum.
  const src = `onmessage = (e) => {
    const f64 = new Float64Array(e.data.buffer, 0, 6);
    const stop = new Int32Array(e.data.stop);
    const out = [];
    let seen = f64[4];
    while (Atomics.load(stop, 0) === 0) {
      const n = f64[4];
      if (n !== seen) { seen = n; out.push([performance.timeOrigin + performance.now(), f64[5]]); }
    }
    postMessage(out);
  };`;
  const watcher = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
  const stop = new SharedArrayBuffer(4);
  const done = new Promise((r) => { watcher.onmessage = (e) => r(e.data); });
  watcher.postMessage({ buffer: client.clock.buffer, stop });
  const now = () => performance.timeOrigin + performance.now();
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  await sleep(400);
  const tBytes = now();
  const reply = await lib.loadModuleIntoWorklet(client.node, bytes, { builtin: 'module_synth.amp' });
  const tLoaded = now();
  c.selectPatch(0, reply.patchId - 1, 1);
  c.noteOn(0, 2, 57, 0.8, 1);
  let tSound = 0, tMeter = 0;
  for (let i = 0; i < 20000 && !tMeter; i++) {
    const s = client.snapshot();
    const t = s?.tracks.find((x) => x.id === 1);
    if (t && t.voices > 0 && !tSound) tSound = now();
    if (t && t.peak[0] + t.peak[1] > 0) tMeter = now();
    await sleep(0);
  }
  await sleep(300);
  Atomics.store(new Int32Array(stop), 0, 1);
  const quanta = await done;
  const state = client.snapshot();
  client.close();
  await context.close();
  return { tBytes, tLoaded, tSound, tMeter, compileMs: reply.compileMs, loadMs: reply.loadMs, quanta,
           stepMs: client.clock.stepMs, refused: state.commandsRefused, applied: state.commandsApplied };
}

export async function run(t) {
  const manifest = JSON.parse(await readFile(path.join(webDir, 'engine.json'), 'utf8'));
  check(!manifest.patches.some((p) => p.unit === 'module_synth'), 'module_synth is built into engine.wasm: not a test of a module');
  const epiano = manifest.patches.find((p) => p.unit === 'epiano');
  check(epiano, 'engine.json has no epiano');
  const good = await buildModule(path.join(t.tmp, 'modules'));
  const bad = await buildModule(path.join(t.tmp, 'modules-abi99'), ['--abi', '99']);
  t.log(`module_synth.module.wasm: ${good.bytes.length} bytes, built in ${good.ms.toFixed(0)} ms (ampc, clang, wasm-ld)`);

  // ---- 1. bit for bit ----
  const page = await t.newPage();
  await pageReady(page);
  const job = {
    good: good.bytes.toString('base64'), bad: bad.bytes.toString('base64'), epiano: epiano.index,
    epianoEvents: noteCommands(parseNotes(EPIANO_NOTES), RATE), moduleEvents: noteCommands(parseNotes(NOTES), RATE),
    frames: FRAMES, loadAt: LOAD, switchAt: SWITCH,
  };
  const fromB64 = (s) => { const b = Buffer.from(s, 'base64'); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
  const withModule = await page.evaluate(offlineInPage, { ...job, load: true });
  const without = await page.evaluate(offlineInPage, { ...job, load: false });
  const a = withModule.channels.map(fromB64), b = without.channels.map(fromB64);

  check(withModule.refused === 'patch module \'module_synth\' was built for patch ABI version 99; ' +
        'this engine takes version 3: compile it again',
        `the ABI-99 module: expected the loader's refusal, got ${JSON.stringify(withModule.refused)}`);
  t.log(`ABI 99 refused: "${withModule.refused}"`);
  check(withModule.loaded?.patchId === manifest.patches.length + 1,
        `the module's patch id: ${JSON.stringify(withModule.loaded)}, expected ${manifest.patches.length + 1}`);

  const before = compareBits(a.map((ch) => ch.subarray(0, SWITCH)), b.map((ch) => ch.subarray(0, SWITCH)));
  let peakBefore = 0;
  for (const ch of b) for (let i = LOAD; i < SWITCH; i++) peakBefore = Math.max(peakBefore, Math.abs(ch[i]));
  t.log(`frames 0..${SWITCH} (the load at ${LOAD}), epiano playing, vs no module loaded: ${describeDifference(before)}, ` +
        `peak after the load ${peakBefore.toFixed(3)}`);
  check(before.identical, `the engine's output around the load changed: ${describeDifference(before)}`);
  check(peakBefore > 0.01, 'the epiano was not sounding across the load');

  const seconds = (FRAMES - SWITCH) / RATE;
  const native = await nativeRender([FIXTURE, '-I', 'nodes', '--notes', NOTES, '--seconds', String(seconds),
                                     '--rate', String(RATE)], path.join(t.tmp, 'module_synth.wav'), t.cacheDir);
  const after = compareBits(native.channels, a.map((ch) => ch.slice(SWITCH)));
  let peak = 0;
  for (const ch of native.channels) for (const x of ch) peak = Math.max(peak, Math.abs(x));
  t.log(`module_synth from frame ${SWITCH} (notes '${NOTES}') vs amp render ${path.basename(FIXTURE)}: ` +
        `${describeDifference(after)}, peak ${peak.toFixed(3)}`);
  check(after.identical, `the loaded module differs from amp render: ${describeDifference(after)}`);
  check(peak > 0.01, 'amp render of the fixture is silent: nothing was compared');
  const s = withModule.state;
  check(!s.commandsRefused && !s.commandsRejected && !s.engineRefusals && s.commandsApplied === withModule.sent,
        `the engine applied ${s.commandsApplied} of ${withModule.sent} commands, refused ${s.commandsRefused}`);

  // ---- 3. the export worker: a project naming the module ----
  const perBeat = 4096;   // lib.mjs framesPerBeat(48000): every frame an exact fraction of a beat
  const events = noteCommands(parseNotes(NOTES), RATE);
  const on = new Map(events.filter((e) => e.kind === 'on').map((e) => [e.id, e]));
  const notes = events.filter((e) => e.kind === 'off').map((off) => ({ on: on.get(off.id), off }))
    .map(({ on: n, off }) => ({ key: n.key, start_beat: n.frame / perBeat, length_beats: (off.frame - n.frame) / perBeat,
                                velocity: n.velocity }));
  const project = (patch) => ({
    version: 1, sample_rate: RATE, tempo: (60 * RATE) / perBeat, length_beats: 57344 / perBeat, tail_seconds: 0,
    tracks: [{ id: 1, kind: 'instrument', patch, fader: { gain_db: 0 },
               clips: [{ start_beat: 0, length_beats: 57344 / perBeat, notes }] }],
  });
  const exported = await page.evaluate(exportInPage,
                                       { good: job.good, json: JSON.stringify(project({ builtin: 'module_synth.amp' })) });
  check(!exported.error && exported.loaded?.error === null,
        `the export worker: ${exported.error ?? exported.loaded?.error ?? JSON.stringify(exported.loaded)}`);
  const docFile = path.join(t.tmp, 'module_project.json');
  await writeFile(docFile, JSON.stringify(project({ file: path.relative(t.tmp, path.join(repo, FIXTURE)) })));
  const nativeDoc = await nativeRender([docFile, '-I', path.join(repo, 'nodes')], path.join(t.tmp, 'module_project.wav'),
                                       t.cacheDir);
  const workerMix = readWav(Buffer.from(exported.mix, 'base64'));
  const e = compareBits(nativeDoc.channels, workerMix.channels);
  t.log(`export worker, a project with {"builtin": "module_synth.amp"} (the module) vs amp render of the project ` +
        `with the .amp file: ${describeDifference(e)}`);
  check(e.identical, `the export worker's render differs: ${describeDifference(e)}`);

  // ---- 4. the loader's own time, in Node ----
  const stereoDelay = await readFile(path.join(webDir, 'modules', 'stereo_delay.module.wasm'));
  for (const line of await loaderTimes(t.tmp, [['module_synth', good.bytes], ['stereo_delay', stereoDelay]]))
    t.log(`the loader in Node (V8): ${line}`);

  // ---- 2. measured in real time ----
  const rt = await page.evaluate(realtimeInPage, { good: job.good, epiano: epiano.index });
  check(rt.refused === 0, `real time: ${rt.refused} commands refused`);
  check(rt.tSound > 0, 'real time: the module\'s note never sounded');
  const quantumMs = (128 * 1000) / RATE;
  const maxIn = (from, to) => rt.quanta.filter(([w]) => w >= from && w <= to).reduce((m, [, ms]) => Math.max(m, ms), 0);
  const gaps = (from, to) => {
    let g = 0;
    const q = rt.quanta.filter(([w]) => w >= from && w <= to);
    for (let i = 1; i < q.length; i++) g = Math.max(g, q[i][0] - q[i - 1][0]);
    return g;
  };
  const aroundFrom = rt.tBytes - 5, aroundTo = rt.tLoaded + 100;
  t.log(`real time: module bytes to its first sounding quantum ${(rt.tSound - rt.tBytes).toFixed(1)} ms ` +
        `(compile ${rt.compileMs.toFixed(1)} ms, loaded and registered after ${(rt.tLoaded - rt.tBytes).toFixed(1)} ms, ` +
        `the load on the audio thread ${rt.loadMs} ms by its Date.now(); the track meter showed it after ` +
        `${(rt.tMeter - rt.tBytes).toFixed(1)} ms)`);
  t.log(`real time: longest process() ${maxIn(0, aroundFrom).toFixed(3)} ms before the load, ` +
        `${maxIn(aroundFrom, aroundTo).toFixed(3)} ms around it (budget ${quantumMs.toFixed(3)} ms a quantum, ` +
        `clock step ${rt.stepMs.toFixed(3)} ms); longest gap between quanta ${gaps(0, aroundFrom).toFixed(2)} ms before, ` +
        `${gaps(aroundFrom, aroundTo).toFixed(2)} ms around; ${rt.quanta.length} quanta timed`);
  check(rt.quanta.length > 0, 'real time: no quantum was timed');
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
