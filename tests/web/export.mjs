// export.mjs — record a performance on the page, export it through the
// worker, and compare the downloaded WAV with the native render of the same
// performance: bit-identical. The export is also faster than real time.
//
// Both sides run the multi-track engine (runtime/engine/). The worker
// plays the recording on track 0 (the patch as a node with the recorded
// start values, settled; the notes as live note commands at their frames).
// The native reference is what the page prints under "The same notes
// rendered natively": a script that writes the performance as a project
// (web/src/engine/performance.ts, performanceProject: one instrument track,
// the start values as its params, the notes as a clip on exact beats, the
// fader at the engine's unity gain) and renders it with `amp render
// PROJECT.json --seconds S`. The test takes the project from that script,
// points its patch path at nodes/ from its own folder, and runs the same
// `amp render`.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  check, compareBits, describeDifference, readWav, relativeTo, renderProject, waitFor,
} from './lib.mjs';

/** The project and the length in the script the page prints. */
function parseScript(script) {
  const m = script.match(/^cat > (\S+) <<'EOF'\n([\s\S]*?)\nEOF\nbuild\/amp render (\S+) --seconds (\S+) --format f32 -o (\S+)\n?$/);
  check(m && m[1] === m[3], `the page printed no render script: ${script}`);
  return { doc: JSON.parse(m[2]), seconds: Number(m[4]) };
}

export async function run(t) {
  const page = await t.newPage();
  await waitFor(page, () => !document.querySelector('#start').disabled, null, 'the page to load');
  await page.selectOption('#instrument', 'pad');
  await page.click('#start');
  await waitFor(page, () => document.body.dataset.engine === 'running', null, 'the engine to start');

  // A start value off its default: the export and the project carry it.
  await page.locator('.params input[name="res"]').focus();
  for (let i = 0; i < 7; i++) await page.keyboard.press('ArrowLeft');
  await page.evaluate(() => document.activeElement?.blur());

  await page.click('#record');
  await page.keyboard.down('a');
  await page.waitForTimeout(200);
  await page.keyboard.down('d');
  await page.waitForTimeout(150);
  await page.keyboard.up('a');
  await page.keyboard.down('g');
  // A param turned while notes sound: the export applies each change at
  // its frame, the project holds it as an automation step there.
  await page.locator('.params input[name="cutoff"]').focus();
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press('ArrowRight');
    await page.waitForTimeout(30);
  }
  await page.waitForTimeout(150);
  await page.keyboard.up('d');
  await page.keyboard.up('g');
  await page.click('#record');
  const script = (await page.textContent('#native-command')) ?? '';
  const { doc, seconds } = parseScript(script);
  const track = doc.tracks[0];
  t.log(`the page's native render: ${script.split('\n').find((l) => l.startsWith('build/amp'))} of a project ` +
        `at ${doc.tempo} bpm (${doc.sample_rate} Hz): ${track.clips[0].notes.length} notes, ` +
        `params ${JSON.stringify(track.params)}, automation of ${(track.automation ?? []).map((l) => l.target.param).join(', ')}`);
  check(track.params && typeof track.params.res === 'number',
        `the project lacks the res value set before recording: ${JSON.stringify(track.params)}`);
  check(track.clips[0].notes.length === 3, `the project holds ${track.clips[0].notes.length} notes, expected 3`);
  const lane = (track.automation ?? []).find((l) => l.target.param === 'cutoff');
  check(lane && lane.points.length === 1 + 2 * 4,
        `the project's cutoff automation: ${JSON.stringify(track.automation)} (expected 4 steps)`);

  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }), page.click('#export')]);
  const file = path.join(t.tmp, 'export.wav');
  await download.saveAs(file);
  const exported = readWav(await readFile(file));
  const status = (await page.textContent('#export-status')) ?? '';
  t.log(`export: ${status} -> ${download.suggestedFilename()}`);
  const speed = status.match(/Rendered ([\d.]+) s in (\d+) ms/);
  check(speed && Number(speed[2]) < Number(speed[1]) * 1000, `not faster than real time: ${status}`);

  // The patch path in the script is relative to the repository's top.
  track.patch.file = relativeTo(t.tmp, track.patch.file);
  const frames = Math.round(seconds * doc.sample_rate);
  const native = await renderProject(doc, t.tmp, 'export-native', frames, doc.sample_rate, t.cacheDir);
  check(native.rate === exported.rate, `rates differ: native ${native.rate}, export ${exported.rate}`);
  const r = compareBits(native.channels, exported.channels);
  t.log(`worker export vs amp render: ${describeDifference(r)} (${exported.channels[0].length} frames at ${exported.rate} Hz)`);
  check(r.identical, `the export differs from the native render: ${describeDifference(r)}`);
  let peak = 0;
  for (const ch of native.channels) for (const x of ch) peak = Math.max(peak, Math.abs(x));
  check(peak > 0.01, `the performance rendered silent (peak ${peak})`);
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
