// daw_samples.mjs — a sampler in the DAW: a sample slot bound to a WAV
// file by the page's file input, heard, undone, redone, saved, reloaded
// and exported, on its own ampd (--local, a temporary --data, --library
// nodes):
//
// 1. The document's "samples" checked as the native reader checks it:
//    doc/edits.ts samplesError (bundled for node) gives, for each of a
//    set of wrong documents, the message `amp render` prints for it, and
//    null for a right one (which amp render plays).
// 2. An instrument track with nodes/sampler.amp (its slot "p.wav" shown in
//    the Instrument tab and on the track header, empty); a held note is
//    silent. A generated WAV (a 440 Hz sine at 0.5, one second, mono) is
//    chosen with the slot's file input: it is uploaded (the document names
//    its SHA-256, computed here, and its file name), the slot shows the
//    name and length. A held C4 (the sampler's root) sounds at 440 Hz
//    within 1 cent and the level the sample, the velocity and the track's
//    gain give (0.5 * 0.9 * the pan law's centre, 1/sqrt(2)); C5 at 880 Hz.
// 3. Undo (the Undo button): the slot is empty and the note is silent
//    (every sample of the page's output 0); Redo: 440 Hz again.
// 4. A clip (C4 at beat 0, C5 at beat 2) is saved; the page reloaded opens
//    the project with the binding, and a held C4 sounds again. A second
//    WAV (330 Hz, stereo) dropped on the track header replaces the sample
//    (330 Hz heard); undone, 440 Hz again. File > Export (f32) is byte for byte `amp render` of the project's bundle
//    (GET /api/projects/{id}/bundle, the WAV under assets/), and its notes
//    measure 440 Hz and 880 Hz.
// 5. A file ampd takes but the engine cannot read: the slot says why
//    with the reader's words (as amp render prints them), the note is
//    silent; undone, 440 Hz.
// 6. ampd refuses to store a slot naming an asset the user has not
//    uploaded, a file path, or a slot the patch lacks (422, the reader's
//    path in the message).
// Screenshots of the bound slot (the Instrument tab and the track header)
// go to AMP_SCREENSHOTS, else the test's folder (logged).

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { bundleModules } from './doc.mjs';
import { exportFromMenu, firstDifference } from './export.mjs';
import { Failure, buildDir, check, instrumentTrack, pageReady, readWav, recordOutput, repo, startAmpd, startAudio, waitFor, writeWav } from './lib.mjs';

const execFileAsync = promisify(execFile);
const SLOT = 'p.wav';
const RATE = 48000;
const AMPLITUDE = 0.5;
const VELOCITY = 0.9;
/** The engine's pan law at the centre: a track at 0 dB, pan 0 (PROJECT.md). */
const CENTRE = Math.SQRT1_2;

/** How long an upload may take before the test gives up: a hang guard,
 *  not a timing assertion (an upload takes well under a second; ampd's
 *  streamed uploads no longer stall behind unread body bytes:
 *  tests/check_uploads.c). */
const UPLOAD_WAIT_MS = 20000;

const shots = (t, name) => path.join(process.env.AMP_SCREENSHOTS ?? t.tmp, name);
const doc = (page) => page.evaluate(() => globalThis.amp.daw.store.doc);
const cents = (f, ref) => 1200 * Math.log2(f / ref);

/** Frequency from upward zero crossings (interpolated): the median period
 *  and the mean over the longest run of periods within 5 cents of it (a
 *  real-time recording may drop or repeat a buffer on a loaded machine: a
 *  jump in phase, not a wrong pitch). */
function pitch(x, rate) {
  const crossings = [];
  for (let i = 1; i < x.length; i++)
    if (x[i - 1] < 0 && x[i] >= 0) crossings.push(i - 1 + x[i - 1] / (x[i - 1] - x[i]));
  const periods = [];
  for (let i = 1; i < crossings.length; i++) periods.push(crossings[i] - crossings[i - 1]);
  if (periods.length < 2) return { median: 0, mean: 0, run: 0 };
  const median = [...periods].sort((a, b) => a - b)[Math.floor(periods.length / 2)];
  let best = { from: 0, to: 0 }, from = 0;
  for (let i = 0; i <= periods.length; i++)
    if (i === periods.length || Math.abs(1200 * Math.log2(periods[i] / median)) >= 5) {
      if (i - from > best.to - best.from) best = { from, to: i };
      from = i + 1;
    }
  const run = best.to - best.from;
  return { median: rate / median, mean: run ? rate / ((crossings[best.to] - crossings[best.from]) / run) : 0, run };
}

