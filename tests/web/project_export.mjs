// project_export.mjs — the export worker renders a project document with
// the C of `amp render` (engine.wasm's amp_project_*), and its WAV files
// are the bytes `amp render` writes for the same document.
//
// - tests/projects/demo.json with every patch a built-in one ({"builtin":
//   "pad.amp", ...}) and its audio handed in as bytes (one region by file
//   name, the others by asset hash): the mix in f32, s24 and s16 (TPDF
//   dither; natively --format s16 --dither) and the stems (f32; natively
//   --stems) equal the native files byte for byte;
// - a refused document gives the worker the message `amp render` prints;
// - a generated 64-track, 2,000-clip project renders in the worker, again
//   byte for byte, and the page's engine sized for it by limitsFor fits in
//   memoryPagesFor(limits) pages without growing.

import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildDir, check, repo } from './lib.mjs';

const execFileAsync = promisify(execFile);

/** The demo with built-in patches: "../../nodes/pad.amp" -> {"builtin":
 *  "pad.amp"}; its regions name hats.wav by file (the first) or by asset. */
function demoWithBuiltins(demo, hash) {
  const builtin = (p) => (typeof p === 'string' ? { builtin: path.basename(p) }
    : { builtin: path.basename(p.file), ...(p.unit ? { unit: p.unit } : {}) });
  const doc = structuredClone(demo);
  for (const t of doc.tracks) {
    if (t.patch) t.patch = builtin(t.patch);
    for (const i of t.inserts ?? []) i.patch = builtin(i.patch);
    (t.regions ?? []).forEach((r, k) => {
      delete r.file;
      if (k === 0) r.file = 'hats.wav';
      else r.asset = hash;
    });
  }
  return doc;
}

/** 61 instrument tracks (drums, epiano, ladder_bass) holding 2,000 clips
 *  of one note, two audio tracks of hats.wav, a bus with a delay. */
export function bigProject() {
  const instruments = [['drums.amp', 36], ['epiano.amp', 60], ['ladder_bass.amp', 40]];
  const tracks = [];
  const nInstrument = 61, clipsTotal = 2000;
  for (let t = 0; t < nInstrument; t++) {
    const [patch, key] = instruments[t % instruments.length];
    const n = Math.floor(clipsTotal / nInstrument) + (t < clipsTotal % nInstrument ? 1 : 0);
    const clips = [];
    for (let c = 0; c < n; c++)
      clips.push({ start_beat: c * 0.5, length_beats: 0.5,
                   notes: [{ key: key + ((t * 7 + c * 5) % 12), start_beat: 0, length_beats: 0.25, velocity: 0.5 }] });
    tracks.push({ id: t + 1, name: `T${t + 1}`, kind: 'instrument', patch: { builtin: patch },
                  fader: { gain_db: -18, pan: ((t % 9) - 4) / 4 },
                  sends: t % 4 === 0 ? [{ bus: 100, level_db: -12 }] : [], clips });
  }
  tracks.push({ id: 90, name: 'Hats A', kind: 'audio',
                regions: [0, 4, 8, 12].map((b) => ({ file: 'hats.wav', start_beat: b })) });
  tracks.push({ id: 91, name: 'Hats B', kind: 'audio',
                regions: [2, 6, 10, 14].map((b) => ({ file: 'hats.wav', start_beat: b, gain_db: -6 })) });
  tracks.push({ id: 100, name: 'Echo', kind: 'bus',
                inserts: [{ patch: { builtin: 'stereo_delay.amp' }, params: { mix: 0.5 } }] });
  return { version: 1, sample_rate: 48000, tempo: 120, length_beats: 17, tail_seconds: 1, tracks };
}

/** `amp render FILE ARGS -o OUT` from the repository's top (so ./nodes is
 *  the built-in library); resolves to its stderr, or rejects with it. */
async function ampRender(file, args, out, cacheDir) {
  const amp = path.join(buildDir, 'amp');
  try {
    const { stderr } = await execFileAsync(amp, ['render', file, ...args, '-o', out],
                                           { cwd: repo, env: { ...process.env, AMP_CACHE: cacheDir } });
    return stderr;
  } catch (e) {
    const err = new Error(e.stderr || String(e));
    err.stderr = e.stderr ?? '';
    throw err;
  }
}

