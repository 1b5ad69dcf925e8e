// editor_bench.mjs — issue 12's benchmark (`make bench-editor`) and issue
// 15's input latency (`make bench-latency`), in headless Chromium on the
// editor page (web/src/editor/) served by its own ampd (--local, a fresh
// --data, so the compile cache starts empty; --library nodes).
//
//   B=build node tests/bench/editor_bench.mjs editor|latency|all [--write] [--runs N]
//
// editor: tests/bench/editor_bench.amp is put in the editor and played;
//   then, N times, its last gain is replaced by keyboard with a value never
//   compiled (cold: the server compiles it, the engine loads a new module)
//   and then with the value before (warm: the server's cache answers and
//   the engine still has the module). Timed by the page itself
//   (ampEditor.last): from the last keystroke to the module playing in the
//   worklet (keyToSoundMs, which holds the linter's 300 ms pause), from the
//   check's start to playing (playingMs), the compile request (ms) and the
//   module's load (loadMs). The worker's diagnostics: checker.check() of
//   the patch and of the patch with a mistake, round trip in the page.
//   The module's size. The reference: `faust -lang wasm` on
//   editor_bench.dsp, the same program, timed here (and its .wasm's size),
//   next to build/ampc --check of the .amp.
// latency: a patch whose voice outputs 0.5 while its gate is on; a key of
//   the page's computer keyboard (A: C4, the editor unfocused) is pressed
//   N times; the keydown event's timeStamp is taken, and a tap after the
//   engine's node (an AudioWorklet of this script) reports the context
//   frame of the first non-zero sample. From the frame: when it was
//   rendered (the engine's clock read in the handler, plus the frames to
//   it at the sample rate) and when it is heard (getOutputTimestamp()). Printed with
//   the context's baseLatency and outputLatency. Headless Chromium plays
//   to no sound card: its output latency is what it reports, not a
//   device's.
//
// Prints tables; with --write puts them in BENCHMARKS.md's sections "The
// patch editor (make bench-editor)" and "Input to sound latency (make
// bench-latency)" (each replaced if there), with the load average. No
// assertions on times.

import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildDir, instrumentTrack, launchBrowser, pageReady, removeDir, repo, startAmpd, startAudio, tempDir, waitFor } from '../web/lib.mjs';

const execFileAsync = promisify(execFile);
const args = process.argv.slice(2);
const mode = args.find((a) => !a.startsWith('--')) ?? 'all';
const write = args.includes('--write');
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 0;
const FAUST = process.env.FAUST ?? 'faust';

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
const max = (xs) => Math.max(...xs);
const min = (xs) => Math.min(...xs);
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');

async function openEditor(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
  await page.goto(`${url}editor.html`);
  await waitFor(page, () => document.body.dataset.ready === '1', null, 'the editor to load', 20000);
  await page.click('#start');
  await waitFor(page, () => document.body.dataset.engine === 'running', null, 'the engine to start', 20000);
  return { context, page };
}

async function setText(page, text) {
  await page.evaluate((s) => {
    const v = globalThis.ampEditor.view;
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: s } });
  }, text);
}

/** Wait for the text in the editor to be compiled and playing. */
async function playing(page) {
  await waitFor(page, () => {
    const l = globalThis.ampEditor.last;
    return l && l.text === globalThis.ampEditor.view.state.doc.toString() && l.playingMs !== undefined;
  }, null, 'the module to play', 60000);
  return page.evaluate(() => {
    const l = globalThis.ampEditor.last;
    return { keyToSoundMs: l.keyToSoundMs, playingMs: l.playingMs, ms: l.ms, loadMs: l.loadMs, cached: l.answer.cached,
             module: l.answer.module, checkMs: globalThis.ampEditor.lastCheck?.ms };
  });
}

/** Select the gain literal (the number before `-> out;` on the last voice
 *  line) and type `value` over it by keyboard. */
async function typeGain(page, value) {
  await page.evaluate(() => {
    const v = globalThis.ampEditor.view;
    const text = v.state.doc.toString();
    const m = /note\.vel \* ([0-9.]+) -> out;/.exec(text);
    const from = m.index + m[0].indexOf(m[1]);
    v.dispatch({ selection: { anchor: from, head: from + m[1].length } });
    v.focus();
  });
  await page.keyboard.type(value);
}