const peakOf = (x) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Hold `key` on `track` live, record `frames` of the page's output
 *  (channel 0) from 100 ms after the note-on, release it. */
async function hold(page, track, key, frames) {
  await page.evaluate((tr) => globalThis.amp.daw.view.set({ selectedTrack: tr }), track);
  await page.evaluate(([k, v]) => globalThis.amp.daw.liveOn(k, v), [key, VELOCITY]);
  await page.waitForTimeout(100);
  const x = await recordOutput(page, 'daw', frames);
  await page.evaluate((k) => globalThis.amp.daw.liveOff(k), key);
  await page.waitForTimeout(300);   // the release (200 ms) ends
  const rate = await page.evaluate(() => globalThis.amp.daw.audio.context.sampleRate);
  return { x, rate, peak: peakOf(x), pitch: pitch(x, rate) };
}

/** A held note's pitch within 1 cent of `hz` and its peak within 0.1 dB of
 *  `level`. */
function checkTone(heard, hz, level, what) {
  const p = heard.pitch;
  check(p.run >= 60 && Math.abs(cents(p.median, hz)) < 1 && Math.abs(cents(p.mean, hz)) < 1,
        `${what}: ${p.median.toFixed(3)} Hz (median), ${p.mean.toFixed(3)} Hz over a run of ${p.run} periods; want ${hz} within 1 cent`);
  const db = 20 * Math.log10(heard.peak / level);
  check(Math.abs(db) < 0.1, `${what}: peak ${heard.peak.toFixed(5)}, want ${level.toFixed(5)} (${db.toFixed(3)} dB off)`);
}

/** The slot's card in the Instrument tab. */
const slotCard = (slot) => `[data-testid="sample-slot"][data-slot="${slot}"]`;

