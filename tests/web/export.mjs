// export.mjs — record a performance on the page, export it through the
// worker, and compare the downloaded WAV with `amp render` of the same
// performance (the command the page prints): bit-identical. The export is
// also faster than real time.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { check, compareBits, describeDifference, nativeRender, readWav, waitFor } from './lib.mjs';

/** The arguments of the `amp render` line the page prints, without the
 *  program, --format and -o (the test adds its own). */
function renderArgs(command) {
  const m = command.match(/amp render (\S+) --notes '([^']*)'(.*?) --seconds (\S+) --rate (\d+)/);
  check(m, `the page printed no amp render command: ${command}`);
  const [, source, notes, rest, seconds, rate] = m;
  const args = [source, '--notes', notes];
  for (const p of rest.matchAll(/--param (\S+)/g)) args.push('--param', p[1]);
  args.push('--seconds', seconds, '--rate', rate);
  return args;
}

export async function run(t) {
  const page = await t.newPage();
  await waitFor(page, () => !document.querySelector('#start').disabled, null, 'the page to load');
  await page.selectOption('#instrument', 'pad');
  await page.click('#start');
  await waitFor(page, () => document.body.dataset.engine === 'running', null, 'the engine to start');

  // A start value off its default: the export and the command line carry it.
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
  await page.waitForTimeout(250);
  await page.keyboard.up('d');
  await page.keyboard.up('g');
  await page.click('#record');
  const command = (await page.textContent('#native-command')) ?? '';
  t.log(`the page's native command: ${command}`);
  check(/--param res=/.test(command), 'the command lacks the res value set before recording');

  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }), page.click('#export')]);
  const file = path.join(t.tmp, 'export.wav');
  await download.saveAs(file);
  const exported = readWav(await readFile(file));
  const status = (await page.textContent('#export-status')) ?? '';
  t.log(`export: ${status} -> ${download.suggestedFilename()}`);
  const speed = status.match(/Rendered ([\d.]+) s in (\d+) ms/);
  check(speed && Number(speed[2]) < Number(speed[1]) * 1000, `not faster than real time: ${status}`);

  const native = await nativeRender(renderArgs(command), path.join(t.tmp, 'export-native.wav'), t.cacheDir);
  check(native.rate === exported.rate, `rates differ: native ${native.rate}, export ${exported.rate}`);
  const r = compareBits(native.channels, exported.channels);
  t.log(`worker export vs amp render: ${describeDifference(r)} (${exported.channels[0].length} frames at ${exported.rate} Hz)`);
  check(r.identical, `the export differs from the native render: ${describeDifference(r)}`);
  let peak = 0;
  for (const ch of native.channels) for (const x of ch) peak = Math.max(peak, Math.abs(x));
  check(peak > 0.01, `the performance rendered silent (peak ${peak})`);
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
