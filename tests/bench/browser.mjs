// browser.mjs — `make bench-browser` (issue 15, item 3; not in `make test`,
// no timing asserted): our engine measured where it runs, in an
// AudioWorklet in headless Chromium (the flags of tests/web/lib.mjs).
//
// The worklet has no high-resolution clock of its own, so two clocks are
// read from outside it:
//
// - OfflineAudioContext: the real worklet (web/src/worklet.ts) and
//   engine.wasm render as fast as they can; the page times the rendering
//   with performance.now() from a suspend() after WARM seconds (wasm tiered
//   up, notes sounding) to the end, and divides by the quanta rendered.
//   Rows: the empty engine (no track playing: the worklet's and engine's
//   own cost per quantum) and tests/bench/synth.amp (`make bench`'s synth
//   voice) at 1, 64 and 256 held voices, loaded as a patch module
//   (runtime/wasm/patch_module.sh, what the compile service builds) on
//   track 0; from those, the voices that fit in 50 % of the render budget
//   (128 frames at 48 kHz = 2667 µs): (budget / 2 - empty) / per voice, the
//   per-voice cost measured at 256 (linear above 256, as the native row).
// - Real time: the DAW page playing a project, its CPU readout (the
//   telemetry's load: a worker times each quantum with its own
//   performance.now() in shared memory, engine/client.ts FineClock), mean
//   and peak over SECONDS, times the quantum's length. Rows: an empty
//   project (transport running, no tracks), the demo project
//   (tests/projects/demo.json, its instruments; its audio track left out:
//   its sample is not in the page) and a generated 16-track project
//   (tests/web/bench_daw.mjs's generator, 16 tracks, 250 clips).
//
// Prints the rows; --out FILE also writes them as tab-separated lines
// (name, value, detail) for bench.c (`make bench BENCH_BROWSER=1` puts them
// in its table).
//
//   B=build node tests/bench/browser.mjs [--out FILE] [--runs N] [--seconds S]

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { benchProject } from '../web/bench_daw.mjs';
import { buildDir, launchBrowser, pageReady, repo, serveApp, startAudio, waitFor } from '../web/lib.mjs';

const execFileAsync = promisify(execFile);
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const OUT = opt('--out', null);
const RUNS = Number(opt('--runs', 3));
const SECONDS = Number(opt('--seconds', 4));
const RATE = 48000;
const QUANTUM = 128;
const BUDGET_US = (QUANTUM / RATE) * 1e6;
const WARM = 1.0;                                   // seconds rendered before the clock starts
const KEYS = (n) => Array.from({ length: n }, (_, i) => 36 + ((i * 7) % 48));   // cases.c bench_key

/** Runs in the page: one offline render; ms per quantum after WARM. */
async function offlineInPage({ moduleB64, voices, keys, seconds, warm, rate }) {
  const lib = globalThis.ampLib;
  globalThis.ampBenchFiles ??= await lib.loadEngineFiles(new URL('./', location.href));
  const q = 128;
  const warmFrames = Math.round((warm * rate) / q) * q;
  const frames = warmFrames + Math.round((seconds * rate) / q) * q;
  const context = new OfflineAudioContext(2, frames, rate);
  const client = await lib.EngineClient.start(context, globalThis.ampBenchFiles);
  client.node.connect(context.destination);
  const c = client.commands;
  let refused = 0;
  context.suspend(q / rate).then(async () => {
    if (moduleB64) {
      const bytes = Uint8Array.from(atob(moduleB64), (ch) => ch.charCodeAt(0));
      const reply = await lib.loadModuleIntoWorklet(client.node, bytes, { builtin: 'synth.amp' });
      if (!c.selectPatch(0, reply.patchId - 1)) refused++;
      for (let i = 0; i < voices; i++) if (!c.noteOn(0, i + 1, keys[i], 0.8)) refused++;
    }
    await context.resume();
  });
  let t0 = 0, sounding = 0;
  context.suspend(warmFrames / rate).then(async () => {
    sounding = client.snapshot()?.voices ?? -1;
    t0 = performance.now();
    await context.resume();
  });
  await context.startRendering();
  const ms = performance.now() - t0;
  client.close?.();
  return { msPerQuantum: ms / ((frames - warmFrames) / q), sounding, refused };
}

/** Runs in the page: the CPU readout over `seconds` while playing. */
async function readCpu(seconds) {
  const tel = globalThis.amp.daw.audio.telemetry;
  const xs = [];
  const t0 = performance.now();
  await new Promise((resolve) => {
    const tick = () => {
      const s = tel?.snapshot;
      if (s && s.cpu > 0) xs.push(s.cpu);
      if (performance.now() - t0 < seconds * 1000) requestAnimationFrame(tick);
      else resolve();
    };
    requestAnimationFrame(tick);
  });
  return { mean: xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length), peak: Math.max(0, ...xs), n: xs.length,
           voices: tel?.snapshot?.voices ?? -1, playing: tel?.snapshot?.playing ?? false };
}

/** demo.json (project format 1, patches by path) as the DAW opens it:
 *  patches from the library by name, every clip an id (the DAW's sync
 *  sends only clips that have one), the audio track left out. */
function demoForDaw(demo) {
  const tracks = demo.tracks.filter((t) => t.kind !== 'audio').map((t) => {
    if (t.kind !== 'instrument') return t;
    const file = typeof t.patch === 'string' ? t.patch : t.patch.file;
    const base = file.slice(file.lastIndexOf('/') + 1);
    const unit = typeof t.patch === 'string' ? undefined : t.patch.unit;
    return { ...t, patch: unit ? { builtin: base, unit } : { builtin: base },
             clips: (t.clips ?? []).map((c, i) => ({ ...c, ui: { ...c.ui, id: `demo${t.id}-${i}` } })) };
  });
  return { ...demo, version: 2, tracks };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs, d = 0) => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;

