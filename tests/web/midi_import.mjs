// midi_import.mjs — the export worker imports a Standard MIDI File with
// engine.wasm's amp_midi_import (the C of `amp import`), and the document
// is the bytes `amp import --builtin` writes for the same file.
//
// The files are written here (a small SMF writer below):
// - song.mid: format 1 at 480 ticks, a tempo change, 3/4 then 7/8 on a
//   bar line, a 5/8 off the bar lines, a melodic track, a track mixing
//   channel 10 with another, a Latin-1 track name, a zero-length note, a
//   note without its note-off and a stray note-off (warnings);
// - smpte.mid: SMPTE division (25 fps, 40 ticks a frame), format 0;
// for each, with the default patches and with {"builtin": "epiano.amp",
// "unit": "epiano"} / {"builtin": "drums.amp"}, in version 2 (the
// worker's default) and 1: the worker's JSON equals `amp import NAME
// --builtin --project-version V [--patch ...] [--drums ...]` byte for byte
// and its warnings are amp's "amp: warning: " lines;
// - a truncated file, a tempo of 1500 bpm and a bad built-in id: the
//   worker's message is amp import's ("amp: " removed);
// - the imported song renders in the worker (render-project) to the bytes
//   `amp render` writes for the same document.

import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildDir, check, repo } from './lib.mjs';

const execFileAsync = promisify(execFile);

// ---- a small SMF writer ------------------------------------------------------

function vlq(n) {
  const out = [n & 0x7f];
  for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) out.unshift(0x80 | (n & 0x7f));
  return out;
}

/** A track chunk from [tick, ...bytes] events (sorted here, stable). */
function track(events, { endOfTrack = true } = {}) {
  const sorted = events.map((e, i) => [e, i]).sort((a, b) => a[0][0] - b[0][0] || a[1] - b[1]).map(([e]) => e);
  const data = [];
  let last = 0;
  for (const [tick, ...bytes] of sorted) {
    data.push(...vlq(tick - last), ...bytes);
    last = tick;
  }
  if (endOfTrack) data.push(0, 0xff, 0x2f, 0);
  return [0x4d, 0x54, 0x72, 0x6b, (data.length >>> 24) & 0xff, (data.length >>> 16) & 0xff,
          (data.length >>> 8) & 0xff, data.length & 0xff, ...data];
}

function smf(format, division, tracks) {
  return Buffer.from([0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, format, 0, tracks.length,
                      (division >> 8) & 0xff, division & 0xff, ...tracks.flat()]);
}

const meta = (tick, type, bytes) => [tick, 0xff, type, ...vlq(bytes.length), ...bytes];
const tempo = (tick, us) => meta(tick, 0x51, [(us >> 16) & 0xff, (us >> 8) & 0xff, us & 0xff]);
const signature = (tick, num, denPower) => meta(tick, 0x58, [num, denPower, 24, 8]);
const trackName = (tick, bytes) => meta(tick, 0x03, bytes);
const note = (channel, key, velocity, on, off) => [[on, 0x90 | channel, key, velocity], [off, 0x80 | channel, key, 0]];

function songFile() {
  const conductor = [tempo(0, 500000), signature(0, 3, 2), tempo(1920, 400000), signature(2880, 7, 3),
                     signature(4000, 5, 3)];
  const keys = [trackName(0, [...Buffer.from('Keys')]), ...note(0, 60, 100, 0, 240), ...note(0, 64, 90, 960, 1200),
                ...note(0, 67, 127, 2400, 2400), ...note(0, 72, 32, 3360, 3600), [3700, 0x90, 76, 50]];
  const mixed = [trackName(0, [0x43, 0x61, 0x66, 0xe9]), ...note(1, 48, 100, 1440, 1680),
                 ...note(9, 36, 127, 480, 540), ...note(9, 42, 80, 3120, 3180), [3200, 0x89, 40, 0]];
  return smf(1, 480, [track(conductor), track(keys), track(mixed)]);
}

function smpteFile() {
  const events = [tempo(0, 600000), ...note(0, 60, 100, 0, 40), ...note(9, 36, 100, 20, 45), ...note(0, 62, 80, 100, 400)];
  return smf(0, ((256 - 25) << 8) | 40, [track(events)]);
}

// ---- native and worker ---------------------------------------------------------

/** `amp import` in `dir`: { json, stderr } or { error: stderr }. */
async function ampImport(dir, name, args) {
  const amp = path.join(buildDir, 'amp');
  const out = name.replace(/\.mid$/, '.json');
  try {
    const { stderr } = await execFileAsync(amp, ['import', name, '--builtin', ...args, '-o', out], { cwd: dir });
    return { json: await readFile(path.join(dir, out), 'utf8'), stderr };
  } catch (e) {
    return { error: e.stderr ?? String(e) };
  }
}

/** Runs in the page: a worker from export-worker.js handles `request`. */
async function inWorker(page, request) {
  return page.evaluate(async ({ req, bytes }) => {
    const worker = new Worker('export-worker.js', { type: 'module' });
    const buffer = bytes ? Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0)).buffer : undefined;
    const reply = await new Promise((resolve) => {
      worker.onmessage = (e) => { if (e.data.type !== 'progress') resolve(e.data); };
      worker.onerror = (e) => resolve({ type: 'error', message: e.message || 'worker error' });
      worker.postMessage(buffer ? { ...req, bytes: buffer } : req, buffer ? [buffer] : []);
    });
    worker.terminate();
    if (reply.mix) {
      const b = new Uint8Array(reply.mix);
      let s = '';
      for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
      return { type: reply.type, mix: btoa(s) };
    }
    return reply;
  }, { req: request.bytes ? { ...request, bytes: undefined } : request,
       bytes: request.bytes ? Buffer.from(request.bytes).toString('base64') : null });
}