/** 1. samplesError against amp render's own messages. */
async function readerParity(t, wavFile) {
  const { E, S } = await bundleModules("export * as E from './doc/edits'; export * as S from './engine/sync';", t.tmp, 'samples-doc');
  const dir = path.join(t.tmp, 'samples-reader');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'burst.wav'), await readFile(wavFile));
  const hash = 'ab'.repeat(32);
  const sampler = (samples) => ({ id: 1, kind: 'instrument', patch: { builtin: 'sampler.amp' }, samples });
  const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`s${i}`, { asset: hash }]));
  const cases = [
    ['on an audio track', { id: 1, kind: 'audio', samples: {} }],
    ['not an object', sampler(5)],
    ['nine slots', sampler(many)],
    ['a string for a slot', sampler({ [SLOT]: 'burst.wav' })],
    ['an unknown field', sampler({ [SLOT]: { asset: hash, gain: 1 } })],
    ['neither file nor asset', sampler({ [SLOT]: { ui: { name: 'x' } } })],
    ['both', sampler({ [SLOT]: { asset: hash, file: 'burst.wav' } })],
    ['a short hash', sampler({ [SLOT]: { asset: '0011' } })],
    ['an upper-case hash', sampler({ [SLOT]: { asset: 'AB'.repeat(32) } })],
    ['an empty file name', sampler({ [SLOT]: { file: '' } })],
    ['a slot the patch lacks', sampler({ 'p.wave': { file: 'burst.wav' } })],
    ['right', sampler({ [SLOT]: { file: 'burst.wav', ui: { name: 'burst.wav' } } })],
  ];
  for (const [what, track] of cases) {
    const file = path.join(dir, 'project.json');
    await writeFile(file, JSON.stringify({ version: 2, tracks: [track] }));
    let native = null;
    try {
      await execFileAsync(path.join(buildDir, 'amp'), ['render', file, '--library', path.join(repo, 'nodes'), '--seconds', '0.1',
                                                       '-o', path.join(dir, 'out.wav')], { cwd: dir });
    } catch (e) {
      native = e.stderr.trim().replace(/^amp: /, '');
    }
    const page = E.samplesError(track, 0, [SLOT]);
    check(page === native, `${what}: the page says ${JSON.stringify(page)}, amp render ${JSON.stringify(native)}`);
  }
  // The edit refuses what the reader would refuse, and keeps the name.
  let d = { version: 2, tracks: [sampler(undefined)] };
  delete d.tracks[0].samples;
  check(E.bindSample(d, 1, SLOT, { asset: '0011' }) === d, 'bindSample took a short hash');
  check(E.bindSample(d, 1, SLOT, { asset: hash, file: 'x.wav' }) === d, 'bindSample took both file and asset');
  d = E.bindSample(d, 1, SLOT, { asset: hash, ui: { name: 'x.wav' } });
  check(JSON.stringify(d.tracks[0].samples) === JSON.stringify({ [SLOT]: { asset: hash, ui: { name: 'x.wav' } } }),
        `bindSample made ${JSON.stringify(d.tracks[0].samples)}`);
  check(!('samples' in E.bindSample(d, 1, SLOT, null).tracks[0]), 'unbinding the last slot left "samples"');
  const other = E.setInstrument(d, 1, { builtin: 'epiano.amp', unit: 'epiano' });
  check(!('samples' in other.tracks[0]), 'a patch without the slot kept its binding');
  const kept = E.setInstrument(d, 1, { builtin: 'sampler2.amp' }, {}, [SLOT]);
  check(kept.tracks[0].samples === d.tracks[0].samples, 'a patch with the same slot lost the binding');

  // The sync layer: bind_sample by the slot's index in the patch; a new
  // instrument unbinds the slots the old one had bound (the engine keeps a
  // track's bindings across instruments).
  const calls = [];
  const sink = new Proxy({}, { get: (_, name) => name === 'setSamples' ? (tr, b) => calls.push([tr, b])
                                                                      : name === 'outgrown' ? false : () => undefined });
  const slotsOfPatch = { 'sampler.amp': [SLOT], 'two.amp': ['a.wav', 'b.wav'], 'epiano.amp': [] };
  const names = Object.keys(slotsOfPatch);
  const registry = {
    indexOf: (ref) => names.indexOf(ref?.builtin),
    paramIndex: () => -1,
    sampleSlot: (patch, name) => slotsOfPatch[names[patch]]?.indexOf(name) ?? -1,
  };
  const sync = new S.Sync(sink, registry);
  const doc0 = { version: 2, tracks: [{ id: 1, kind: 'instrument', patch: { builtin: 'two.amp' } }] };
  sync.reset(doc0);
  const doc1 = E.bindSample(doc0, 1, 'b.wav', { asset: hash });
  sync.change(doc1, doc0, 'edit');
  const doc2 = E.setInstrument(doc1, 1, { builtin: 'sampler.amp' }, {}, [SLOT]);
  sync.change(doc2, doc1, 'edit');
  const doc3 = E.bindSample(doc2, 1, SLOT, { asset: hash });
  sync.change(doc3, doc2, 'edit');
  const want = [[1, [{ slot: 1, asset: hash }]], [1, [{ slot: 1, asset: null }]], [1, [{ slot: 0, asset: hash }]]];
  check(JSON.stringify(calls) === JSON.stringify(want), `the sync layer sent ${JSON.stringify(calls)}; want ${JSON.stringify(want)}`);
  t.log(`samplesError = amp render's message for ${cases.length - 1} wrong documents and null for a right one; ` +
        'the sync layer binds by slot index and unbinds the old patch\'s slots');
}

