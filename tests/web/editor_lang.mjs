// editor_lang.mjs — the editor and the language of lang/SPEC.md §4, §8,
// §9 (functions, tables, loops, arrays of instances, reductions, imports
// with a name), on its own ampd (--local, a temporary --data, --library
// nodes):
//
// 1. A patch using `import … as o`, `fn`, `table`, `for k in 0..3`, an
//    array of instances and `sum` is typed by keyboard; it compiles (no
//    diagnostics, build/ampc agrees), its module plays on track 0, and a
//    held A4 sounds: the output's autocorrelation peaks at the period of
//    440 Hz (the sum of harmonics 1, 2, 3).
// 2. The tokens carry the right classes (amp-tok-*, ampTokenClasses):
//    fn/for/in/table/as/import keywords, `..` a range, `0` and `3` around it
//    numbers, `sum` a reduction, `half` a function's definition, `ratios` a
//    table's, `o` an import's name.
// 3. Completion: after `o.` exactly the nodes and functions of
//    nodes/std/osc.amp (read here from the file); `ha` offers the text's
//    own function `half`, `rat` its table `ratios`. Hover on `for` and on
//    `sum` shows their help from SPEC.md.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { check, repo, startAmpd, waitFor } from './lib.mjs';
import { ampcSays, record } from './editor.mjs';

export const LINES = [
  'import "std/osc.amp" as o;',
  'import "std/env.amp";',
  '',
  'fn half(x) = x * 0.5;',
  '',
  'patch editor_fns {',
  'voices 4;',
  'table ratios = [1, 2, 3];',
  'voice {',
  'for k in 0..3 {',
  's[k] = o.sine(freq: note.freq * ratios[k]);',
  '}',
  'e = ar(attack: 2 ms, release: 50 ms, gate: note.gate);',
  'half(sum(s.y)) * e.y * 0.3 -> out;',
  '}',
  '}',
];

/** Type `lines` into the editor (emptied first), one line at a time. */
export async function typeLines(page, lines) {
  await page.click('.cm-content');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]) await page.keyboard.insertText(lines[i]);
    if (i < lines.length - 1) await page.keyboard.press('Enter');
  }
}

/** The lag (in samples, from lo to hi) where x's normalized
 *  autocorrelation is highest, refined by a parabola. */
function period(x, lo, hi) {
  let best = lo, bestR = -Infinity;
  const r = [];
  for (let lag = lo - 1; lag <= hi + 1; lag++) {
    let s = 0, a = 0, b = 0;
    for (let i = 0; i + lag < x.length; i++) { s += x[i] * x[i + lag]; a += x[i] * x[i]; b += x[i + lag] * x[i + lag]; }
    r[lag] = s / Math.sqrt(a * b || 1);
  }
  for (let lag = lo; lag <= hi; lag++) if (r[lag] > bestR) { bestR = r[lag]; best = lag; }
  const y0 = r[best - 1], y1 = r[best], y2 = r[best + 1];
  const d = (y0 - y2) / (2 * (y0 - 2 * y1 + y2) || 1);
  return { lag: best + d, r: bestR };
}

async function tokenClasses(page) {
  return page.evaluate(() => [...document.querySelectorAll('.cm-content [class*="amp-tok-"]')]
    .map((e) => [[...e.classList].filter((c) => c.startsWith('amp-tok-')).join(' '), e.textContent]));
}

async function completions(page, typed) {
  await page.keyboard.type(typed);
  const offered = await waitFor(page, () => [...document.querySelectorAll('.cm-tooltip-autocomplete li .cm-completionLabel')]
    .map((li) => li.textContent).join('|') || null, null, `the completion list after '${typed}'`);
  await page.keyboard.press('Escape');
  for (let i = 0; i < typed.length; i++) await page.keyboard.press('Backspace');
  return offered.split('|');
}

async function hoverWord(page, word) {
  const at = await page.evaluate((w) => {
    const v = globalThis.ampEditor.view;
    const i = v.state.doc.toString().search(new RegExp(`(?<![A-Za-z0-9_])${w}(?![A-Za-z0-9_])`));
    const r = v.coordsAtPos(i + 1);
    return { x: (r.left + r.right) / 2, y: (r.top + r.bottom) / 2 };
  }, word);
  await page.mouse.move(0, 0);
  await page.waitForTimeout(150);
  await page.mouse.move(at.x, at.y);
  return waitFor(page, () => document.querySelector('.amp-hover-keyword')?.textContent, null, `the hover on '${word}'`);
}

