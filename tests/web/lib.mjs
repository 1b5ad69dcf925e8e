// lib.mjs — what the browser tests share: the server, the browser, native
// renders with build/amp, WAV files, and bit-exact comparison.

import { spawn, execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { startStaticServer } from './serve.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
export const repo = path.resolve(here, '..', '..');
export const B = process.env.B ?? 'build';
export const buildDir = path.resolve(repo, B);
export const webDir = path.join(buildDir, 'web');

/** The shared-memory layouts (runtime/engine/layout.def) as the generated
 *  layout.ts has them (ENGINE_STATE.now, AMP_STATE.engine,
 *  ENGINE_STATE_BYTES, ...), from its JSON copy (runtime/gen/gen.mk). */
export function sharedLayout() {
  const file = path.join(buildDir, 'gen', 'web', 'layout.json');
  if (!existsSync(file)) throw new Error(`${file} is missing: run make first`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

// playwright-core lives in the web app's node_modules.
const requireWeb = createRequire(path.join(repo, 'web', 'package.json'));
const { chromium } = requireWeb('playwright-core');

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  '--autoplay-policy=no-user-gesture-required',
];

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
}

/** Serve $(B)/web: with $(B)/ampd when it has been built (unless
 *  AMP_WEB_SERVER=static), else with serve.mjs. Resolves to { url, by,
 *  close() }. */
export async function serveApp() {
  const ampd = path.join(buildDir, 'ampd');
  if (!existsSync(ampd) || process.env.AMP_WEB_SERVER === 'static') {
    const s = await startStaticServer(webDir);
    return { ...s, by: 'tests/web/serve.mjs' };
  }
  return startAmpd([]);
}

/** $(B)/ampd serving $(B)/web on a free loopback port, with `extra`
 *  options (e.g. --data DIR). Resolves to { url, by, close() }. */
export async function startAmpd(extra) {
  const ampd = path.join(buildDir, 'ampd');
  const child = spawn(ampd, ['--host', '127.0.0.1', '--port', '0', '--root', webDir, ...extra],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ampd printed no address in 10 s: ${output}`)), 10000);
    const look = (chunk) => {
      output += chunk;
      const m = output.match(/http:\/\/[^\s]+\//);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', (c) => { output += c; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`ampd exited (${code}): ${output}`)); });
  });
  child.removeAllListeners('exit');
  return {
    url,
    by: `${B}/ampd`,
    close: () => new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    }),
  };
}

/** A scratch folder inside the build folder (so that the projects the
 *  tests write name the patches of nodes/ by relative paths). */
export async function tempDir() {
  return mkdtemp(path.join(buildDir, 'web-test-'));
}

export async function removeDir(dir) {
  await rm(dir, { recursive: true, force: true });
}

const execFileAsync = promisify(execFile);

/** `amp render` with `args`; resolves to the WAV it wrote, parsed. */
export async function nativeRender(args, out, cacheDir) {
  const amp = path.join(buildDir, 'amp');
  await execFileAsync(amp, ['render', ...args, '--format', 'f32', '-o', out],
                      { cwd: repo, env: { ...process.env, AMP_CACHE: cacheDir } });
  return readWav(await readFile(out));
}

/** Frames per beat in the projects the tests write: the smallest power of
 *  two that keeps the tempo (60 * rate / frames per beat) at most 1000 bpm,
 *  so that every frame is an exact binary fraction of a beat and the
 *  engine's beat of sample s, s * bpm / (60 * rate), is exactly s / that:
 *  a note at frame f, at beat f / framesPerBeat, starts at f. The same rule
 *  as web/src/engine/performance.ts. */
export function framesPerBeat(rate) {
  let n = 1;
  while ((60 * rate) / n > 1000) n *= 2;
  return n;
}

/** `repoPath` (relative to the repository) as seen from folder `dir`. */
export function relativeTo(dir, repoPath) {
  return path.relative(dir, path.join(repo, repoPath));
}

/** Write project `doc` to DIR/NAME.json and render it with `amp render`
 *  for exactly `frames` frames at `rate`; resolves to the WAV, parsed. */
export async function renderProject(doc, dir, name, frames, rate, cacheDir) {
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(doc, null, 2));
  return nativeRender([file, '--seconds', String(frames / rate), '--rate', String(rate)],
                      path.join(dir, `${name}.wav`), cacheDir);
}

/** A RIFF WAV of 32-bit floats (format 3, or extensible with a float
 *  subformat) -> { rate, channels: Float32Array[] }. */
export function readWav(buf) {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error('not a WAV file');
  let fmt = null, data = null;
  for (let o = 12; o + 8 <= buf.length;) {
    const id = buf.toString('ascii', o, o + 4), size = buf.readUInt32LE(o + 4);
    if (id === 'fmt ') fmt = { tag: buf.readUInt16LE(o + 8), channels: buf.readUInt16LE(o + 10),
                               rate: buf.readUInt32LE(o + 12), bits: buf.readUInt16LE(o + 22) };
    if (id === 'data') data = buf.subarray(o + 8, o + 8 + size);
    o += 8 + size + (size & 1);
  }
  if (!fmt || !data) throw new Error('WAV without fmt or data');
  if (fmt.bits !== 32 || (fmt.tag !== 3 && fmt.tag !== 0xfffe)) throw new Error(`not a float WAV: ${JSON.stringify(fmt)}`);
  const frames = data.length / 4 / fmt.channels;
  const interleaved = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
  const channels = [];
  for (let c = 0; c < fmt.channels; c++) {
    const ch = new Float32Array(frames);
    for (let i = 0; i < frames; i++) ch[i] = interleaved[i * fmt.channels + c];
    channels.push(ch);
  }
  return { rate: fmt.rate, channels };
}

/** Write Float32Array channels as a float WAV. */
export async function writeWav(file, channels, rate) {
  const n = channels.length, frames = channels[0].length;
  const buf = Buffer.alloc(44 + frames * n * 4);
  buf.write('RIFF', 0, 'ascii'); buf.writeUInt32LE(36 + frames * n * 4, 4);
  buf.write('WAVE', 8, 'ascii'); buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16); buf.writeUInt16LE(3, 20); buf.writeUInt16LE(n, 22);
  buf.writeUInt32LE(rate, 24); buf.writeUInt32LE(rate * n * 4, 28);
  buf.writeUInt16LE(n * 4, 32); buf.writeUInt16LE(32, 34);
  buf.write('data', 36, 'ascii'); buf.writeUInt32LE(frames * n * 4, 40);
  for (let i = 0; i < frames; i++)
    for (let c = 0; c < n; c++) buf.writeFloatLE(channels[c][i], 44 + (i * n + c) * 4);
  await writeFile(file, buf);
}

/** Compare two sets of channels bit for bit: { identical, differing,
 *  maxDifference, first: { channel, frame } | null, frames }. */
export function compareBits(a, b) {
  const result = { identical: true, differing: 0, maxDifference: 0, first: null,
                   frames: [a[0]?.length ?? 0, b[0]?.length ?? 0] };
  if (a.length !== b.length || result.frames[0] !== result.frames[1]) {
    result.identical = false;
    result.shape = `channels ${a.length} vs ${b.length}, frames ${result.frames[0]} vs ${result.frames[1]}`;
    return result;
  }
  for (let c = 0; c < a.length; c++) {
    const x = new Uint32Array(a[c].buffer, a[c].byteOffset, a[c].length);
    const y = new Uint32Array(b[c].buffer, b[c].byteOffset, b[c].length);
    for (let i = 0; i < x.length; i++) {
      if (x[i] === y[i]) continue;
      result.identical = false;
      result.differing++;
      if (!result.first) result.first = { channel: c, frame: i };
      const d = Math.abs(a[c][i] - b[c][i]);
      if (!(d <= result.maxDifference)) result.maxDifference = d;
    }
  }
  return result;
}

export function describeDifference(r) {
  if (r.identical) return 'bit-identical';
  if (r.shape) return r.shape;
  return `${r.differing} samples differ, max |difference| ${r.maxDifference.toExponential(3)}, ` +
    `first at channel ${r.first.channel} frame ${r.first.frame}`;
}

/** Float32Array <-> base64, to move audio out of the page exactly. */
export function fromBase64(text) {
  const b = Buffer.from(text, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

/** The fixed input an effect gets, identical on both sides: a 220 Hz tone
 *  in bursts on the left, decaying pseudo-random noise on the right. */
export function testInput(frames, rate) {
  const left = new Float32Array(frames), right = new Float32Array(frames);
  let seed = 12345;
  for (let i = 0; i < frames; i++) {
    const t = i / rate;
    const burst = (t % 0.3) < 0.1 ? 1 : 0;
    left[i] = Math.fround(0.5 * burst * Math.sin(2 * Math.PI * 220 * t));
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    right[i] = Math.fround(0.3 * Math.exp(-3 * (t % 0.4)) * ((seed >>> 8) / 8388608 - 1));
  }
  return [left, right];
}

export class Failure extends Error {}

export function check(condition, message) {
  if (!condition) throw new Failure(message);
}

/** Poll fn() in the page until it returns a truthy value, or fail with
 *  `what` and the last value. */
export async function waitFor(page, fn, arg, what, timeout = 5000) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout, polling: 50 });
    return await handle.jsonValue();
  } catch {
    throw new Failure(`timed out after ${timeout} ms waiting for ${what}`);
  }
}

/** Wait until the DAW has loaded the engine and rendered (main.tsx sets
 *  body[data-ready]). */
export async function pageReady(page) {
  await waitFor(page, () => document.body.dataset.ready === '1', null, 'the DAW to load', 10000);
}

/** Click "+ Instrument", pick `unit` in the new track's instrument list
 *  and start audio; resolves to the new track's document id. */
export async function instrumentTrack(page, unit) {
  const before = await page.evaluate(() => globalThis.amp.daw.store.doc.tracks.length);
  await page.click('[data-testid="add-instrument"]');
  const id = await page.evaluate((n) => globalThis.amp.daw.store.doc.tracks[n]?.id, before);
  check(id !== undefined, 'no track was added');
  await page.selectOption(`.track-header[data-track="${id}"] select.instrument`, unit);
  return id;
}

/** Press Start audio and wait for the engine. */
export async function startAudio(page) {
  if (await page.locator('#start').count()) await page.click('#start');
  await waitFor(page, () => document.body.dataset.engine === 'running', null, 'the engine to start');
}

/** Record `frames` of an engine node's output (channel 0) through a
 *  ScriptProcessor: `player` names the page's player, 'daw'
 *  (amp.daw.audio) or 'editor' (ampEditor.player). */
export function recordOutput(page, player, frames) {
  return page.evaluate(([which, n]) => new Promise((resolve) => {
    const p = which === 'daw' ? globalThis.amp.daw.audio : globalThis.ampEditor.player;
    const sp = p.context.createScriptProcessor(4096, 2, 2);
    const out = new Float32Array(n + 4096);
    let got = 0;
    sp.onaudioprocess = (e) => {
      if (got >= n) return;
      out.set(e.inputBuffer.getChannelData(0), got);
      got += e.inputBuffer.length;
      if (got >= n) {
        p.client.node.disconnect(sp);
        sp.disconnect();
        resolve(Array.from(out.subarray(0, n)));
      }
    };
    p.client.node.connect(sp);
    sp.connect(p.context.destination);
  }), [player, frames]);
}