export async function run(t) {
  // The sample: a 440 Hz sine at AMPLITUDE, one second, mono float, at 48 kHz.
  const frames = RATE;
  const burst = new Float32Array(frames);
  for (let i = 0; i < frames; i++) burst[i] = Math.fround(AMPLITUDE * Math.sin((2 * Math.PI * 440 * i) / RATE));
  const wavFile = path.join(t.tmp, 'burst440.wav');
  await writeWav(wavFile, [burst], RATE);
  const hash = createHash('sha256').update(await readFile(wavFile)).digest('hex');

  await readerParity(t, wavFile);

  const server = await startAmpd(['--local', '--data', path.join(t.tmp, 'samples-data'), '--library', path.join(repo, 'nodes')]);
  const context = await t.browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' || /not sent to the engine|did not load|not in the engine/.test(m.text())) errors.push(m.text()); });
    await page.goto(server.url);
    await pageReady(page);
    await startAudio(page);

    // 2. A sampler track; its slot, empty; a note is silent.
    const track = await instrumentTrack(page, 'sampler');
    await page.click('[data-testid="instrument-tab"]');
    await page.waitForSelector(slotCard(SLOT));
    check(await page.locator(`${slotCard(SLOT)} [data-testid="sample-empty"]`).count() === 1, 'the new slot is not shown empty');
    const chip = `.track-header[data-track="${track}"] [data-testid="track-sample"]`;
    check((await page.textContent(chip))?.trim() === 'no sample', `the track header says ${await page.textContent(chip)}`);
    const before = await hold(page, track, 60, 9600);
    check(before.peak === 0, `a note on the empty slot is not silent (peak ${before.peak})`);

    const uploadStart = Date.now();
    await page.setInputFiles(`${slotCard(SLOT)} [data-testid="sample-file"]`, wavFile);
    await waitFor(page, ([tr, s]) => globalThis.amp.daw.store.doc.tracks.find((x) => x.id === tr)?.samples?.[s]?.asset, [track, SLOT],
                  'the slot to be bound', UPLOAD_WAIT_MS).catch(async (e) => {
      throw new Failure(`${e.message} (the status line says "${await page.textContent('#status')}", ` +
                        `busy "${await page.evaluate(() => globalThis.amp.daw.ui.get().busy)}")`);
    });
    const uploadMs = Date.now() - uploadStart;
    let d = await doc(page);
    const bound = d.tracks.find((x) => x.id === track).samples;
    check(JSON.stringify(bound) === JSON.stringify({ [SLOT]: { asset: hash, ui: { name: 'burst440.wav' } } }),
          `the document binds ${JSON.stringify(bound)}; want asset ${hash}`);
    const undoLabel = await page.evaluate(() => globalThis.amp.daw.store.undoLabel);
    check(undoLabel === `Load burst440.wav into ${SLOT}`, `the undo step is "${undoLabel}"`);
    await waitFor(page, (h) => globalThis.amp.daw.audio.sink.sampleSize(h) !== undefined, hash, 'the engine to load the sample', 15000);
    await waitFor(page, (s) => /1\.00 s · mono/.test(document.querySelector(s)?.textContent ?? ''), slotCard(SLOT),
                  'the slot to show the sample\'s length', 5000);
    check((await page.textContent(`${slotCard(SLOT)} [data-testid="sample-name"]`)) === 'burst440.wav', 'the slot does not show the file name');
    check((await page.textContent(chip))?.trim() === 'burst440.wav', `the track header says ${await page.textContent(chip)}`);
    await page.waitForTimeout(300);   // the waveform decodes
    await page.screenshot({ path: shots(t, 'daw-samples-slot.png') });
    await page.locator('.track-header').first().screenshot({ path: shots(t, 'daw-samples-header.png') });
    t.log(`screenshots: ${shots(t, 'daw-samples-slot.png')}, ${shots(t, 'daw-samples-header.png')}`);

    const level = AMPLITUDE * VELOCITY * CENTRE;
    const c4 = await hold(page, track, 60, 24000);
    checkTone(c4, 440, level, 'C4 on the bound slot');
    const c5 = await hold(page, track, 72, 12000);
    checkTone(c5, 880, level, 'C5 on the bound slot');
    t.log(`bound by the file input (asset ${hash.slice(0, 12)}…, uploaded and bound in ${uploadMs} ms): C4 ${c4.pitch.mean.toFixed(3)} Hz, peak ${c4.peak.toFixed(5)} ` +
          `(want ${level.toFixed(5)}); C5 ${c5.pitch.mean.toFixed(3)} Hz, peak ${c5.peak.toFixed(5)}`);

    // 3. Undo: silence; redo: the tone again.
    await page.click('[data-testid="undo"]');
    d = await doc(page);
    check(!('samples' in d.tracks.find((x) => x.id === track)), 'undo left the binding');
    await page.waitForSelector(`${slotCard(SLOT)} [data-testid="sample-empty"]`);
    const undone = await hold(page, track, 60, 9600);
    check(undone.peak === 0, `after undo a note is not silent (peak ${undone.peak})`);
    await page.click('[data-testid="redo"]');
    d = await doc(page);
    check(d.tracks.find((x) => x.id === track).samples?.[SLOT]?.asset === hash, 'redo did not bind the sample again');
    const redone = await hold(page, track, 60, 24000);
    checkTone(redone, 440, level, 'C4 after redo');
    t.log(`undo: the held C4 is silent (peak 0); redo: ${redone.pitch.mean.toFixed(3)} Hz, peak ${redone.peak.toFixed(5)}`);

    // 4. A clip, saved; reloaded; exported against amp render of the bundle.
    const clip = await page.evaluate(([tr, v]) => globalThis.amp.daw.act.addClip(tr, 0, 4, [
      { key: 60, start_beat: 0, length_beats: 1, velocity: v }, { key: 72, start_beat: 2, length_beats: 1, velocity: v }]),
                                     [track, VELOCITY]);
    check(clip !== null, 'the clip was not added');
    await page.click('[data-testid="save"]');
    await waitFor(page, () => /^Saved r/.test(document.querySelector('[data-testid="save-state"]')?.textContent ?? ''), null,
                  'the project to save', 15000);
    const projectId = await page.evaluate(() => globalThis.amp.daw.persist.state.serverId);
    await page.goto(`${server.url}#project=${projectId}`);
    await page.reload();
    await pageReady(page);
    await waitFor(page, ([tr, h, s]) => globalThis.amp.daw.store.doc.tracks.find((x) => x.id === tr)?.samples?.[s]?.asset === h,
                  [track, hash, SLOT], 'the reopened project to bind the sample', 15000);
    await startAudio(page);
    await waitFor(page, (h) => globalThis.amp.daw.audio.sink?.sampleSize(h) !== undefined, hash, 'the engine to load the sample again', 15000);
    const reloaded = await hold(page, track, 60, 24000);
    checkTone(reloaded, 440, level, 'C4 after the reload');
    t.log(`saved as ${projectId}, reloaded: the binding is back, C4 ${reloaded.pitch.mean.toFixed(3)} Hz, peak ${reloaded.peak.toFixed(5)}`);

    // Drag and drop: another WAV dropped on the track header replaces the
    // sample (a new asset, a new sample of the pool); undo brings back the
    // saved one.
    const low = new Float32Array(frames);
    for (let i = 0; i < frames; i++) low[i] = Math.fround(AMPLITUDE * Math.sin((2 * Math.PI * 330 * i) / RATE));
    const lowFile = path.join(t.tmp, 'low330.wav');
    await writeWav(lowFile, [low, low], RATE);
    const lowHash = createHash('sha256').update(await readFile(lowFile)).digest('hex');
    await page.evaluate(([sel, b64, name]) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: 'audio/wav' }));
      const el = document.querySelector(sel);
      for (const type of ['dragenter', 'dragover', 'drop'])
        el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    }, [`.track-header[data-track="${track}"]`, (await readFile(lowFile)).toString('base64'), 'low330.wav']);
    await waitFor(page, ([tr, h, s]) => globalThis.amp.daw.store.doc.tracks.find((x) => x.id === tr)?.samples?.[s]?.asset === h,
                  [track, lowHash, SLOT], 'the dropped file to replace the sample', UPLOAD_WAIT_MS);
    await waitFor(page, (h) => globalThis.amp.daw.audio.sink.sampleSize(h) !== undefined, lowHash, 'the engine to load the dropped file', 15000);
    check((await page.textContent(chip))?.trim() === 'low330.wav', `after the drop the track header says ${await page.textContent(chip)}`);
    const dropped = await hold(page, track, 60, 24000);
    checkTone(dropped, 330, level, 'C4 on the dropped file (stereo)');
    await page.click('[data-testid="undo"]');
    const back = await hold(page, track, 60, 24000);
    checkTone(back, 440, level, 'C4 after undoing the drop');
    t.log(`a stereo WAV dropped on the track header: C4 ${dropped.pitch.mean.toFixed(3)} Hz; undone: ${back.pitch.mean.toFixed(3)} Hz`);

    // A file ampd stores (its head says WAVE) but the engine cannot read:
    // the slot says why, in the words of amp render's reader; the note is
    // silent; undone, the saved sample plays.
    await page.click('[data-testid="instrument-tab"]');
    const brokenFile = path.join(t.tmp, 'broken.wav');
    await writeFile(brokenFile, Buffer.from('RIFF\x04\x00\x00\x00WAVE', 'latin1'));
    const brokenHash = createHash('sha256').update(await readFile(brokenFile)).digest('hex');
    const warningsBefore = errors.length;
    await page.setInputFiles(`${slotCard(SLOT)} [data-testid="sample-file"]`, brokenFile);
    await waitFor(page, ([tr, h, s]) => globalThis.amp.daw.store.doc.tracks.find((x) => x.id === tr)?.samples?.[s]?.asset === h,
                  [track, brokenHash, SLOT], 'the broken file to be bound', UPLOAD_WAIT_MS);
    await waitFor(page, (sel) => /^not playable: /.test(document.querySelector(sel)?.textContent ?? ''), `${slotCard(SLOT)} .slot-info`,
                  'the slot to say the file does not play', 15000);
    const said = (await page.textContent(`${slotCard(SLOT)} .slot-info`)).replace(/^not playable: /, '');
    const brokenDir = path.join(t.tmp, 'samples-broken');
    await mkdir(brokenDir, { recursive: true });
    await writeFile(path.join(brokenDir, 'broken.wav'), await readFile(brokenFile));
    await writeFile(path.join(brokenDir, 'project.json'), JSON.stringify({ version: 2, tracks: [
      { id: 1, kind: 'instrument', patch: { builtin: 'sampler.amp' }, samples: { [SLOT]: { file: 'broken.wav' } } }] }));
    const nativeSays = await execFileAsync(path.join(buildDir, 'amp'), ['render', 'project.json', '--library', path.join(repo, 'nodes'),
                                                                       '-o', 'out.wav'], { cwd: brokenDir })
      .then(() => '', (e) => e.stderr.trim());
    check(said.length > 0 && nativeSays === `amp: tracks[0].samples.${SLOT}.file: broken.wav: ${said}`,
          `the slot says "${said}"; amp render says "${nativeSays}"`);
    const silent = await hold(page, track, 60, 9600);
    check(silent.peak === 0, `a note on the unreadable file is not silent (peak ${silent.peak})`);
    errors.push(...errors.splice(warningsBefore).filter((e) => !/is not in the engine/.test(e)));
    await page.click('[data-testid="undo"]');
    const restored = await hold(page, track, 60, 24000);
    checkTone(restored, 440, level, 'C4 after undoing the broken file');
    t.log(`a file the engine cannot read: the slot says "${said}" (amp render: "${nativeSays}"), the note is silent; undone, 440 Hz`);

    // ampd keeps a stored project's slots to the caller's assets and the
    // patch's slots (422, with the reader's path).
    const errorsBefore = errors.length;
    const refused = await page.evaluate(async ([h, s]) => {
      const c = globalThis.amp.daw.persist.client;
      const doc = (samples) => ({ version: 2, tracks: [{ id: 1, kind: 'instrument', patch: { builtin: 'sampler.amp' }, samples }] });
      const out = [];
      for (const samples of [{ [s]: { asset: 'cd'.repeat(32) } }, { [s]: { file: 'burst.wav' } }, { 'p.wave': { asset: h } }]) {
        try {
          await c.createProject('refused', doc(samples));
          out.push('saved');
        } catch (e) {
          out.push(`${e.status} ${e.code}: ${e.hint}`);
        }
      }
      return out;
    }, [hash, SLOT]);
    await page.waitForTimeout(100);
    // The browser logs each refusal as a failed resource: expected here.
    errors.push(...errors.splice(errorsBefore).filter((e) => !/status of 422/.test(e)));
    const want = [`422 unknown_asset: tracks[0].samples.${SLOT}.asset: you have no asset ${'cd'.repeat(32)} (upload it first: POST /api/assets)`,
                  `422 file_path: tracks[0].samples.${SLOT}.file: a stored project names its audio by "asset" (upload the file: POST /api/assets)`,
                  `422 invalid_document: tracks[0].samples.p.wave: the patch has no sample slot 'p.wave' (its slots: '${SLOT}')`];
    for (let i = 0; i < want.length; i++) check(refused[i] === want[i], `ampd answered ${refused[i]}; want ${want[i]}`);
    t.log('ampd refuses a slot naming an asset the user lacks, a file path, and a slot the patch lacks (422)');

    const exported = await exportFromMenu(page, 'export-f32', path.join(t.tmp, 'samples-f32.wav'));
    const bundle = await page.evaluate(async (pid) => {
      const r = await fetch(`/api/projects/${pid}/bundle`, { credentials: 'same-origin' });
      return { status: r.status, data: r.ok ? [...new Uint8Array(await r.arrayBuffer())] : await r.text() };
    }, projectId);
    check(bundle.status === 200, `GET the bundle: HTTP ${bundle.status} ${String(bundle.data).slice(0, 200)}`);
    const dir = path.join(t.tmp, 'samples-bundle');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'song.tar'), Buffer.from(bundle.data));
    await execFileAsync('tar', ['-xf', 'song.tar'], { cwd: dir });
    const inBundle = await readFile(path.join(dir, projectId, 'assets', hash.slice(0, 2), hash)).catch(() => null);
    check(inBundle && inBundle.equals(await readFile(wavFile)), 'the bundle lacks the sample (assets/ab/<hash>)');
    const out = path.join(dir, 'native.wav');
    await execFileAsync(path.join(buildDir, 'amp'), ['render', path.join(dir, projectId, 'project.json'), '--library', path.join(repo, 'nodes'),
                                                     '--format', 'f32', '-o', out], { cwd: repo });
    const native = await readFile(out);
    check(exported.bytes.equals(native), `the f32 export differs from amp render of the bundle (${firstDifference(exported.bytes, native)})`);
    const wav = readWav(exported.bytes);
    const segment = (from, to) => wav.channels[0].subarray(Math.round(from * wav.rate), Math.round(to * wav.rate));
    const n1 = segment(0.05, 0.45), n2 = segment(1.05, 1.45);   // beat 0 and beat 2 at 120 bpm
    const p1 = pitch(n1, wav.rate), p2 = pitch(n2, wav.rate);
    check(Math.abs(cents(p1.mean, 440)) < 0.1 && Math.abs(cents(p2.mean, 880)) < 0.1 && p1.run > 150 && p2.run > 300,
          `the export's notes measure ${p1.mean.toFixed(3)} Hz and ${p2.mean.toFixed(3)} Hz`);
    check(Math.abs(20 * Math.log10(peakOf(n1) / level)) < 0.1, `the export's C4 peaks at ${peakOf(n1)}, want ${level}`);
    t.log(`export f32 (${exported.bytes.length} bytes) == amp render of the bundle; its C4 ${p1.mean.toFixed(3)} Hz, ` +
          `C5 ${p2.mean.toFixed(3)} Hz, peak ${peakOf(n1).toFixed(5)}`);
    check(errors.length === 0, `page errors: ${errors.join(' | ')}`);
  } finally {
    await context.close();
    await server.close();
  }
}
