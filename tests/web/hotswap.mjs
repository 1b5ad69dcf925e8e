// hotswap.mjs — hot swap of a playing patch in the browser's engine
// (commands.def swap_patch, runtime/engine/patch_swap.c, the editor's
// player.ts), against the native reference `amp render A --swap-at N B`.
//
// A: a sine at note.freq; B: the same with the frequency formula edited
// (note.freq * 1.5): the same state map, so the phase carries over.
//
// 1. Bit for bit, in an OfflineAudioContext with the real worklet (the
//    app page's ampLib): modules A and B are built as the compile service
//    builds them (runtime/wasm/patch_module.sh); A plays a held A4 from
//    frame 0; the rendering is suspended at LOAD (a quantum boundary), B
//    is loaded into the running engine and swap_patch is sent for SWAP.
//    Checked: the whole output equals `amp render A.amp --notes NOTES
//    --swap-at SWAP B.amp` bit for bit (a stereo patch at the engine's
//    unity gain passes unchanged), and the largest sample-to-sample step
//    at the swap is no larger than the signal's own steps around it.
//    A module built for patch ABI 1 is refused with the loader's message.
// 2. Measured (logged, not asserted: no timing thresholds), in a
//    real-time AudioContext with the note held: the longest process()
//    call (the worklet's FineClock, as modules.mjs) before and around a
//    swap, against the quantum's budget.

import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildDir, check, compareBits, describeDifference, nativeRender, pageReady, repo } from './lib.mjs';
import { noteCommands, parseNotes } from './offline.mjs';

const execFileAsync = promisify(execFile);

const RATE = 48000;
const FRAMES = 48000;
const LOAD = 140 * 128;
const SWAP = 150 * 128;          // 0.4 s, a quantum boundary
const NOTES = '69@0:0.9';

const textA = (freq) => `import "std/osc.amp";
patch hs {
  voices 4 steal oldest;
  param level = -6 db in [-60 db, 0 db];
  voice {
    osc = sine(freq: ${freq});
    osc.y * note.gate * level -> out;
  }
}
`;

async function buildModule(dir, text, extra = []) {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'hs.amp');
  await writeFile(file, text);
  await execFileAsync('sh', ['runtime/wasm/patch_module.sh', path.join(buildDir, 'ampc'), file, dir,
                             '-I', 'nodes', ...extra], { cwd: repo });
  return { file, bytes: await readFile(path.join(dir, 'hs.module.wasm')) };
}

/** Runs in the page: part 1. */
async function offlineInPage({ a, b, old, events, frames, loadAt, swapAt }) {
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
  const result = { refused: null };
  const ra = await lib.loadModuleIntoWorklet(client.node, fromB64(a), { builtin: 'hs_a.amp' });
  c.selectPatch(0, ra.patchId - 1);
  for (const e of events)
    e.kind === 'on' ? c.noteOn(e.frame, e.id, e.key, e.velocity) : c.noteOff(e.frame, e.id);
  const suspended = context.suspend(loadAt / 48000).then(async () => {
    try {
      await lib.loadModuleIntoWorklet(client.node, fromB64(old), { builtin: 'hs_old.amp' });
    } catch (e) {
      result.refused = String(e.message ?? e);
    }
    const rb = await lib.loadModuleIntoWorklet(client.node, fromB64(b), { builtin: 'hs_b.amp' });
    result.swapSent = c.swapPatch(swapAt, rb.patchId - 1);
    await context.resume();
  });
  const rendered = await context.startRendering();
  await suspended;
  const channels = [];
  for (let ch = 0; ch < rendered.numberOfChannels; ch++) channels.push(toBase64(rendered.getChannelData(ch)));
  return { ...result, channels, state: client.snapshot() };
}

/** Runs in the page: part 2, in real time. */
async function realtimeInPage({ a, b }) {
  const lib = globalThis.ampLib;
  globalThis.ampTestFiles ??= await lib.loadEngineFiles(new URL('./', location.href));
  const fromB64 = (t) => Uint8Array.from(atob(t), (ch) => ch.charCodeAt(0));
  const context = new AudioContext({ sampleRate: 48000 });
  const client = await lib.EngineClient.start(context, globalThis.ampTestFiles);
  client.node.connect(context.destination);
  await context.resume();
  const c = client.commands;
  const ra = await lib.loadModuleIntoWorklet(client.node, fromB64(a), { builtin: 'hs_a.amp' });
  const rb = await lib.loadModuleIntoWorklet(client.node, fromB64(b), { builtin: 'hs_b.amp' });
  c.selectPatch(0, ra.patchId - 1);
  c.noteOn(0, 1, 69, 0.8);
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
  const swaps = [];
  for (let k = 0; k < 20; k++) {
    swaps.push(now());
    c.swapPatch(0, (k % 2 ? ra : rb).patchId - 1);
    await sleep(30);
  }
  await sleep(200);
  Atomics.store(new Int32Array(stop), 0, 1);
  const quanta = await done;
  const state = client.snapshot();
  client.close();
  await context.close();
  return { swaps, quanta, stepMs: client.clock.stepMs, refused: state.commandsRefused };
}