async function benchEditor(browser, tmp) {
  const runs = RUNS || 5;
  const server = await startAmpd(['--local', '--data', path.join(tmp, 'data'), '--library', path.join(repo, 'nodes')]);
  const rows = { cold: [], warm: [] };
  let module = 0, first = null, worker = null, workerBad = null;
  try {
    const { context, page } = await openEditor(browser, server.url);
    const text = (await readFile(path.join(repo, 'tests', 'bench', 'editor_bench.amp'), 'utf8'));
    await setText(page, text);
    first = await playing(page);
    module = (await page.evaluate((u) => globalThis.ampEditor.api.moduleBytes(u).then((b) => b.byteLength), first.module));
    let prev = '0.25';
    for (let i = 0; i < runs; i++) {
      const value = `0.2${String(i + 1).padStart(2, '0')}7`;   // never compiled before in this ampd
      await typeGain(page, value);
      const cold = await playing(page);
      rows.cold.push(cold);
      await page.waitForTimeout(200);
      await typeGain(page, prev);
      const warm = await playing(page);
      rows.warm.push(warm);
      prev = value;
      await page.waitForTimeout(200);
      process.stdout.write(`  run ${i + 1}: cold ${f1(cold.keyToSoundMs)} ms (cached ${cold.cached}), warm ${f1(warm.keyToSoundMs)} ms (cached ${warm.cached})\n`);
    }
    // The worker's diagnostics, round trip in the page.
    const timeChecks = (t) => page.evaluate(async (s) => {
      const out = [];
      for (let i = 0; i < 12; i++) {
        const t0 = performance.now();
        const c = await globalThis.ampEditor.checker.check(s + (i % 2 ? '\n' : ''));
        out.push({ rt: performance.now() - t0, ms: c.ms, status: c.status });
      }
      return out.slice(2);   // the first two: the worker warming up
    }, t);
    const good = await page.evaluate(() => globalThis.ampEditor.view.state.doc.toString());
    worker = await timeChecks(good);
    workerBad = await timeChecks(good.replace('flt.y * env.y', 'flt.y * envv.y'));
    await context.close();
  } finally {
    await server.close();
  }

  // The reference: faust -lang wasm; and ampc --check natively.
  const dsp = path.join(repo, 'tests', 'bench', 'editor_bench.dsp');
  const out = path.join(tmp, 'faust');
  await mkdir(out, { recursive: true });
  const faust = [];
  let faustVersion = '';
  try {
    faustVersion = (await execFileAsync(FAUST, ['--version'])).stdout.split('\n')[0].trim();
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      await execFileAsync(FAUST, ['-lang', 'wasm', dsp, '-o', path.join(out, 'editor_bench.wasm')]);
      faust.push(performance.now() - t0);
    }
  } catch (e) {
    faustVersion = `faust failed: ${e.message.split('\n')[0]}`;
  }
  const faustSize = faust.length ? (await stat(path.join(out, 'editor_bench.wasm'))).size : NaN;
  const ampc = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await execFileAsync(path.join(buildDir, 'ampc'), ['--check', '-I', path.join(repo, 'nodes'), path.join(repo, 'tests', 'bench', 'editor_bench.amp')]);
    ampc.push(performance.now() - t0);
  }

  const col = (xs, k) => xs.map((r) => r[k]);
  const line = (what, xs) => `| ${what} | ${f1(median(xs))} | ${f1(min(xs))} | ${f1(max(xs))} |`;
  const table = [
    `| editor_bench.amp, ${runs} edits each | median ms | min | max |`,
    '|---|---:|---:|---:|',
    line('cold: keystroke → new module playing (with the 300 ms pause)', col(rows.cold, 'keyToSoundMs')),
    line('cold: check start → playing', col(rows.cold, 'playingMs')),
    line('cold: worker check + compile service (ms)', col(rows.cold, 'ms')),
    line('cold: module load into the worklet', col(rows.cold, 'loadMs')),
    line('warm: keystroke → module playing (with the 300 ms pause)', col(rows.warm, 'keyToSoundMs')),
    line('warm: check start → playing', col(rows.warm, 'playingMs')),
    line('warm: worker check + cached compile', col(rows.warm, 'ms')),
    line('warm: module load (already in the engine)', col(rows.warm, 'loadMs')),
    line('diagnostics in the worker, correct text: round trip', col(worker, 'rt')),
    line('diagnostics in the worker, correct text: ampc.wasm', col(worker, 'ms')),
    line('diagnostics in the worker, one error: round trip', col(workerBad, 'rt')),
    line('native build/ampc --check (process)', ampc),
    line(`faust -lang wasm editor_bench.dsp (process; ${faustVersion})`, faust),
  ].join('\n');
  const sizes = `Module: ${module} bytes of WebAssembly (the compile service's, for editor_bench.amp); ` +
    `faust -lang wasm: ${faustSize} bytes (its .wasm, without its .js glue). Cached answers: ` +
    `cold ${rows.cold.filter((r) => r.cached).length}/${runs}, warm ${rows.warm.filter((r) => r.cached).length}/${runs}; ` +
    `worker statuses ${[...new Set(col(worker, 'status'))].join(',')} / ${[...new Set(col(workerBad, 'status'))].join(',')}.`;
  return { table, sizes };
}