export async function run(t) {
  const server = await startAmpd(['--local', '--data', path.join(t.tmp, 'editor-lang-data'), '--library', path.join(repo, 'nodes')]);
  const context = await t.browser.newContext({ viewport: { width: 1280, height: 760 } });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${server.url}editor.html`);
    await waitFor(page, () => document.body.dataset.ready === '1', null, 'the editor to load', 15000);
    await page.click('#start');
    await waitFor(page, () => document.body.dataset.engine === 'running', null, 'the engine to start', 15000);

    // 1. Type it; it compiles and plays.
    const seq0 = await page.evaluate(() => globalThis.ampEditor.seq);
    await typeLines(page, LINES);
    await page.keyboard.press('Escape');
    await waitFor(page, (s) => globalThis.ampEditor.last && globalThis.ampEditor.last.seq > s &&
      globalThis.ampEditor.last.text === globalThis.ampEditor.view.state.doc.toString() &&
      globalThis.ampEditor.last.playingMs !== undefined, seq0, 'the typed patch to compile and play', 30000);
    const state = await page.evaluate(() => ({ last: globalThis.ampEditor.last, diagnostics: globalThis.ampEditor.diagnostics(),
                                               current: globalThis.ampEditor.player.current?.meta?.name,
                                               text: globalThis.ampEditor.view.state.doc.toString() }));
    check(state.last.answer.ok === true && state.diagnostics.length === 0, `the typed patch: ${JSON.stringify(state.diagnostics)}`);
    check(await ampcSays(path.join(t.tmp, 'editor-lang-ampc'), state.text) === null, 'build/ampc refuses the typed text');
    check(state.current === 'editor_fns', `track 0 plays ${state.current}`);
    await page.evaluate(() => globalThis.ampEditor.noteOn(69));
    await page.waitForTimeout(150);
    const rate = await page.evaluate(() => globalThis.ampEditor.player.context.sampleRate);
    const x = await record(page, 8192);
    await page.evaluate(() => globalThis.ampEditor.noteOff(69));
    const peak = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    check(peak > 0.05, `the held A4 is silent (peak ${peak})`);
    const p = period(x.slice(0, 4096), Math.floor(rate / 600), Math.ceil(rate / 300));
    const f = rate / p.lag;
    check(Math.abs(1200 * Math.log2(f / 440)) < 5 && p.r > 0.95,
          `the held A4's autocorrelation peaks at ${p.lag.toFixed(3)} samples (${f.toFixed(2)} Hz, r ${p.r.toFixed(4)}), want 440 Hz`);
    t.log(`typed ${state.text.length} chars (fn, table, for 0..3, s[k] = o.sine, sum(s.y)): compiled, playing ` +
          `${Math.round(state.last.playingMs)} ms after the check; A4 peak ${peak.toFixed(3)}, period ${f.toFixed(3)} Hz (r ${p.r.toFixed(4)})`);

    // 2. The tokens' classes.
    const toks = await tokenClasses(page);
    const has = (cls, text) => toks.some(([c, s]) => c === cls && s === text);
    const want = [['amp-tok-keyword', 'fn'], ['amp-tok-keyword', 'for'], ['amp-tok-keyword', 'in'], ['amp-tok-keyword', 'table'],
                  ['amp-tok-keyword', 'as'], ['amp-tok-keyword', 'import'], ['amp-tok-range', '..'], ['amp-tok-number', '0'],
                  ['amp-tok-number', '3'], ['amp-tok-reduction', 'sum'], ['amp-tok-fn-def', 'half'], ['amp-tok-call', 'half'],
                  ['amp-tok-table-def', 'ratios'], ['amp-tok-namespace', 'o'], ['amp-tok-unit', 'ms'], ['amp-tok-string', '"std/osc.amp"']];
    const missing = want.filter(([c, s]) => !has(c, s));
    check(!missing.length, `tokens without their class: ${JSON.stringify(missing)}; got ${JSON.stringify(toks)}`);
    check(!toks.some(([, s]) => s === '0.' || s === '.3'), `'0..3' split as numbers: ${JSON.stringify(toks)}`);
    t.log(`token classes: ${want.map(([c, s]) => `${s}=${c.slice(8)}`).join(' ')}`);

    // 3. Completion and hover.
    const osc = await readFile(path.join(repo, 'nodes', 'std', 'osc.amp'), 'utf8');
    const members = [...osc.matchAll(/^(?:node|patch|fn)\s+([A-Za-z_][A-Za-z0-9_]*)/gm)].map((m) => m[1]).sort();
    await page.evaluate(() => {
      const v = globalThis.ampEditor.view;
      const at = v.state.doc.toString().indexOf('e = ar(');
      v.dispatch({ changes: { from: at, insert: '\n' }, selection: { anchor: at } });
      v.focus();
    });
    const afterLib = (await completions(page, 'x = o.')).sort();
    check(JSON.stringify(afterLib) === JSON.stringify(members),
          `after 'o.' the editor offers ${afterLib.join(', ')}; std/osc.amp has ${members.join(', ')}`);
    const own = await completions(page, 'ha');
    check(own.includes('half'), `'ha' offers ${own.join(', ')}`);
    const tab = await completions(page, 'rat');
    check(tab.includes('ratios'), `'rat' offers ${tab.join(', ')}`);
    await page.keyboard.press('Escape');
    const forHelp = await hoverWord(page, 'for');
    check(forHelp.startsWith('for') && forHelp.includes('k = a … b − 1'), `the hover on 'for' says '${forHelp}'`);
    const sumHelp = await hoverWord(page, 'sum');
    check(sumHelp.includes('balanced tree'), `the hover on 'sum' says '${sumHelp}'`);
    t.log(`after 'o.': ${afterLib.join(', ')} (std/osc.amp's nodes and functions); 'ha' → half, 'rat' → ratios; ` +
          `hover on for/sum: their SPEC help`);
    check(errors.length === 0, `page errors: ${errors.join(' | ')}`);
  } finally {
    await context.close();
    await server.close();
  }
}