const prefixed = (stderr, prefix) => stderr.split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));

export async function run(t) {
  const dir = path.join(t.tmp, 'midi-import');
  await mkdir(dir, { recursive: true });
  const files = { 'song.mid': songFile(), 'smpte.mid': smpteFile() };
  for (const [name, bytes] of Object.entries(files)) await writeFile(path.join(dir, name), bytes);
  const page = await t.newPage();

  const variants = [
    { label: 'defaults, version 2', args: ['--project-version', '2'], request: {} },
    { label: 'epiano + drums, version 2', args: ['--project-version', '2', '--patch', 'epiano.amp:epiano', '--drums', 'drums.amp'],
      request: { patch: { builtin: 'epiano.amp', unit: 'epiano' }, drums: { builtin: 'drums.amp' } } },
    { label: 'defaults, version 1', args: ['--project-version', '1'], request: { version: 1 } },
  ];
  let songJson = null;
  for (const [name, bytes] of Object.entries(files)) {
    for (const v of variants) {
      const native = await ampImport(dir, name, v.args);
      check(!native.error, `amp import ${name} ${v.args.join(' ')}: ${native.error}`);
      const got = await inWorker(page, { type: 'import-midi', bytes, name, ...v.request });
      check(got.type === 'midi-imported', `${name} (${v.label}): the worker said ${JSON.stringify(got)}`);
      check(got.json === native.json, `${name} (${v.label}): the worker's document differs from amp import's` +
            `\n--- worker\n${got.json.slice(0, 600)}\n--- amp import\n${native.json.slice(0, 600)}`);
      const warnings = prefixed(native.stderr, 'amp: warning: ');
      check(JSON.stringify(got.warnings) === JSON.stringify(warnings),
            `${name} (${v.label}): warnings ${JSON.stringify(got.warnings)}, amp import ${JSON.stringify(warnings)}`);
      t.log(`${name} (${v.label}): ${got.json.length} bytes, byte-identical to amp import --builtin ${v.args.join(' ')}; ` +
            `${got.warnings.length} warning${got.warnings.length === 1 ? '' : 's'}`);
      if (name === 'song.mid' && v.request.patch) songJson = got.json;
    }
  }
  const song = JSON.parse(songJson);
  check(song.version === 2 && song.time_signature_changes?.length === 1 && song.tracks.length === 3 &&
        song.tracks[1].name === 'Café' && song.tracks[2].name === 'Café (drums)',
        `the song's document: ${songJson.slice(0, 400)}`);
  const songWarnings = prefixed((await ampImport(dir, 'song.mid', ['--project-version', '2'])).stderr, 'amp: warning: ');
  check(songWarnings.length === 3, `song.mid: want 3 warnings (unterminated, stray note-off, 5/8), got ${songWarnings}`);

  // Refused: the same message as amp import.
  const bad = {
    'cut.mid': files['song.mid'].subarray(0, 40),
    'fast.mid': smf(0, 960, [track([tempo(0, 500000), tempo(960, 40000), ...note(0, 60, 100, 0, 10)])]),
    'noise.mid': Buffer.from('RIFF....WAVEfmt '),
  };
  const refusals = [...Object.entries(bad).map(([name, bytes]) => ({ name, bytes, args: [], request: {} })),
                    { name: 'song.mid', bytes: files['song.mid'], args: ['--patch', '../pad.amp'],
                      request: { patch: { builtin: '../pad.amp' } } }];
  for (const r of refusals) {
    await writeFile(path.join(dir, r.name), r.bytes);
    const native = await ampImport(dir, r.name, r.args);
    check(native.error, `amp import ${r.name} ${r.args.join(' ')} was not refused`);
    const want = prefixed(native.error, 'amp: ').join('\n');
    const got = await inWorker(page, { type: 'import-midi', bytes: r.bytes, name: r.name, ...r.request });
    check(got.type === 'error' && got.midi === true && got.message === want,
          `${r.name}: the worker said ${JSON.stringify(got)}, amp import "${want}"`);
    t.log(`${r.name} ${r.args.join(' ')}: refused as amp import refuses it: "${want}"`);
  }

  // The worker's document renders in the worker as with amp render.
  const songFileJson = path.join(dir, 'song-worker.json');
  await writeFile(songFileJson, songJson);
  const wav = path.join(dir, 'song.wav');
  await execFileAsync(path.join(buildDir, 'amp'), ['render', songFileJson, '--format', 'f32', '--seconds', '3', '-o', wav],
                      { cwd: repo, env: { ...process.env, AMP_CACHE: t.cacheDir } });
  const native = await readFile(wav);
  const rendered = await inWorker(page, { type: 'render-project', json: songJson, assets: {}, format: 'f32', seconds: 3 });
  check(rendered.type === 'project-done', `render-project: ${JSON.stringify(rendered)}`);
  const mix = Buffer.from(rendered.mix, 'base64');
  check(mix.equals(native), `the imported song's render differs from amp render's (${mix.length} / ${native.length} bytes)`);
  t.log(`the imported song (epiano, drums) renders in the worker to amp render's bytes (${mix.length} bytes, 3 s)`);
}
