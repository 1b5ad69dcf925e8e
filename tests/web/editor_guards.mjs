// editor_guards.mjs — the editor page and the engine's guards, and two
// editor tabs on one library patch, on its own ampd (--local, a temporary
// --data, --library nodes):
//
// 1. NaN: tests/fixtures/nan_mix.amp (0 / 0 at random samples) is put in
//    the editor; it compiles and plays on track 0; the engine's signal
//    guard silences it and the Play panel says so naming the patch (the
//    DAW's sentence, ui/faults.tsx faultLines, from the state region's
//    per-track faults count); the page's output stays finite. A good patch
//    swapped in: Dismiss closes the report and no new one opens.
// 2. Two tabs: tab A saves a new patch (revision 1), tab B opens it. A
//    saves again (revision 2): B is told (the `amp-patches`
//    BroadcastChannel) and offered to load it. B, not loading, edits and
//    saves: ampd refuses it (412), B says so, B's text is still in B's
//    editor and the server still has A's. B saves its text over it
//    (revision 3); A is told and loads revision 3: B's text.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { check, repo, startAmpd, waitFor } from './lib.mjs';
import { record } from './editor.mjs';

const GOOD = `import "std/osc.amp";
patch calm {
  voices 2;
  voice { s = sine(freq: note.freq); s.y * note.gate * 0.2 -> out; }
}
`;

async function openEditor(context, url, hash = '') {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  await page.goto(`${url}editor.html${hash}`);
  await waitFor(page, () => document.body.dataset.ready === '1', null, 'the editor to load', 15000);
  return page;
}

async function setText(page, text) {
  await page.evaluate((s) => {
    const v = globalThis.ampEditor.view;
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: s } });
  }, text);
}

const textOf = (page) => page.evaluate(() => globalThis.ampEditor.view.state.doc.toString());

async function playing(page, unit) {
  await waitFor(page, (u) => globalThis.ampEditor.last?.playingMs !== undefined &&
    globalThis.ampEditor.last.text === globalThis.ampEditor.view.state.doc.toString() &&
    globalThis.ampEditor.player.current?.meta?.name === u, unit, `${unit} to play`, 30000);
}

export async function run(t) {
  const server = await startAmpd(['--local', '--data', path.join(t.tmp, 'editor-guards-data'), '--library', path.join(repo, 'nodes')]);
  const context = await t.browser.newContext({ viewport: { width: 1280, height: 760 } });
  try {
    // 1. NaN.
    const page = await openEditor(context, server.url);
    await page.click('#start');
    await waitFor(page, () => document.body.dataset.engine === 'running', null, 'the engine to start', 15000);
    check(await page.locator('.ed-fault').isHidden(), 'a fault is shown before any patch played');
    const nanText = await readFile(path.join(repo, 'tests', 'fixtures', 'nan_mix.amp'), 'utf8');
    await setText(page, nanText);
    await playing(page, 'nan_mix');
    const fault = await waitFor(page, () => document.body.dataset.faults !== undefined && document.body.dataset.faults !== '0' &&
      document.querySelector('.ed-fault-text')?.textContent, null, 'the guard report', 15000);
    check(/^Track "Editor": instrument "nan_mix" gave NaN\/Inf or an out-of-range level and was silenced \(\d+ blocks? muted\)\.$/.test(fault),
          `the fault says: ${fault}`);
    check(await page.locator('.ed-fault').isVisible(), 'the fault box is not visible');
    const y = await record(page, 8192);
    check(y.every((v) => Number.isFinite(v)), 'the page output has NaN/Inf');
    t.log(`nan_mix in the editor: "${fault}"; the output stayed finite (8192 frames)`);
    await setText(page, GOOD);
    await playing(page, 'calm');
    await page.click('.ed-fault button');
    await waitFor(page, () => document.body.dataset.faults === '0', null, 'the report to close');
    await page.waitForTimeout(500);
    check(await page.evaluate(() => document.body.dataset.faults) === '0', 'a new report opened after the good patch played');
    t.log('a good patch swapped in, Dismiss: the report closed, no new one');

    // 2. Two tabs.
    const a = page;
    await setText(a, GOOD);
    await a.fill('.ed-name', 'two tabs');
    await a.click('[data-testid="save"]');
    const saved1 = await waitFor(a, () => document.body.dataset.saved, null, 'the first save');
    const [id, rev1] = saved1.split(':');
    check(rev1 === '1', `the first save is revision ${rev1}`);
    const b = await openEditor(context, server.url, `#id:${id}`);
    await waitFor(b, (s) => globalThis.ampEditor.view.state.doc.toString() === s, GOOD, 'tab B to open the patch');
    const textA2 = GOOD.replace('0.2', '0.25');
    await setText(a, textA2);
    await a.click('[data-testid="save"]');
    await waitFor(a, (w) => document.body.dataset.saved === w, `${id}:2`, 'the second save');
    const told = await waitFor(b, () => document.querySelector('.ed-notice[data-kind="newer"]:not([hidden])')?.textContent, null,
                               'tab B to learn of revision 2', 10000);
    check(told.includes('saved in another tab as revision 2') && told.includes('this tab has revision 1'), `tab B says: ${told}`);
    // B keeps its own text, edits and saves: a 412.
    const textB = GOOD.replace('0.2', '0.15');
    await setText(b, textB);
    await b.click('[data-testid="save"]');
    const conflict = await waitFor(b, () => document.body.dataset.conflict, null, 'the conflict', 10000);
    check(conflict === `${id}:2`, `the conflict is ${conflict}`);
    const said = await b.locator('.ed-notice[data-kind="conflict"]').textContent();
    check(said.includes('Not saved: revision 2 of "two tabs" was saved elsewhere since this tab\'s revision 1 (412)'),
          `tab B says: ${said}`);
    check(await textOf(b) === textB, 'tab B lost its text');
    const onServer = await b.evaluate((i) => globalThis.ampEditor.api.getPatch(i), id);
    check(onServer.revision === 2 && onServer.text === textA2, `the server has revision ${onServer.revision}: the stale save wrote`);
    t.log(`tab B told of revision 2 ("${told.slice(0, 60)}…"); its stale save: "${said.slice(0, 90)}…"; its text kept, the server's untouched`);
    // B saves over; A learns of it and loads it.
    await b.click('[data-testid="save-over"]');
    await waitFor(b, (w) => document.body.dataset.saved === w, `${id}:3`, 'the save over revision 2');
    await waitFor(a, () => document.querySelector('.ed-notice[data-kind="newer"]:not([hidden])'), null, 'tab A to learn of revision 3', 10000);
    await a.click('.ed-notice [data-testid="load-newer"]');
    await waitFor(a, (s) => globalThis.ampEditor.view.state.doc.toString() === s, textB, 'tab A to load revision 3');
    check(await a.evaluate(() => globalThis.ampEditor.revision) === 3, 'tab A is not at revision 3');
    t.log('tab B saved over it as revision 3; tab A loaded it: the same text');
    // The refused PUT is logged by Chromium itself as a failed resource: expected once.
    const refused = b.errors.filter((e) => /status of 412/.test(e));
    check(refused.length === 1, `the 412 was logged ${refused.length} times`);
    b.errors = b.errors.filter((e) => !/status of 412/.test(e));
    for (const p of [a, b]) check(p.errors.length === 0, `page errors: ${p.errors.join(' | ')}`);
  } finally {
    await context.close();
    await server.close();
  }
}
