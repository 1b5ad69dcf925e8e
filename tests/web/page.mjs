// page.mjs — the page played as a user plays it, in a real-time
// AudioContext: the meter is the engine's state region as the page shows it
// (data-peak, data-voices on #meter, updated on requestAnimationFrame).
//
// - A key pressed on the computer keyboard sounds; released, the note ends
//   (its voice is freed and the level falls below the threshold).
// - The same with the mouse on the on-screen piano.
// - Turning the volume slider down lowers the measured output.
// - Thousands of commands written while the worklet runs all arrive, in
//   order (the engine's hash of applied commands matches the page's).

import { check, waitFor } from './lib.mjs';

const SOUND = 0.01;      // peak above this: sounding
const SILENT = 1e-4;     // below this: silent

const meter = () => {
  const d = document.querySelector('#meter')?.dataset ?? {};
  return { peak: Number(d.peak ?? 0), voices: Number(d.voices ?? 0), frames: Number(d.frames ?? 0) };
};

/** The highest peak the meter shows over `ms`. */
async function loudest(page, ms) {
  return page.evaluate(async (ms) => {
    let max = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      await new Promise((r) => requestAnimationFrame(r));
      max = Math.max(max, Number(document.querySelector('#meter').dataset.peak));
    }
    return max;
  }, ms);
}

async function sounds(page, what) {
  await waitFor(page, (min) => Number(document.querySelector('#meter').dataset.peak) > min, SOUND,
                `${what} to sound (meter peak > ${SOUND})`, 3000);
}

async function ends(page, what) {
  await waitFor(page, (max) => {
    const d = document.querySelector('#meter').dataset;
    return Number(d.voices) === 0 && Number(d.peak) < max;
  }, SILENT, `${what} to end (no voices, peak < ${SILENT})`, 4000);
}

export async function run(t) {
  const page = await t.newPage();
  await waitFor(page, () => !document.querySelector('#start').disabled, null, 'the page to load');
  await page.selectOption('#instrument', 'epiano');
  await page.click('#start');
  await waitFor(page, () => document.body.dataset.engine === 'running', null, 'the engine to start');
  const idle = await page.evaluate(meter);
  check(idle.peak === 0 && idle.voices === 0, `silence before any key: ${JSON.stringify(idle)}`);
  await waitFor(page, (f) => Number(document.querySelector('#meter').dataset.frames) > f, idle.frames,
                'the engine to advance');

  // The computer keyboard: A is C4.
  await page.keyboard.down('a');
  await sounds(page, 'key A');
  const loud = await loudest(page, 300);
  await page.keyboard.up('a');
  await ends(page, 'the note of key A');
  t.log(`key A: peak ${loud.toFixed(4)} while held; after release no voices and peak < ${SILENT}`);

  // The mouse on the on-screen piano.
  const key = page.locator('.piano .key[data-key="67"]');
  const box = await key.boundingBox();
  check(box, 'no on-screen key 67');
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.8);
  await page.mouse.down();
  await sounds(page, 'the on-screen G4');
  check(await key.evaluate((e) => e.classList.contains('down')), 'the on-screen key does not show as held');
  await page.mouse.up();
  await ends(page, 'the on-screen G4');
  t.log('mouse on the on-screen piano: sounds, and ends on release');

  // The volume slider, turned all the way down with the keyboard (Home).
  const slider = page.locator('.params input[name="volume"]');
  await slider.focus();
  await page.keyboard.press('Home');
  const shown = await page.locator('.params label:has(input[name="volume"]) output').textContent();
  check(/-60\.0 dB/.test(shown ?? ''), `the volume slider shows ${shown} after Home`);
  await page.evaluate(() => document.activeElement?.blur());
  // The note starts once the volume has reached its new value: the engine
  // has applied the change, and the param's smoothing (20 ms) is over. A
  // note started during the glide would be measured (the engine's meter
  // sees every sample) at the level it glides from.
  await waitFor(page, () => {
    const client = globalThis.amp.debug().session.client;
    return client.snapshot().commandsApplied === client.commands.sent;
  }, null, 'the engine to apply the volume change');
  await page.waitForTimeout(100);
  await page.keyboard.down('a');
  await page.waitForTimeout(50);
  const quiet = await loudest(page, 300);
  await page.keyboard.up('a');
  await ends(page, 'the quiet note');
  check(quiet > 0 && quiet < loud * 0.05,
        `volume at its minimum: peak ${quiet.toExponential(3)} vs ${loud.toExponential(3)} at the default`);
  t.log(`volume slider to -60 dB: peak ${loud.toFixed(4)} -> ${quiet.toExponential(2)} ` +
        `(${(20 * Math.log10(quiet / loud)).toFixed(1)} dB)`);

  // Commands written while the worklet runs: more than the ring holds at once.
  const live = await page.evaluate(async () => {
    const client = globalThis.amp.debug().session.client;
    const param = 0;   // any param: only arrival and order matter here
    const count = 5000;
    let refused = 0;
    for (let i = 0; i < count; i++) {
      while (!client.commands.setParam(0, param, i % 4)) {
        refused++;
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    const sent = client.commands.sent;
    const deadline = performance.now() + 5000;
    let s = client.snapshot();
    while (s.commandsApplied < sent && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      s = client.snapshot();
    }
    return { sent, refused, applied: s.commandsApplied, hash: client.commands.hash, engineHash: s.commandHash,
             rejected: s.commandsRejected };
  });
  check(live.applied === live.sent && live.rejected === 0,
        `live burst: ${live.applied} of ${live.sent} applied, ${live.rejected} rejected`);
  check(live.engineHash === live.hash, 'live burst: the engine applied other commands, or in another order');
  t.log(`live burst: ${live.sent} commands in all, the ring was full ${live.refused} times, all applied in order`);
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
