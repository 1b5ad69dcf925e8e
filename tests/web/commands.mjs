// commands.mjs — the command ring from the page to the worklet, and on
// into the multi-track engine (runtime/wasm/wasm_main.c holds each command until
// its quantum, then engine_commands.c maps it onto the engine, runtime/engine/).
//
// 1. A burst: 1000 commands written at once, four times what the engine
//    takes in one quantum, all arrive, in order: after the first quantum
//    only part of them has been applied, after the render every one, and
//    the engine's running hash of the commands it applied (in the order
//    applied) equals the page's hash of the commands it wrote; none was
//    refused by the engine.
//    And a burst of instrument changes larger than a patch's stock of ready
//    nodes (2): the ones past the stock wait for amp_refill to make more,
//    and all arrive, in order, none refused.
// 2. Sample accuracy: a note-on stamped at frame 256 + k starts sounding
//    at the same distance from 256 + k for every k in the quantum, and a
//    param change stamped at 256 + k first changes the output at frame
//    256 + k exactly.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { check, waitFor, webDir, pageReady } from './lib.mjs';
import { renderOffline } from './offline.mjs';

const RATE = 48000;
const BURST = 1000;

/** Runs in the page: 1000 set_param commands at time 0 into a fresh
 *  engine, the state after the first quantum, and after all. */
async function burstInPage({ patch, param, lo, hi, count }) {
  const lib = globalThis.ampLib;
  const files = (globalThis.ampTestFiles ??= await lib.loadEngineFiles(new URL('./', location.href)));
  const frames = 128 * 16;
  const context = new OfflineAudioContext(2, frames, 48000);
  const client = await lib.EngineClient.start(context, files);
  client.node.connect(context.destination);
  let written = client.commands.selectPatch(0, patch) ? 1 : 0;
  for (let i = 0; i < count; i++)
    if (client.commands.setParam(0, param, lo + ((hi - lo) * i) / count)) written++;
  let afterFirst = null;
  const suspended = context.suspend(128 / 48000).then(() => {
    afterFirst = client.snapshot();
    return context.resume();
  });
  await context.startRendering();
  await suspended;
  return { written, hash: client.commands.hash, afterFirst, end: client.snapshot() };
}

/** Runs in the page: `count` set_instrument commands at time 0, cycling
 *  through `patches` (so each patch is taken more often than its stock). */
async function changesInPage({ patches, count }) {
  const lib = globalThis.ampLib;
  const files = (globalThis.ampTestFiles ??= await lib.loadEngineFiles(new URL('./', location.href)));
  const context = new OfflineAudioContext(2, 128 * 16, 48000);
  const client = await lib.EngineClient.start(context, files);
  client.node.connect(context.destination);
  let written = 0, last = -1;
  for (let i = 0; i < count; i++) {
    last = patches[Math.floor((i * patches.length) / count)];
    if (client.commands.selectPatch(0, last)) written++;
  }
  await context.startRendering();
  return { written, last, hash: client.commands.hash, end: client.snapshot() };
}

function firstNonZero(channels, from = 0) {
  for (let i = from; i < channels[0].length; i++)
    if (channels.some((c) => c[i] !== 0)) return i;
  return -1;
}

function firstDifference(a, b) {
  for (let i = 0; i < a[0].length; i++)
    if (a.some((c, ch) => c[i] !== b[ch][i])) return i;
  return -1;
}

