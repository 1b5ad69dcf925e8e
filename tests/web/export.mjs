// export.mjs — record on the DAW from the computer keyboard, export the
// song from the File menu, and compare every file with `amp render` of the
// document the page would save (written to a folder, `amp render
// PROJECT.json --library nodes`): the mix as 32-bit float, 24-bit and
// 16-bit dithered WAV byte for byte, and the stems zip's files with those
// of `amp render --stems`. The export is also faster than real time.

import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildDir, check, instrumentTrack, pageReady, readWav, repo, startAudio, waitFor } from './lib.mjs';

/** `amp render` of a page's document (JSON text) in `dir`, with `args`;
 *  resolves to the output's bytes (and the stems folder's files, by name). */
export async function ampRenderDoc(json, dir, name, args, cacheDir) {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, json);
  const out = path.join(dir, `${name}.wav`);
  await promisify(execFile)(path.join(buildDir, 'amp'),
                            ['render', file, '--library', path.join(repo, 'nodes'), ...args, '-o', out],
                            { cwd: repo, env: { ...process.env, AMP_CACHE: cacheDir } });
  return readFile(out);
}

/** The first differing byte of two buffers, described. */
export function firstDifference(a, b) {
  if (a.length !== b.length) return `${a.length} bytes vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `byte ${i}: ${a[i]} vs ${b[i]}`;
  return 'identical';
}

/** The files of a zip without compression: [{name, data}]. */
export function readZip(buf) {
  const out = [];
  let at = 0;
  while (buf.readUInt32LE(at) === 0x04034b50) {
    check(buf.readUInt16LE(at + 8) === 0, 'the zip holds a compressed file');
    const size = buf.readUInt32LE(at + 18), nameLen = buf.readUInt16LE(at + 26), extra = buf.readUInt16LE(at + 28);
    const name = buf.subarray(at + 30, at + 30 + nameLen).toString('utf8');
    out.push({ name, data: buf.subarray(at + 30 + nameLen + extra, at + 30 + nameLen + extra + size) });
    at += 30 + nameLen + extra + size;
  }
  return out;
}

/** File > Export > `id`: the downloaded bytes and the status line. */
export async function exportFromMenu(page, id, file) {
  await page.click('[data-testid="file-menu"]');
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click(`[data-testid="${id}"]`)]);
  await dl.saveAs(file);
  return { bytes: await readFile(file), name: dl.suggestedFilename(), status: (await page.textContent('#status')) ?? '' };
}

export async function run(t) {
  const page = await t.newPage();
  await pageReady(page);
  const track = await instrumentTrack(page, 'pad');
  // A param off its default (set in the document): the export carries it.
  await page.evaluate((id) => {
    const daw = globalThis.amp.daw;
    daw.store.transact('res', (d) => ({ ...d, tracks: d.tracks.map((x) => (x.id === id ? { ...x, params: { res: 0.55 } } : x)) }));
  }, track);
  // A second track, drawn in the document, so the stems are two.
  await instrumentTrack(page, 'ladder_bass');
  await page.evaluate(() => {
    const daw = globalThis.amp.daw;
    const id = daw.store.doc.tracks[1].id;
    daw.store.transact('bass', (d) => ({ ...d, tracks: d.tracks.map((x) => (x.id === id ? { ...x, clips: [{
      start_beat: 0, length_beats: 4, notes: [{ key: 36, start_beat: 0, length_beats: 1 }, { key: 43, start_beat: 2, length_beats: 1 }],
      ui: { id: 'bass-1' } }] } : x)) }));
  });
  await page.click(`.track-header[data-track="${track}"]`);
  // A fast tempo keeps the one-bar count-in short.
  await page.fill('[data-testid="tempo"]', '240');
  await page.press('[data-testid="tempo"]', 'Enter');
  await startAudio(page);
  await page.click('[data-testid="keys"]');

  await page.click('[data-testid="record"]');
  await waitFor(page, () => globalThis.amp.daw.ui.get().recording === 'on', null, 'the count-in to end', 4000);
  await waitFor(page, () => globalThis.amp.daw.audio.playing(), null, 'the transport to run');
  await page.keyboard.down('a');
  await page.waitForTimeout(200);
  await page.keyboard.down('d');
  await page.waitForTimeout(150);
  await page.keyboard.up('a');
  await page.keyboard.down('g');
  await page.waitForTimeout(300);
  await page.keyboard.up('d');
  await page.keyboard.up('g');
  await page.click('[data-testid="record"]');
  const take = await page.evaluate((id) => {
    const doc = globalThis.amp.daw.store.doc;
    const clip = doc.tracks.find((x) => x.id === id).clips[0];
    return clip && { notes: clip.notes.map((n) => n.key), start: clip.start_beat, length: clip.length_beats };
  }, track);
  check(take && take.notes.join(' ') === '60 64 67', `the recorded clip holds ${JSON.stringify(take)}, expected keys 60 64 67 (A D G)`);
  t.log(`recorded from the keyboard after a one-bar count-in: a clip at beat ${take.start}, ${take.length} beats, keys ${take.notes.join(' ')}`);

  const json = await page.evaluate(() => JSON.stringify(globalThis.amp.daw.store.doc));
  const dir = path.join(t.tmp, 'export');
  for (const [id, format, args] of [['export-f32', 'f32', []], ['export-s24', 's24', []], ['export-s16', 's16', ['--dither']]]) {
    const got = await exportFromMenu(page, id, path.join(t.tmp, `export-${format}.wav`));
    const native = await ampRenderDoc(json, dir, `song-${format}`, ['--format', format, ...args], t.cacheDir);
    check(got.bytes.equals(native), `${format}: the export differs from amp render's (${firstDifference(got.bytes, native)})`);
    t.log(`${got.name} (${format}): ${got.bytes.length} bytes, byte-identical to amp render --library nodes --format ${format} ${args.join(' ')}`);
    if (format === 'f32') {
      const speed = got.status.match(/rendered ([\d.]+) s in (\d+) ms/);
      check(speed && Number(speed[2]) < Number(speed[1]) * 1000, `not faster than real time: ${got.status}`);
      const w = readWav(got.bytes);
      let peak = 0;
      for (const ch of w.channels) for (const x of ch) peak = Math.max(peak, Math.abs(x));
      check(peak > 0.01, `the export is silent (peak ${peak})`);
      t.log(`status: ${got.status}`);
    }
  }

  // Stems: one zip with the mix and one WAV per instrument track, the bytes of amp render --stems.
  const zip = await exportFromMenu(page, 'export-stems', path.join(t.tmp, 'export-stems.zip'));
  const files = readZip(zip.bytes);
  const stemsDir = path.join(dir, 'stems');
  await mkdir(stemsDir, { recursive: true });
  const nativeMix = await ampRenderDoc(json, dir, 'song-stems', ['--format', 'f32', '--stems', stemsDir], t.cacheDir);
  const nativeStems = (await readdir(stemsDir)).sort();
  check(files.length === 1 + nativeStems.length && nativeStems.length === 2,
        `the stems zip holds ${files.map((f) => f.name).join(', ')}; amp render --stems wrote ${nativeStems.join(', ')}`);
  check(files[0].data.equals(nativeMix), `the zip's mix differs from amp render's (${firstDifference(files[0].data, nativeMix)})`);
  for (let i = 0; i < nativeStems.length; i++) {
    const n = await readFile(path.join(stemsDir, nativeStems[i]));
    check(files[i + 1].data.equals(n), `stem ${files[i + 1].name} differs from amp render's ${nativeStems[i]} (${firstDifference(files[i + 1].data, n)})`);
  }
  t.log(`${zip.name}: ${files.map((f) => f.name).join(', ')}: byte-identical to amp render --stems (${nativeStems.join(', ')})`);
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