/** Runs in the page: a worker from export-worker.js renders `request`;
 *  the WAV files come back in base64. */
async function renderInWorker(page, request) {
  return page.evaluate(async (req) => {
    const toBuffer = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
    const toBase64 = (buf) => {
      const bytes = new Uint8Array(buf);
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    };
    const worker = new Worker('export-worker.js', { type: 'module' });
    const assets = Object.fromEntries(Object.entries(req.assets).map(([k, v]) => [k, toBuffer(v)]));
    const t0 = performance.now();
    let progress = 0;
    const reply = await new Promise((resolve) => {
      worker.onmessage = (e) => {
        if (e.data.type === 'progress') { progress++; return; }
        resolve(e.data);
      };
      worker.onerror = (e) => resolve({ type: 'error', message: e.message || 'worker error' });
      worker.postMessage({ ...req, type: 'render-project', assets });
    });
    worker.terminate();
    if (reply.type !== 'project-done') return { error: reply.message, project: reply.project };
    return { mix: toBase64(reply.mix), stems: reply.stems.map((s) => ({ ...s, wav: toBase64(s.wav) })),
             rate: reply.rate, frames: reply.frames, elapsedMs: reply.elapsedMs, wallMs: performance.now() - t0,
             progress };
  }, request);
}

/** Runs in the page: the worker sizes the page's engine for `request`
 *  ({ project, samples } or { limits }) and starts one in that memory. */
async function measureLimits(page, request) {
  return page.evaluate(async (req) => {
    const worker = new Worker('export-worker.js', { type: 'module' });
    const reply = await new Promise((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => resolve({ type: 'error', message: e.message || 'worker error' });
      worker.postMessage({ type: 'measure-limits', sampleRate: 48000, ...req });
    });
    worker.terminate();
    return reply;
  }, request);
}

function sameBytes(a, b) {
  return a.length === b.length && a.equals(b);
}

function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `byte ${i} of ${a.length} / ${b.length}`;
  return `lengths ${a.length} / ${b.length}`;
}