/** Runs in the page: a tap after the engine's node reporting the context
 *  frame of the first non-zero sample after it is armed. */
async function installTap(which) {
  const client = which === 'daw' ? globalThis.amp.debug().session.client : globalThis.ampEditor.player.client;
  const context = client.context;
  const code = `registerProcessor('amp-latency-tap', class extends AudioWorkletProcessor {
    constructor() { super(); this.armed = false; this.port.onmessage = (e) => { this.armed = e.data; }; }
    process(inputs) {
      const ch = inputs[0] || [];
      const n = ch.length ? ch[0].length : 0;
      if (!this.armed) return true;
      for (let i = 0; i < n; i++) if (ch.some((c) => c[i] !== 0)) {
        this.port.postMessage({ frame: currentFrame + i });
        this.armed = false;
        break;
      }
      return true;
    }
  });`;
  const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
  await context.audioWorklet.addModule(url);
  const node = new AudioWorkletNode(context, 'amp-latency-tap', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
  client.node.connect(node);
  node.connect(context.destination);
  let resolve = null;
  node.port.onmessage = (e) => {
    // Read together: the clock of rendering and the clock of hearing.
    const now = performance.now();
    const stamp = context.getOutputTimestamp();
    resolve?.({ ...e.data, now, stamp: { contextTime: stamp.contextTime, performanceTime: stamp.performanceTime } });
  };
  globalThis.ampLatency = {
    arm: () => new Promise((r) => { resolve = r; node.port.postMessage(true); }),
    key: 0,
  };
  document.addEventListener('keydown', (e) => {
    if (e.repeat) return;
    // The engine's clock (the end of its last quantum, in the state
    // region) when the page handles the event.
    Object.assign(globalThis.ampLatency, { key: e.timeStamp, now: performance.now(), frames: client.snapshot()?.frames ?? -1 });
  }, { capture: true });
  return { sampleRate: context.sampleRate, baseLatency: context.baseLatency, outputLatency: context.outputLatency };
}

async function benchLatency(browser, tmp) {
  const runs = RUNS || 30;
  const server = await startAmpd(['--local', '--data', path.join(tmp, 'data-latency'), '--library', path.join(repo, 'nodes')]);
  const rows = [];
  let info;
  try {
    const { context, page } = await openEditor(browser, server.url);
    await setText(page, 'patch latency_dc {\n  voices 1;\n  voice { note.gate * 0.5 -> out; }\n}\n');
    await playing(page);
    info = await page.evaluate(installTap, 'editor');
    await page.evaluate(() => globalThis.ampEditor.view.contentDOM.blur());
    await page.locator('.ed-keys').focus();
    for (let i = 0; i < runs; i++) {
      const armed = page.evaluate(() => globalThis.ampLatency.arm());
      await page.waitForTimeout(20);
      await page.keyboard.down('a');
      const r = await armed;
      const k = await page.evaluate(() => ({ ...globalThis.ampLatency }));
      const sr = info.sampleRate;
      // Rendered: the engine renders in real time, so the frame comes
      // (frame - the engine's clock at the handler) / rate after the
      // handler ran.
      const handler = k.now - k.key;
      const queue = (r.frame - k.frames) / sr * 1000;
      const heardAt = r.stamp.performanceTime + (r.frame / sr - r.stamp.contextTime) * 1000;
      rows.push({ handler, queue, render: handler + queue, reported: r.now - k.key, heard: heardAt - k.key });
      await page.waitForTimeout(40);
      await page.keyboard.up('a');
      await page.waitForTimeout(60 + ((i * 37) % 50));   // varied phase against the quantum
    }
    info = { ...info, ...(await page.evaluate(() => { const c = globalThis.ampEditor.player.context; return { baseLatency2: c.baseLatency, outputLatency2: c.outputLatency }; })) };
    await context.close();
  } finally {
    await server.close();
  }
  const midi = await midiLatency(browser, server0(tmp), Math.min(runs, 15));
  const col = (k) => rows.map((r) => r[k]);
  const mcol = (k) => midi.map((r) => r[k]);
  const line = (what, xs) => `| ${what} | ${f1(median(xs))} | ${f1(min(xs))} | ${f1(max(xs))} |`;
  const table = [
    `| key press (keydown timeStamp), ${runs} presses | median ms | min | max |`,
    '|---|---:|---:|---:|',
    line('→ the page\'s keydown handler', col('handler')),
    line('handler → first changed frame (frames past the engine\'s clock)', col('queue')),
    line('→ first changed frame rendered by the worklet (at the earliest)', col('render')),
    line('→ the tap\'s report of it reaching the page (rendered at the latest)', col('reported')),
    line('→ that frame heard (getOutputTimestamp)', col('heard')),
    `| **MIDI note-on (event timeStamp), ${midi.length} notes, the DAW page (epiano)** | | | |`,
    line('→ the engine renders the frame it is scheduled at (EngineClient.frameAt\'s heard time − base − output latency)', mcol('render')),
    line('→ the first changed frame heard (getOutputTimestamp)', mcol('heard')),
    line('the patch\'s onset: first changed frame − scheduled frame (ms)', mcol('onset')),
  ].join('\n');
  const note = `AudioContext (latencyHint interactive, ${info.sampleRate} Hz): baseLatency ${(info.baseLatency * 1000).toFixed(2)} ms, ` +
    `outputLatency ${(info.outputLatency * 1000).toFixed(2)} ms (${(info.outputLatency2 * 1000).toFixed(2)} ms at the end). ` +
    `The product's goal: under 20 ms from input to sound.`;
  return { table, note };
}

const server0 = (tmp) => path.join(tmp, 'data-midi');

/** Runs in the page before its scripts: a Web MIDI stub with one input
 *  (the page's own midi.ts listens to it), globalThis.ampBenchMidi.fire. */
function midiStub() {
  const input = new EventTarget();
  Object.assign(input, { id: 'bench', name: 'Bench', manufacturer: 'Amplitude', version: '1', type: 'input',
                         state: 'connected', connection: 'open', onmidimessage: null, onstatechange: null });
  const access = new EventTarget();
  Object.assign(access, { inputs: new Map([['bench', input]]), outputs: new Map(), sysexEnabled: false, onstatechange: null });
  Object.defineProperty(navigator, 'requestMIDIAccess', { configurable: true, writable: true, value: () => Promise.resolve(access) });
  globalThis.ampBenchMidi = {
    fire(bytes, stamp) {
      const e = new MIDIMessageEvent('midimessage', { data: Uint8Array.from(bytes) });
      Object.defineProperty(e, 'timeStamp', { value: stamp });
      input.onmidimessage?.(e);
      input.dispatchEvent(e);
    },
  };
}

/** MIDI note-ons on the DAW page (an epiano track): from the message's
 *  stamp to the frame it is scheduled at and to its first changed frame. */
async function midiLatency(browser, data, runs) {
  const server = await startAmpd(['--local', '--data', data, '--library', path.join(repo, 'nodes')]);
  const rows = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
    const page = await context.newPage();
    await page.addInitScript(midiStub);
    await page.goto(server.url);
    await pageReady(page);
    await instrumentTrack(page, 'epiano');
    await startAudio(page);
    await waitFor(page, () => document.querySelector('#midi')?.textContent === 'MIDI: 1 input', null, 'the MIDI input', 10000);
    await page.waitForTimeout(1000);   // the epiano module loaded
    const info = await page.evaluate(installTap, 'daw');
    for (let i = 0; i < runs; i++) {
      // The last note's tail over: no voices, silence.
      await waitFor(page, () => {
        const e = globalThis.amp.debug().session.client.snapshot();
        return e && e.tracks.every((t) => t.voices === 0) && Math.max(...e.peak) === 0;
      }, null, 'silence', 10000);
      const r = await page.evaluate(async () => {
        const client = globalThis.amp.debug().session.client;
        const armed = globalThis.ampLatency.arm();
        await new Promise((ok) => setTimeout(ok, 10));
        const stamp = performance.now();
        const scheduled = client.frameAt(stamp);
        globalThis.ampBenchMidi.fire([0x90, 60, 100], stamp);
        const t = await armed;
        return { stampIn: stamp, scheduled, ...t };
      });
      const sr = info.sampleRate;
      const heardAt = r.stamp.performanceTime + (r.frame / sr - r.stamp.contextTime) * 1000;
      // Scheduled at frameAt: its render time is its heard time less the
      // render-ahead (base + output latency) it was computed with.
      const scheduledHeard = r.stamp.performanceTime + (r.scheduled / sr - r.stamp.contextTime) * 1000;
      const render = scheduledHeard - (info.baseLatency + info.outputLatency) * 1000 - r.stampIn;
      rows.push({ render, heard: heardAt - r.stampIn, onset: (r.frame - r.scheduled) / sr * 1000 });
      await page.evaluate(() => globalThis.ampBenchMidi.fire([0x80, 60, 0], performance.now()));
      await page.waitForTimeout(150 + ((i * 37) % 50));
    }
    await context.close();
  } finally {
    await server.close();
  }
  return rows;
}

