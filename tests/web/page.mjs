// page.mjs — the DAW played as a user plays it, in a real-time
// AudioContext: the master meter in the transport bar is the engine's state
// region as the page shows it (data-peak, data-voices on #meter, updated on
// requestAnimationFrame).
//
// - An instrument track added and given the epiano; with computer-keyboard
//   playing on (the ⌨ button), a key pressed sounds; released, the note
//   ends (its voice is freed and the level falls below the threshold).
// - The same with the mouse on the piano roll's keyboard (a canvas: the
//   test clicks where key 67 is drawn; the canvas lists held keys in
//   data-held).
// - Turning the track's mixer fader all the way down lowers the measured
//   output.
// - Thousands of commands written while the worklet runs all arrive, in
//   order (the engine's hash of applied commands matches the page's).

import { check, instrumentTrack, pageReady, startAudio, waitFor } from './lib.mjs';

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
  await pageReady(page);
  const track = await instrumentTrack(page, 'epiano');
  await startAudio(page);
  const idle = await page.evaluate(meter);
  check(idle.peak === 0 && idle.voices === 0, `silence before any key: ${JSON.stringify(idle)}`);
  await waitFor(page, (f) => Number(document.querySelector('#meter').dataset.frames) > f, idle.frames,
                'the engine to advance');

  // The computer keyboard (playing turned on with the ⌨ button): A is C4.
  await page.click('[data-testid="keys"]');
  await page.keyboard.down('a');
  await sounds(page, 'key A');
  const loud = await loudest(page, 300);
  await page.keyboard.up('a');
  await ends(page, 'the note of key A');
  t.log(`key A: peak ${loud.toFixed(4)} while held; after release no voices and peak < ${SILENT}`);

  // The mouse on the piano roll's keyboard: the middle of key 67's row.
  const roll = page.locator('canvas.roll-canvas');
  const box = await roll.boundingBox();
  check(box, 'no piano roll');
  // The wheel scrolls the keyboard until key 67 is in the grid's top half.
  for (let i = 0; i < 20; i++) {
    const top = await page.evaluate(() => globalThis.amp.daw.view.get().rollTopKey);
    if (top <= 67 + 6) break;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, 20);
    await page.waitForTimeout(20);
  }
  const y = await page.evaluate(() => {
    const v = globalThis.amp.daw.view.get();
    return 22 + (v.rollTopKey - 67) * v.rollKeyHeight + v.rollKeyHeight / 2;
  });
  await page.mouse.move(box.x + 20, box.y + y);
  await page.mouse.down();
  await sounds(page, 'the piano roll\'s G4');
  const held = await roll.evaluate((e) => e.dataset.held);
  check(held === '67', `the piano roll shows held keys "${held}", expected "67"`);
  await page.mouse.up();
  await ends(page, 'the piano roll\'s G4');
  t.log('mouse on the piano roll\'s keyboard: key 67 sounds and shows as held, and ends on release');

  // The track's fader in the mixer, all the way down with the keyboard
  // (Home: -inf), then one step up (-59.9 dB).
  await page.click('.dock-tabs >> text=Mixer');
  const fader = page.locator(`.strip[data-track="${track}"] input.fader`);
  await fader.focus();
  await page.keyboard.press('Home');
  const shown = await page.locator(`.strip[data-track="${track}"] .strip-value`).textContent();
  check(/-∞ dB/.test(shown ?? ''), `the fader shows ${shown} after Home`);
  const gain = await page.evaluate((id) => globalThis.amp.daw.store.doc.tracks.find((x) => x.id === id).fader.gain_db, track);
  check(gain === -150, `the document's gain is ${gain} dB after Home, expected -150`);
  await page.keyboard.press('ArrowUp');
  const up = await page.evaluate((id) => globalThis.amp.daw.store.doc.tracks.find((x) => x.id === id).fader.gain_db, track);
  check(Math.abs(up + 59.9) < 1e-9, `the document's gain is ${up} dB after Home and one step up, expected -59.9`);
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
  t.log(`fader to -59.9 dB: peak ${loud.toFixed(4)} -> ${quiet.toExponential(2)} ` +
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
  // The held clip light of the transport bar's master meter: a note through
  // a track fader and master at +24 dB lights it; it stays lit after the note ends, until
  // the meter is clicked.
  const page2 = await t.newPage();
  await pageReady(page2);
  const track2 = await instrumentTrack(page2, 'epiano');
  await startAudio(page2);
  await page2.evaluate((id) => {
    const daw = globalThis.amp.daw;
    daw.store.transact('loud', (d) => ({ ...d, tracks: d.tracks.map((x) => (x.id === id ? { ...x, fader: { gain_db: 24 } } : x)), master: { gain_db: 24 } }));
  }, track2);
  await page2.waitForTimeout(100);
  check(await page2.evaluate(() => document.querySelector('#meter').dataset.clipped) === '0', 'the clip light is on before the loud note');
  if (!await page2.evaluate(() => globalThis.amp.daw.ui.get().keysOn)) await page2.click('[data-testid="keys"]');
  await page2.locator('canvas.timeline-canvas').focus();
  await page2.keyboard.down('a');
  try {
    await waitFor(page2, () => document.querySelector('#meter').dataset.clipped === '1', null, 'the clip light to come on', 3000);
  } catch (e) {
    const st = await page2.evaluate(() => ({ d: { ...document.querySelector('#meter').dataset }, doc: globalThis.amp.daw.store.doc,
                                            m: globalThis.amp.daw.audio.meter('master'), focus: document.activeElement?.className }));
    throw new Error(`${e.message}: ${JSON.stringify(st).slice(0, 1500)}`);
  }
  await page2.keyboard.up('a');
  await ends(page2, 'the loud note');
  check(await page2.evaluate(() => document.querySelector('#meter').dataset.clipped) === '1', 'the clip light went off by itself');
  await page2.click('#meter');
  await waitFor(page2, () => document.querySelector('#meter').dataset.clipped === '0', null, 'a click to reset the clip light');
  t.log('track fader and master at +24 dB: the clip light of the transport bar\'s master meter came on, stayed on after the note ended, and a click reset it');
  check(page2.errors.length === 0, `page errors: ${page2.errors.join('; ')}`);
}