export async function run(t) {
  const dir = path.join(t.tmp, 'hotswap');
  const a = await buildModule(path.join(dir, 'a'), textA('note.freq'));
  const b = await buildModule(path.join(dir, 'b'), textA('note.freq * 1.5'));
  const old = await buildModule(path.join(dir, 'old'), textA('note.freq'), ['--abi', '1']);
  const meta = JSON.parse(await readFile(path.join(dir, 'b', 'hs.module.json'), 'utf8'));
  check(meta.state_map?.some((s) => s.name === 'osc.phase' && s.kind === 'value'),
        `the module's metadata has no state map with osc.phase: ${JSON.stringify(meta.state_map)}`);

  // ---- 1. bit for bit against amp render --swap-at ----
  const page = await t.newPage();
  await pageReady(page);
  const job = {
    a: a.bytes.toString('base64'), b: b.bytes.toString('base64'), old: old.bytes.toString('base64'),
    events: noteCommands(parseNotes(NOTES), RATE), frames: FRAMES, loadAt: LOAD, swapAt: SWAP,
  };
  const got = await page.evaluate(offlineInPage, job);
  check(got.refused === 'patch module \'hs\' was built for patch ABI version 1; this engine takes version 2: compile it again',
        `the ABI-1 module: expected the loader's refusal, got ${JSON.stringify(got.refused)}`);
  t.log(`a module of patch ABI 1 refused: "${got.refused}"`);
  check(got.swapSent, 'the ring refused swap_patch');
  const fromB64 = (s) => { const x = Buffer.from(s, 'base64'); return new Float32Array(x.buffer, x.byteOffset, x.length / 4); };
  const out = got.channels.map(fromB64);
  const native = await nativeRender([a.file, '-I', 'nodes', '--notes', NOTES, '--seconds', String(FRAMES / RATE),
                                     '--rate', String(RATE), '--swap-at', String(SWAP), b.file],
                                    path.join(dir, 'swap.wav'), t.cacheDir);
  const same = compareBits(native.channels, out);
  t.log(`held A4, frequency formula edited at sample ${SWAP} in the worklet vs amp render --swap-at ${SWAP}: ` +
        describeDifference(same));
  check(same.identical, `the browser's swap differs from amp render --swap-at: ${describeDifference(same)}`);
  const x = out[0];
  const stepMax = (from, to) => { let m = 0; for (let i = from; i < to; i++) m = Math.max(m, Math.abs(x[i + 1] - x[i])); return m; };
  const at = Math.abs(x[SWAP] - x[SWAP - 1]), before = stepMax(SWAP - 512, SWAP - 1), after = stepMax(SWAP + 1, SWAP + 512);
  t.log(`step at the swap ${at.toFixed(6)}; the signal's own largest step before ${before.toFixed(6)}, after ${after.toFixed(6)}`);
  check(before > 0.01, 'the note was silent before the swap');
  check(at <= Math.max(before, after), `a step of ${at} at the swap (signal's own ${before}, ${after})`);
  const s = got.state;
  check(!s.commandsRefused && !s.commandsRejected && !s.engineRefusals,
        `commands refused ${s.commandsRefused}, rejected ${s.commandsRejected}, engine refusals ${s.engineRefusals}`);

  // ---- 2. process() around swaps, in real time ----
  const rt = await page.evaluate(realtimeInPage, { a: job.a, b: job.b });
  check(rt.refused === 0, `real time: ${rt.refused} commands refused`);
  check(rt.quanta.length > 0, 'real time: no quantum was timed');
  const quantumMs = (128 * 1000) / RATE;
  const first = rt.swaps[0] - 5, last = rt.swaps[rt.swaps.length - 1] + 100;
  const maxIn = (from, to) => rt.quanta.filter(([w]) => w >= from && w <= to).reduce((m, [, ms]) => Math.max(m, ms), 0);
  t.log(`real time, 20 swaps 30 ms apart with A4 held: longest process() ${maxIn(0, first).toFixed(3)} ms before, ` +
        `${maxIn(first, last).toFixed(3)} ms around the swaps (budget ${quantumMs.toFixed(3)} ms a quantum, clock step ` +
        `${rt.stepMs.toFixed(3)} ms); ${rt.quanta.length} quanta timed`);
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