async function main() {
  const tmp = await mkdtemp(path.join(buildDir, 'bench-browser-'));
  const server = await serveApp();
  const browser = await launchBrowser();
  const rows = [];
  let version = '?';
  const row = (name, value, detail) => {
    rows.push([name, value, detail]);
    console.log(`  ${name}: ${value}  (${detail})`);
  };
  try {
    await execFileAsync('sh', ['runtime/wasm/patch_module.sh', path.join(buildDir, 'ampc'), 'tests/bench/synth.amp', tmp],
                        { cwd: repo });
    const moduleB64 = (await readFile(path.join(tmp, 'synthbench.module.wasm'))).toString('base64');
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await pageReady(page);
    version = browser.version();
    console.log(`bench-browser: headless Chromium ${version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`);

    // ---- offline: the empty engine and the synth voice -----------------------
    const offline = async (voices) => {
      const ms = [];
      let last = null;
      for (let r = 0; r < RUNS; r++) {
        last = await page.evaluate(offlineInPage, { moduleB64: voices > 0 ? moduleB64 : null, voices, keys: KEYS(voices),
                                                    seconds: SECONDS, warm: WARM, rate: RATE });
        if (last.refused) throw new Error(`the engine refused ${last.refused} commands (${voices} voices)`);
        if (last.sounding !== voices) throw new Error(`${voices} voices asked, ${last.sounding} sounding`);
        ms.push(last.msPerQuantum * 1000);
      }
      return ms;
    };
    const empty = await offline(0);
    row('AudioWorklet, empty engine (OfflineAudioContext) [µs per quantum]', median(empty).toFixed(1),
        `median of ${RUNS} (${spread(empty, 1)}); ${(median(empty) / BUDGET_US * 100).toFixed(2)} % of ${BUDGET_US.toFixed(0)} µs`);
    const per = {};
    for (const v of [1, 64, 256]) {
      per[v] = await offline(v);
      row(`AudioWorklet, synth voice, ${v} voice${v > 1 ? 's' : ''} (OfflineAudioContext) [µs per quantum]`,
          median(per[v]).toFixed(1), `median of ${RUNS} (${spread(per[v], 1)}); ` +
          `${((median(per[v]) - median(empty)) / v / QUANTUM * 1000).toFixed(2)} ns per sample per voice above the empty engine`);
    }
    const perVoice = (median(per[256]) - median(empty)) / 256;
    row('Synth voices in 50 % of the render budget: AudioWorklet', `${Math.floor((BUDGET_US / 2 - median(empty)) / perVoice)} voices`,
        `(${(BUDGET_US / 2).toFixed(0)} µs − empty engine ${median(empty).toFixed(1)} µs) / ${perVoice.toFixed(2)} µs per voice per quantum (256 voices)`);

    // ---- real time: the DAW playing, its CPU readout -----------------------------
    await startAudio(page);
    const manifest = await page.evaluate(() => globalThis.amp.daw.files.manifest);
    const demo = demoForDaw(JSON.parse(await readFile(path.join(repo, 'tests/projects/demo.json'), 'utf8')));
    const projects = [
      ['empty project', { version: 2, sample_rate: RATE, tempo: 120, time_signature: [4, 4], tracks: [] }],
      ['demo project (tests/projects/demo.json, its audio track left out)', demo],
      ['16 tracks, 250 clips (bench_daw.mjs generator)', benchProject(manifest, 16, 250)],
    ];
    for (const [name, doc] of projects) {
      await page.evaluate((text) => globalThis.amp.daw.store.replace(JSON.parse(text)), JSON.stringify(doc));
      await page.waitForTimeout(500);
      await page.keyboard.press('Escape');
      await page.locator('canvas.timeline-canvas').focus();
      await page.keyboard.press('Home');                 // from the start (the demo is 16 beats, ~8 s)
      await page.keyboard.press('Space');
      await waitFor(page, () => globalThis.amp.daw.audio.telemetry?.snapshot.playing === true, null, 'the transport to run');
      await page.waitForTimeout(1000);
      const means = [], peaks = [];
      let voices = 0;
      for (let r = 0; r < RUNS; r++) {
        const cpu = await page.evaluate(readCpu, SECONDS / RUNS);
        means.push(cpu.mean * BUDGET_US);
        peaks.push(cpu.peak * BUDGET_US);
        voices = Math.max(voices, cpu.voices);
      }
      await page.keyboard.press('Space');
      row(`AudioWorklet, real time, ${name} [µs per quantum]`, median(means).toFixed(0),
          `CPU readout, mean of ${RUNS} × ${(SECONDS / RUNS).toFixed(1)} s (${spread(means)}), peak ${Math.max(...peaks).toFixed(0)}; ` +
          `${(median(means) / BUDGET_US * 100).toFixed(1)} % of ${BUDGET_US.toFixed(0)} µs; up to ${voices} voices`);
    }
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  }
  if (OUT) {
    const load = os.loadavg().map((x) => x.toFixed(2)).join(', ');
    await writeFile(OUT, `# headless Chromium ${version}, load average ${load} when it ran\n` +
                         rows.map((r) => r.join('\t')).join('\n') + '\n');
    console.log(`bench-browser: wrote ${OUT}`);
  }
}

main().catch((e) => {
  console.error(`bench-browser: ${e.stack ?? e}`);
  process.exit(1);
});