export async function run(t) {
  const dir = path.join(t.tmp, 'project-export');
  await mkdir(dir, { recursive: true });
  const hats = await readFile(path.join(repo, 'tests/projects/hats.wav'));
  const hash = createHash('sha256').update(hats).digest('hex');
  await copyFile(path.join(repo, 'tests/projects/hats.wav'), path.join(dir, 'hats.wav'));
  await mkdir(path.join(dir, 'assets', hash.slice(0, 2)), { recursive: true });
  await writeFile(path.join(dir, 'assets', hash.slice(0, 2), hash), hats);
  const assets = { 'hats.wav': hats.toString('base64'), [hash]: hats.toString('base64') };

  const demo = JSON.parse(await readFile(path.join(repo, 'tests/projects/demo.json'), 'utf8'));
  const doc = demoWithBuiltins(demo, hash);
  const json = JSON.stringify(doc, null, 2);
  const file = path.join(dir, 'demo-builtin.json');
  await writeFile(file, json);

  const page = await t.newPage();
  const formats = [['f32', ['--format', 'f32']], ['s24', ['--format', 's24']], ['s16', ['--format', 's16', '--dither']]];
  for (const [format, args] of formats) {
    const stems = format === 'f32';
    const stemDir = path.join(dir, `stems-${format}`);
    const out = path.join(dir, `native-${format}.wav`);
    await ampRender(file, [...args, ...(stems ? ['--stems', stemDir] : [])], out, t.cacheDir);
    const native = await readFile(out);
    const got = await renderInWorker(page, { json, assets, format, stems });
    check(!got.error, `the worker refused the demo: ${got.error}`);
    const mix = Buffer.from(got.mix, 'base64');
    check(sameBytes(mix, native), `${format}: the worker's WAV differs from amp render's (${firstDifference(mix, native)})`);
    t.log(`demo ${format}: ${mix.length} bytes, byte-identical to amp render ${args.join(' ')} ` +
          `(worker ${got.elapsedMs.toFixed(0)} ms for ${(got.frames / got.rate).toFixed(2)} s` +
          `${stems ? `, mix and ${got.stems.length} stems` : ''}, ${got.progress} progress reports)`);
    if (stems) {
      const files = (await readdir(stemDir)).sort();
      check(got.stems.length === 5 && files.length === 5,
            `stems: the worker made ${got.stems.length}, amp render ${files.length} (want 5: every track but the bus)`);
      for (const s of got.stems) {
        const want = await readFile(path.join(stemDir, `track-${s.id}.wav`));
        const have = Buffer.from(s.wav, 'base64');
        check(sameBytes(have, want), `the stem of track ${s.id} (${s.name}) differs (${firstDifference(have, want)})`);
      }
      t.log(`demo stems: ${got.stems.map((s) => s.name).join(', ')}: byte-identical to amp render --stems`);
    }
  }

  // Version 2: the tail rule (a pad's long release rendered until it falls
  // below -90 dBFS, not cut after a fixed tail), a looped clip, a
  // signature change and an exported metronome: the worker's length and
  // bytes are amp render's.
  const v2 = {
    version: 2, sample_rate: 48000, tempo: 132, time_signature: [4, 4],
    time_signature_changes: [{ beat: 4, num: 3, den: 4 }], length_beats: 10,
    metronome: { enabled: true, gain_db: -12, export: true },
    tail: { until_db: -90, max_seconds: 20 },
    tracks: [{ id: 1, name: 'Pad', kind: 'instrument', patch: { builtin: 'pad.amp' }, params: { release: 4 },
               clips: [{ start_beat: 0, length_beats: 8, loop_beats: 2,
                         notes: [{ key: 57, start_beat: 0, length_beats: 0.5 }, { key: 64, start_beat: 1, length_beats: 0.75 }] }] }],
  };
  const v2Json = JSON.stringify(v2);
  const v2File = path.join(dir, 'v2.json');
  await writeFile(v2File, v2Json);
  await ampRender(v2File, ['--format', 'f32'], path.join(dir, 'v2.wav'), t.cacheDir);
  const v2Native = await readFile(path.join(dir, 'v2.wav'));
  const v2Got = await renderInWorker(page, { json: v2Json, assets: {}, format: 'f32' });
  check(!v2Got.error, `the worker refused the version-2 project: ${v2Got.error}`);
  const v2Mix = Buffer.from(v2Got.mix, 'base64');
  const endSeconds = 10 * 60 / 132;
  check(v2Got.frames / v2Got.rate > endSeconds + 2.5,
        `version 2: the tail rule kept only ${(v2Got.frames / v2Got.rate - endSeconds).toFixed(2)} s after the end`);
  check(sameBytes(v2Mix, v2Native), `version 2: the worker's WAV differs from amp render's (${firstDifference(v2Mix, v2Native)})`);
  t.log(`version 2 (tail rule, looped clip, signature change, metronome): ${(v2Got.frames / v2Got.rate).toFixed(2)} s, ` +
        `${(v2Got.frames / v2Got.rate - endSeconds).toFixed(2)} s of tail, byte-identical to amp render`);

  // A refused document: the same message as amp render's.
  const bad = structuredClone(doc);
  bad.tracks[0].params.cutoff = 50000;
  const badFile = path.join(dir, 'bad.json');
  await writeFile(badFile, JSON.stringify(bad));
  let nativeMessage = '';
  try {
    await ampRender(badFile, [], path.join(dir, 'bad.wav'), t.cacheDir);
  } catch (e) {
    nativeMessage = e.stderr.trim().replace(/^amp: /, '');
  }
  const refused = await renderInWorker(page, { json: JSON.stringify(bad), assets, format: 'f32' });
  check(refused.error && refused.project, `the worker rendered a bad document: ${JSON.stringify(refused).slice(0, 200)}`);
  check(refused.error === nativeMessage, `the refusal differs:\n  worker: ${refused.error}\n  amp:    ${nativeMessage}`);
  t.log(`a bad document: "${refused.error}", as amp render says it`);
  const unknown = await renderInWorker(page, { json: json.replace('"epiano.amp"', '"piano.amp"'), assets, format: 'f32' });
  check(/^tracks\[1\]\.patch: built-in patch 'piano\.amp' is not built into this engine \(it has drive\.amp, drums\.amp, /
    .test(unknown.error ?? ''), `an unknown built-in patch: ${unknown.error}`);
  const noAudio = await renderInWorker(page, { json, assets: {}, format: 'f32' });
  check(noAudio.error === "tracks[4].regions[0].file: no audio was handed in for file 'hats.wav'",
        `a region without its bytes: ${noAudio.error}`);

  // 64 tracks, 2,000 clips.
  const big = bigProject();
  const bigJson = JSON.stringify(big);
  const bigFile = path.join(dir, 'big.json');
  await writeFile(bigFile, bigJson);
  const t0 = Date.now();
  await ampRender(bigFile, ['--format', 's24'], path.join(dir, 'big.wav'), t.cacheDir);
  const nativeMs = Date.now() - t0;
  const got = await renderInWorker(page, { json: bigJson, assets: { 'hats.wav': assets['hats.wav'] }, format: 's24' });
  check(!got.error, `the worker refused the 64-track project: ${got.error}`);
  const clips = big.tracks.reduce((n, tr) => n + (tr.clips?.length ?? 0), 0);
  check(big.tracks.length === 64 && clips === 2000, `the generated project has ${big.tracks.length} tracks, ${clips} clips`);
  const bigNative = await readFile(path.join(dir, 'big.wav'));
  const bigMix = Buffer.from(got.mix, 'base64');
  check(sameBytes(bigMix, bigNative), `64 tracks: the worker's WAV differs (${firstDifference(bigMix, bigNative)})`);
  t.log(`64 tracks, 2,000 clips, ${(got.frames / got.rate).toFixed(1)} s: the worker in ${got.elapsedMs.toFixed(0)} ms ` +
        `(amp render ${nativeMs} ms), byte-identical`);

  // The page's engine sized for it (limitsFor, memoryPagesFor,
  // amp_init_sized), for it and for an empty and a much larger song: the
  // memory holds the engine without growing, and not much more.
  const hatsFrames = { 'hats.wav': { channels: 2, frames: 47999 } };   // 0.5 s at 24 kHz, at 48 kHz
  const huge = { ...big, tracks: big.tracks.map((tr) => (tr.clips ? { ...tr, clips: [...tr.clips, ...tr.clips,
    ...tr.clips, ...tr.clips, ...tr.clips].map((c) => ({ ...c, notes: Array(8).fill(c.notes[0]) })) } : tr)) };
  for (const [name, project] of [['empty', { version: 1, tracks: [] }], ['64 tracks, 2,000 clips', big],
                                 ['64 tracks, 10,000 clips of 8 notes', huge]]) {
    const r = await measureLimits(page, { project, samples: hatsFrames });
    check(r.type === 'limits', `measure-limits (${name}): ${r.message}`);
    const l = r.limits;
    check(l.tracks === 64 && l.clips >= 2000 && l.placementsPerTrack >= 2048,
          `${name}: limits ${JSON.stringify(l)} are not a song's`);
    check(r.pagesAfter === r.pages, `${name}: the memory grew from ${r.pages} to ${r.pagesAfter} pages at init`);
    const spare = r.pages * 65536 - r.heapEnd;
    check(spare >= 0 && spare < (2 << 20) + 0.03 * r.heapEnd,
          `${name}: ${r.pages} pages for a heap ending at ${r.heapEnd}: ${spare} bytes spare`);
    t.log(`limits for ${name}: clips ${l.clips}, placements/track ${l.placementsPerTrack}, nodes ${l.nodes}, ` +
          `states ${(l.stateBytes / 2 ** 20).toFixed(1)} MiB, samples ${(l.sampleBytes / 2 ** 20).toFixed(1)} MiB: ` +
          `${r.pages} pages (${(r.pages / 16).toFixed(0)} MiB), ${(spare / 2 ** 20).toFixed(2)} MiB spare after ` +
          'amp_init_sized, no growth');
  }
  await page.close();
}
