// export.mjs — record on the DAW from the computer keyboard, export the
// song through the export worker from the File menu, and compare the
// downloaded WAV with the native render of the same notes: bit-identical.
// The export is also faster than real time.
//
// Today's worker renders one instrument track as a performance (its
// instrument with the track's params, the notes as live note commands at
// their frames; web/src/ui/export.ts says why): the page keeps what it
// rendered (amp.daw.lastPerformance), and the native reference is that
// performance as a project (web/src/engine/performance.ts,
// performanceProject: one instrument track, the params, the notes as a
// clip on exact beats, the fader at the engine's unity gain) rendered by
// `amp render PROJECT.json --seconds S`.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  check, compareBits, describeDifference, instrumentTrack, pageReady, readWav, relativeTo, renderProject,
  startAudio, waitFor,
} from './lib.mjs';

export async function run(t) {
  const page = await t.newPage();
  await pageReady(page);
  const track = await instrumentTrack(page, 'pad');
  // A param off its default (the DAW has no param panel yet: set in the
  // document): the export and the project carry it.
  await page.evaluate((id) => {
    const daw = globalThis.amp.daw;
    daw.store.transact('res', (d) => ({ ...d, tracks: d.tracks.map((x) => (x.id === id ? { ...x, params: { res: 0.55 } } : x)) }));
  }, track);
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

  await page.click('[data-testid="file-menu"]');
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }),
                                        page.click('[data-testid="export-f32"]')]);
  const file = path.join(t.tmp, 'export.wav');
  await download.saveAs(file);
  const exported = readWav(await readFile(file));
  const status = (await page.textContent('#status')) ?? '';
  t.log(`export: ${status.slice(0, 80)}… -> ${download.suggestedFilename()}`);
  const speed = status.match(/rendered ([\d.]+) s in (\d+) ms/);
  check(speed && Number(speed[2]) < Number(speed[1]) * 1000, `not faster than real time: ${status}`);

  const { doc, seconds } = await page.evaluate(() => {
    const p = globalThis.amp.daw.lastPerformance;
    const unityGainDb = globalThis.amp.daw.audio.client.unityGainDb;
    return { doc: globalThis.ampLib.performanceProject(p, { unityGainDb }), seconds: p.frames / p.sampleRate };
  });
  const t0 = doc.tracks[0];
  check(t0.params && t0.params.res === 0.55, `the rendered project lacks the track's res value: ${JSON.stringify(t0.params)}`);
  check(t0.clips[0].notes.length === 3, `the rendered project holds ${t0.clips[0].notes.length} notes, expected 3`);
  t0.patch.file = relativeTo(t.tmp, t0.patch.file);
  const frames = Math.round(seconds * doc.sample_rate);
  const native = await renderProject(doc, t.tmp, 'export-native', frames, doc.sample_rate, t.cacheDir);
  check(native.rate === exported.rate, `rates differ: native ${native.rate}, export ${exported.rate}`);
  const r = compareBits(native.channels, exported.channels);
  t.log(`worker export vs amp render: ${describeDifference(r)} (${exported.channels[0].length} frames at ${exported.rate} Hz)`);
  check(r.identical, `the export differs from the native render: ${describeDifference(r)}`);
  let peak = 0;
  for (const ch of native.channels) for (const x of ch) peak = Math.max(peak, Math.abs(x));
  check(peak > 0.01, `the performance rendered silent (peak ${peak})`);

  // The same export as 24-bit and 16-bit (dithered) PCM: every sample the
  // float one scaled and rounded (24-bit), within one LSB of dither and
  // rounding (16-bit).
  for (const [id, bits] of [['export-s24', 24], ['export-s16', 16]]) {
    await page.click('[data-testid="file-menu"]');
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }), page.click(`[data-testid="${id}"]`)]);
    const f = path.join(t.tmp, `export-${bits}.wav`);
    await dl.saveAs(f);
    const pcm = readPcm(await readFile(f));
    check(pcm.bits === bits && pcm.channels === 2 && pcm.rate === exported.rate,
          `the ${bits}-bit export is ${pcm.bits}-bit, ${pcm.channels} channels, ${pcm.rate} Hz`);
    const full = bits === 16 ? 32767 : 8388607;
    let worst = 0;
    const frames = exported.channels[0].length;
    check(pcm.samples.length === frames * 2, `the ${bits}-bit export has ${pcm.samples.length / 2} frames, the float one ${frames}`);
    for (let i = 0; i < frames; i++)
      for (let c = 0; c < 2; c++) {
        const want = Math.max(-full - 1, Math.min(full, exported.channels[c][i] * full));
        worst = Math.max(worst, Math.abs(pcm.samples[i * 2 + c] - want));
      }
    check(bits === 24 ? worst <= 0.5 : worst <= 1.5, `the ${bits}-bit export is off the float one by ${worst} LSB`);
    t.log(`${bits}-bit export: ${frames} frames, at most ${worst.toFixed(3)} LSB from the float export`);
  }
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}

/** A PCM WAV (16 or 24 bits) -> { bits, channels, rate, samples }. */
function readPcm(buf) {
  const bits = buf.readUInt16LE(34), channels = buf.readUInt16LE(22), rate = buf.readUInt32LE(24);
  const size = buf.readUInt32LE(40), bytes = bits / 8;
  const samples = new Float64Array(size / bytes);
  for (let i = 0; i < samples.length; i++)
    samples[i] = bits === 16 ? buf.readInt16LE(44 + i * 2) : buf.readIntLE(44 + i * 3, 3);
  return { bits, channels, rate, samples };
}
