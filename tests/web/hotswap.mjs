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
//    Then with no note before the swap and LATER after it: the output
//    equals `amp render B.amp --notes LATER`, bit for bit (a note started
//    after the swap is the new text's).
// 2. The editor page (editor.html on its own ampd, with the compile
//    service): A is typed, compiled by the service and played by the page's
//    Player on an OfflineAudioContext (so the sound is sample-exact) with
//    A4 held from frame 0; the rendering stops at EDIT_AT (a quantum
//    boundary), the frequency formula is edited by keyboard, the service
//    compiles it, the Player loads the module and swaps it in (swap_patch at
//    once: it applies at EDIT_AT), the rendering goes on. The output equals
//    `amp render` of the two texts the editor held, with --swap-at EDIT_AT,
//    bit for bit; no step at the swap beyond the signal's own.
// 3. Measured (logged, not asserted: no timing thresholds), in a
//    real-time AudioContext with the note held: the longest process()
//    call (the worklet's FineClock, as modules.mjs) before and around a
//    swap, against the quantum's budget.

import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  buildDir, check, compareBits, describeDifference, nativeRender, pageReady, repo, startAmpd, waitFor,
} from './lib.mjs';
import { noteCommands, parseNotes } from './offline.mjs';

const execFileAsync = promisify(execFile);

const RATE = 48000;
const FRAMES = 48000;
const LOAD = 140 * 128;
const SWAP = 150 * 128;          // 0.4 s, a quantum boundary
const NOTES = '69@0:0.9';
const LATER = '64@0.5:0.8/0.7';   // after SWAP

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
async function offlineInPage({ a, b, old, events, later = [], frames, loadAt, swapAt }) {
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
    for (const e of later)
      e.kind === 'on' ? c.noteOn(e.frame, 50 + e.id, e.key, e.velocity) : c.noteOff(e.frame, 50 + e.id);
    await context.resume();
  });
  const rendered = await context.startRendering();
  await suspended;
  const channels = [];
  for (let ch = 0; ch < rendered.numberOfChannels; ch++) channels.push(toBase64(rendered.getChannelData(ch)));
  return { ...result, channels, state: client.snapshot() };
}

const EDIT_AT = 120 * 128;       // part 2: the editor's edit applies here

/** The largest step at sample `at` and the signal's own around it. */
function steps(x, at) {
  const stepMax = (from, to) => { let m = 0; for (let i = from; i < to; i++) m = Math.max(m, Math.abs(x[i + 1] - x[i])); return m; };
  return { at: Math.abs(x[at] - x[at - 1]), before: stepMax(at - 512, at - 1), after: stepMax(at + 1, at + 512) };
}

/** Wait for the editor's compile of its current text after `seq`. */
async function compiled(page, seq) {
  await waitFor(page, (s) => globalThis.ampEditor.last && globalThis.ampEditor.last.seq > s &&
    globalThis.ampEditor.last.text === globalThis.ampEditor.view.state.doc.toString(), seq, 'a compile of the text', 30000);
  return page.evaluate(() => ({ seq: globalThis.ampEditor.last.seq, ok: globalThis.ampEditor.last.answer?.ok,
                                text: globalThis.ampEditor.last.text }));
}

async function editorPart(t, dir) {
  const server = await startAmpd(['--local', '--data', path.join(t.tmp, 'hotswap-data'), '--library', path.join(repo, 'nodes')]);
  const context = await t.browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}editor.html`);
    await waitFor(page, () => document.body.dataset.ready === '1', null, 'the editor to load', 15000);
    // Type A.
    await page.click('.cm-content');
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    const seq0 = await page.evaluate(() => globalThis.ampEditor.seq);
    await page.keyboard.insertText(textA('note.freq'));
    const first = await compiled(page, seq0);
    check(first.ok === true, 'A did not compile in the editor');
    // The Player on an OfflineAudioContext, started with the page's button.
    await page.evaluate((frames) => { globalThis.ampEditor.player.context = new OfflineAudioContext(2, frames, 48000); }, FRAMES);
    await page.click('#start');
    await waitFor(page, (s) => globalThis.ampEditor.last?.seq === s && globalThis.ampEditor.last.playingMs !== undefined,
                  first.seq, 'A to play', 15000);
    await page.evaluate((editAt) => {
      const p = globalThis.ampEditor.player;
      p.noteOn(69, 0.8);                                   // applies at frame 0
      globalThis.hsSuspended = false;
      globalThis.hsRendered = p.context.startRendering();
      p.context.suspend(editAt / 48000).then(() => { globalThis.hsSuspended = true; });
    }, EDIT_AT);
    // suspend() is called after startRendering(): the rendering may pass it
    // only if it is already beyond EDIT_AT, which the check below catches.
    await waitFor(page, () => globalThis.hsSuspended, null, 'the rendering to stop at the edit', 15000);
    // Edit the frequency formula by keyboard.
    const at = await page.evaluate(() => {
      const v = globalThis.ampEditor.view;
      const i = v.state.doc.toString().indexOf('note.freq)') + 'note.freq'.length;
      v.dispatch({ selection: { anchor: i } });
      v.focus();
      return i;
    });
    check(at > 20, 'no note.freq in the editor');
    await page.keyboard.type(' * 1.5');
    await page.keyboard.press('Escape');
    const second = await compiled(page, first.seq);
    check(second.ok === true && second.text.includes('note.freq * 1.5'), `the edit did not compile: ${second.text}`);
    await waitFor(page, (s) => globalThis.ampEditor.last?.seq === s && globalThis.ampEditor.last.playingMs !== undefined,
                  second.seq, 'the edit to play', 15000);
    const got = await page.evaluate(async () => {
      const p = globalThis.ampEditor.player;
      const b64 = (floats) => {
        const bytes = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
        let bin = '';
        for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        return btoa(bin);
      };
      await p.context.resume();
      const r = await globalThis.hsRendered;
      return { channels: [b64(r.getChannelData(0)), b64(r.getChannelData(1))], state: p.client.snapshot() };
    });
    const fromB64 = (s) => { const x = Buffer.from(s, 'base64'); return new Float32Array(x.buffer, x.byteOffset, x.length / 4); };
    const out = got.channels.map(fromB64);
    await mkdir(path.join(dir, 'editor'), { recursive: true });
    const fa = path.join(dir, 'editor', 'a.amp'), fb = path.join(dir, 'editor', 'b.amp');
    await writeFile(fa, first.text);
    await writeFile(fb, second.text);
    const native = await nativeRender([fa, '-I', 'nodes', '--notes', '69@0:60/0.8', '--seconds', String(FRAMES / RATE),
                                       '--rate', String(RATE), '--swap-at', String(EDIT_AT), fb],
                                      path.join(dir, 'editor.wav'), t.cacheDir);
    const same = compareBits(native.channels, out);
    const st = steps(out[0], EDIT_AT);
    t.log(`editor page: A4 held, "note.freq" edited to "note.freq * 1.5" by keyboard while the rendering stood at ` +
          `${EDIT_AT}; the Player swapped the service's module in: vs amp render --swap-at ${EDIT_AT} of the two texts: ` +
          `${describeDifference(same)}; step at the swap ${st.at.toFixed(6)} (own ${st.before.toFixed(6)} before, ` +
          `${st.after.toFixed(6)} after)`);
    check(same.identical, `the editor's swap differs from amp render --swap-at: ${describeDifference(same)}`);
    check(st.before > 0.01 && st.at <= Math.max(st.before, st.after), `a step of ${st.at} at the edit`);
    check(!got.state.commandsRefused, `${got.state.commandsRefused} commands refused`);
    check(errors.length === 0, `editor page errors: ${errors.join('; ')}`);
  } finally {
    await context.close();
    await server.close();
  }
}