export async function run(t) {
  const manifest = JSON.parse(await readFile(path.join(webDir, 'engine.json'), 'utf8'));
  const instrument = (name) => manifest.patches.find((p) => p.unit === name) ??
    manifest.patches.find((p) => p.meta.kind === 'instrument');
  const page = await t.newPage();
  await pageReady(page);

  // 1. The burst.
  const pad = instrument('pad');
  const cutoff = pad.meta.params[0];
  const b = await page.evaluate(burstInPage, { patch: pad.index, param: cutoff.index,
                                               lo: cutoff.min, hi: cutoff.max, count: BURST });
  check(b.written === BURST + 1, `the ring took ${b.written} of ${BURST + 1} commands`);
  check(b.afterFirst && b.afterFirst.commandsApplied > 0 && b.afterFirst.commandsApplied < b.written,
        `after the first quantum ${b.afterFirst?.commandsApplied} commands were applied (expected some, not all)`);
  check(b.end.commandsApplied === b.written, `applied ${b.end.commandsApplied} of ${b.written}`);
  check(b.end.commandsRejected === 0 && b.end.ringErrors === 0 && b.end.commandsRefused === 0 &&
        b.end.engineRefusals === 0,
        `rejected ${b.end.commandsRejected}, ring errors ${b.end.ringErrors}, refused ${b.end.commandsRefused}, ` +
        `failed at their time ${b.end.engineRefusals}`);
  check(b.end.commandHash === b.hash,
        `hash of applied commands ${b.end.commandHash} != hash of written ${b.hash}: lost or reordered`);
  t.log(`burst: ${b.written} commands, ${b.afterFirst.commandsApplied} applied in the first quantum, ` +
        `all ${b.end.commandsApplied} in order by the end (hash ${b.hash.toString(16)})`);

  // 1b. Instrument changes past the stock of ready nodes.
  const CHANGES = 9;
  const c = await page.evaluate(changesInPage, { patches: [pad.index, instrument('epiano').index], count: CHANGES });
  check(c.written === CHANGES, `the ring took ${c.written} of ${CHANGES} instrument changes`);
  check(c.end.commandsApplied === c.written && c.end.commandHash === c.hash,
        `applied ${c.end.commandsApplied} of ${c.written} instrument changes (hashes ${c.end.commandHash === c.hash ? 'equal' : 'differ'})`);
  check(c.end.commandsRefused === 0 && c.end.engineRefusals === 0,
        `instrument changes refused: ${c.end.commandsRefused}, failed at their time: ${c.end.engineRefusals}`);
  check(c.end.waits > 0, 'no instrument change waited for a ready node (the burst did not exceed the stock)');
  check(c.end.patch === c.last, `track 0 plays registry entry ${c.end.patch}, the last change was to ${c.last}`);
  t.log(`${CHANGES} instrument changes at one time: ${c.end.waits} quanta waited for ready nodes, all applied ` +
        'in order, none refused');

  // 2a. A note-on at 256 + k sounds from 256 + k + latency, latency the same for all k.
  const drums = instrument('drums');
  const offsets = [0, 1, 2, 37, 64, 126, 127];
  const frames = 128 * 6;
  let latency = null;
  for (const k of offsets) {
    const at = 256 + k;
    const r = await renderOffline(page, { patch: drums.index, frames, rate: RATE, input: null,
      commands: [{ kind: 'on', frame: at, id: 1, key: 38, velocity: 1 }] });
    const first = firstNonZero(r.channels);
    check(first >= at, `note stamped at ${at} sounded from ${first}`);
    latency ??= first - at;
    check(first - at === latency, `note at offset ${k}: sound from ${first}, ${first - at} after its stamp (offset 0: ${latency})`);
  }
  check(latency <= 1, `a note sounds ${latency} samples after its stamp`);
  t.log(`note-on at 256+k sounds from sample 256+k+${latency} for k in ${offsets.join(', ')}`);

  // 2b. A param change at 256 + k changes the output from 256 + k on.
  const epiano = instrument('epiano');
  const volume = epiano.meta.params.find((p) => p.unit === 'dB') ?? epiano.meta.params[0];
  const base = [{ kind: 'on', frame: 0, id: 1, key: 60, velocity: 0.9 }];
  const reference = await renderOffline(page, { patch: epiano.index, frames, rate: RATE, input: null, commands: base });
  for (const k of offsets) {
    const at = 256 + k;
    const r = await renderOffline(page, { patch: epiano.index, frames, rate: RATE, input: null,
      commands: [...base, { kind: 'param', frame: at, param: volume.index, value: volume.min }] });
    const d = firstDifference(reference.channels, r.channels);
    check(d === at, `${volume.name} stamped at ${at} first changed the output at ${d}`);
  }
  t.log(`${epiano.unit}.${volume.name} stamped at 256+k changes the output from sample 256+k exactly`);
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