async function updateSection(title, body) {
  const file = path.join(repo, 'BENCHMARKS.md');
  const text = await readFile(file, 'utf8');
  const section = `## ${title}\n\n${body.trim()}\n`;
  const esc = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`## ${esc}\\n[\\s\\S]*?(?=\\n## |$)`);
  await writeFile(file, re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}`);
}

async function main() {
  const started = Date.now();
  const tmp = await tempDir();
  const browser = await launchBrowser();
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const loaded = os.loadavg()[0] > os.cpus().length / 2;
  const where = `${loaded ? '**Provisional: measured on a loaded machine.** ' : ''}${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Chromium ${browser.version()} headless, ` +
    `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${load} at the start`;
  try {
    if (mode === 'editor' || mode === 'all') {
      const r = await benchEditor(browser, tmp);
      console.log(`\nbench-editor (${where})\n\n${r.table}\n\n${r.sizes}`);
      if (write) {
        await updateSection('The patch editor (make bench-editor)',
          `${where}. tests/bench/editor_bench.mjs: editor_bench.amp (seven saws in a loop from a table, a function, \`sum\`, ` +
          'a low-pass, an ADSR) in the editor page, its gain retyped by keyboard; cold: a value the server never compiled, ' +
          'warm: back to the one before (the server\'s cache, the engine keeps the module). The keystroke → playing time ' +
          'holds the linter\'s 300 ms pause after the last key. editor_bench.dsp is the same program in Faust.\n\n' +
          `${r.table}\n\n${r.sizes}\n`);
        console.log('bench-editor: BENCHMARKS.md updated');
      }
    }
    if (mode === 'latency' || mode === 'all') {
      const r = await benchLatency(browser, tmp);
      console.log(`\nbench-latency (${where})\n\n${r.table}\n\n${r.note}`);
      if (write) {
        await updateSection('Input to sound latency (make bench-latency)',
          `${where}. tests/bench/editor_bench.mjs latency: a key of the editor page's computer keyboard plays a patch whose ` +
          'voice is 0.5 while its gate is on; a tap after the engine\'s node reports the first non-zero frame. Rendered: ' +
          'the handler\'s time plus the frames from the engine\'s clock (read in the handler) to that frame; heard: ' +
          'getOutputTimestamp(). ' +
          'Headless Chromium plays to no sound card.\n\n' +
          `${r.table}\n\n${r.note}\n`);
        console.log('bench-latency: BENCHMARKS.md updated');
      }
    }
  } finally {
    await browser.close();
    await removeDir(tmp);
  }
  console.log(`bench ${mode}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  console.error(`bench ${mode}: ${e.stack ?? e}`);
  process.exit(1);
});
