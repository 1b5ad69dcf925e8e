// parity.mjs — every patch of nodes/ (every entry of engine.json) rendered
// in the browser (OfflineAudioContext, the real worklet and engine.wasm,
// commands through the command ring) is bit-identical to `amp render` of
// the same notes or the same input. On a difference, the test reports the
// number of differing samples, the largest difference and the first frame.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { check, compareBits, describeDifference, nativeRender, testInput, waitFor, webDir, writeWav } from './lib.mjs';
import { noteCommands, parseNotes, renderOffline, toBase64 } from './offline.mjs';

const RATE = 48000;
const SECONDS = 1.2;
const NOTES = '48@0:0.4 60@0.1:0.6 67@0.2:0.8';

export async function run(t) {
  const manifest = JSON.parse(await readFile(path.join(webDir, 'engine.json'), 'utf8'));
  check(manifest.patches.length > 0, 'engine.json lists no patches');
  const frames = Math.round(SECONDS * RATE);
  const input = testInput(frames, RATE);
  const inputWav = path.join(t.tmp, 'input.wav');
  await writeWav(inputWav, input, RATE);

  const page = await t.newPage();
  await waitFor(page, () => !document.querySelector('#start').disabled, null, 'the page to load');
  const failures = [];
  for (const p of manifest.patches) {
    const hasNotes = p.meta.voices > 0;
    const hasInput = p.meta.inputs.length > 0;
    const args = [p.source, '--unit', p.unit, '--seconds', String(SECONDS), '--rate', String(RATE)];
    if (hasNotes) args.push('--notes', NOTES);
    if (hasInput) args.push('--input', inputWav);
    const native = await nativeRender(args, path.join(t.tmp, `${p.unit}.wav`), t.cacheDir);

    const browser = await renderOffline(page, {
      patch: p.index, frames, rate: RATE,
      commands: hasNotes ? noteCommands(parseNotes(NOTES), RATE) : [],
      input: hasInput ? input.map(toBase64) : null,
    });
    const r = compareBits(native.channels, browser.channels);
    let peak = 0;
    for (const ch of native.channels) for (const x of ch) peak = Math.max(peak, Math.abs(x));
    const what = `${p.unit} (${p.meta.kind}, ${hasNotes ? `notes '${NOTES}'` : 'fixed stereo input'}, ` +
      `${frames} frames x ${native.channels.length} ch, peak ${peak.toFixed(3)})`;
    t.log(`${what}: ${describeDifference(r)}`);
    if (!r.identical) failures.push(`${p.unit}: ${describeDifference(r)}`);
    if (peak === 0) failures.push(`${p.unit}: the native render is silent, nothing was compared`);
    if (browser.state.commandsRejected || browser.state.commandsApplied !== browser.sent)
      failures.push(`${p.unit}: engine applied ${browser.state.commandsApplied} of ${browser.sent} commands, rejected ${browser.state.commandsRejected}`);
  }
  check(failures.length === 0, failures.join('; '));
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