/** Runs in the page: part 3, in real time. */
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
  check(meta.state_map?.some((s) => s.name === 'osc.phase' && s.type === 'value'),
        `the module's metadata has no state map with osc.phase: ${JSON.stringify(meta.state_map)}`);

  // ---- 1. bit for bit against amp render --swap-at ----
  const page = await t.newPage({ open: false });
  await page.goto(t.url);
  await pageReady(page);
  const job = {
    a: a.bytes.toString('base64'), b: b.bytes.toString('base64'), old: old.bytes.toString('base64'),
    events: noteCommands(parseNotes(NOTES), RATE), frames: FRAMES, loadAt: LOAD, swapAt: SWAP,
  };
  const got = await page.evaluate(offlineInPage, job);
  check(got.refused === 'patch module \'hs\' was built for patch ABI version 1; this engine takes version 3: compile it again',
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
  const fresh = await page.evaluate(offlineInPage, { ...job, events: [], later: noteCommands(parseNotes(LATER), RATE) });
  const nativeB = await nativeRender([b.file, '-I', 'nodes', '--notes', LATER, '--seconds', String(FRAMES / RATE),
                                      '--rate', String(RATE)], path.join(dir, 'b.wav'), t.cacheDir);
  const newText = compareBits(nativeB.channels, fresh.channels.map(fromB64));
  let peakB = 0;
  for (const ch of nativeB.channels) for (const v of ch) peakB = Math.max(peakB, Math.abs(v));
  t.log(`a note started after the swap (${LATER}) vs amp render of B alone: ${describeDifference(newText)}, peak ${peakB.toFixed(3)}`);
  check(newText.identical, `a note after the swap differs from amp render of the new text: ${describeDifference(newText)}`);
  check(peakB > 0.01, 'amp render of B is silent: nothing was compared');
  const s = got.state;
  check(!s.commandsRefused && !s.commandsRejected && !s.engineRefusals,
        `commands refused ${s.commandsRefused}, rejected ${s.commandsRejected}, engine refusals ${s.engineRefusals}`);

  // ---- 2. the editor page ----
  await editorPart(t, dir);

  // ---- 3. process() around swaps, in real time ----
  const rt = await page.evaluate(realtimeInPage, { a: job.a, b: job.b });
  check(rt.refused === 0, `real time: ${rt.refused} commands refused`);
  check(rt.quanta.length > 0, 'real time: no quantum was timed');
  const quantumMs = (128 * 1000) / RATE;
  const first = rt.swaps[0] - 5, last = rt.swaps[rt.swaps.length - 1] + 100;
  const within = (from, to) => rt.quanta.filter(([w]) => w >= from && w <= to).map(([, ms]) => ms).sort((p, q) => p - q);
  const describe = (ms) => ms.length ? `longest ${ms[ms.length - 1].toFixed(3)} ms, median ${ms[ms.length >> 1].toFixed(3)} ms, ` +
    `${ms.filter((x) => x > quantumMs).length} of ${ms.length} over the budget` : 'none timed';
  // The quantum that applied each swap: the first timed after its command.
  const applying = rt.swaps.map((w) => rt.quanta.find(([q]) => q > w)).filter(Boolean).map(([, ms]) => ms).sort((p, q) => p - q);
  t.log(`real time, 20 swaps 30 ms apart with A4 held (budget ${quantumMs.toFixed(3)} ms a quantum, clock step ` +
        `${rt.stepMs.toFixed(3)} ms): process() before the swaps: ${describe(within(0, first))}; around them: ` +
        `${describe(within(first, last))}; the quanta that applied a swap: ${describe(applying)}`);
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
