// editor.mjs — the patch editor page (editor.html, web/src/editor/) on its
// own ampd (--local, a temporary --data, --library nodes, so the compile
// service and the patch library are there):
//
// 1. A patch with a mistake is typed into the editor by keyboard. 300 ms
//    after the last key the compile service answers, and the editor shows
//    ampc's error inline: at the line and column, with the message, that
//    build/ampc prints for the same text (read back from the editor and
//    compiled here), underlining the name it is about; hovering the range
//    shows the message. The Problems panel lists it.
// 2. The mistake is fixed by keyboard; the compile is ok, the module is
//    loaded into the page's running engine (started with the page's Start
//    audio button) as track 0's instrument, and a slider shows up for the
//    patch's param.
// 3. The on-screen A4 key is held with the mouse (a note on track 0); the
//    page's output is recorded (a ScriptProcessorNode on the engine's
//    node) and its frequency measured from its zero crossings: a sine at
//    A4 must be 440 Hz within 1 cent.
// 4. A failed compile leaves the last good patch playing: a new mistake
//    is typed, the error shows, the output is still the sine.
// 5. Save to the patch library (the Save button), reload the page, open it
//    from the Open list: the same text.
// Logged (not asserted): the edit-to-sound time of a fresh compile (cold:
// nothing cached on the server) and of one the server and the engine
// already had (warm: undo to a text compiled before).

import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildDir, check, recordOutput, repo, startAmpd, waitFor } from './lib.mjs';

const execFileAsync = promisify(execFile);

const LINES = [
  'import "std/osc.amp";',
  '',
  'patch editor_sine {',
  'voices 4 steal oldest;',
  'param level = -6 db in [-60 db, 0 db];',
  'voice {',
  'osc = sine(freq: note.freq);',
  'osc.y * note.gate * levl -> out;',
  '}',
  '}',
];

/** ampc's first diagnostic for `text` as patch.amp: {line, col, message}. */
export async function ampcSays(dir, text) {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'patch.amp'), text);
  try {
    await execFileAsync(path.join(buildDir, 'ampc'), ['--check', '-I', path.join(repo, 'nodes'), 'patch.amp'], { cwd: dir });
    return null;
  } catch (e) {
    const m = /^patch\.amp:(\d+):(\d+): error: (.*)$/m.exec(e.stderr);
    check(m, `ampc printed no error line: ${e.stderr}`);
    return { line: Number(m[1]), col: Number(m[2]), message: m[3] };
  }
}

/** Frequency of a recorded sine from its upward zero crossings (linear
 *  interpolation between samples): the median period, and the mean over
 *  the longest run of periods within 5 cents of the median (a real-time
 *  recording in headless chromium may drop or repeat a buffer: a jump in
 *  phase, counted as a glitch, not a wrong frequency). */
function measureFrequency(x, rate) {
  const crossings = [];
  for (let i = 1; i < x.length; i++)
    if (x[i - 1] < 0 && x[i] >= 0) crossings.push(i - 1 + x[i - 1] / (x[i - 1] - x[i]));
  const periods = [];
  for (let i = 1; i < crossings.length; i++) periods.push(crossings[i] - crossings[i - 1]);
  const sorted = [...periods].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const near = (p) => Math.abs(1200 * Math.log2(p / median)) < 5;
  let best = { from: 0, to: 0 }, from = 0, glitches = 0;
  for (let i = 0; i <= periods.length; i++) {
    if (i === periods.length || !near(periods[i])) {
      if (i - from > best.to - best.from) best = { from, to: i };
      if (i < periods.length) glitches++;
      from = i + 1;
    }
  }
  const run = best.to - best.from;
  const mean = (crossings[best.to] - crossings[best.from]) / run;
  return { median: rate / median, mean: rate / mean, periods: periods.length, run, glitches };
}

const cents = (f) => 1200 * Math.log2(f / 440);

/** Record `frames` of the page's engine output (channel 0). */
export function record(page, frames) {
  return recordOutput(page, 'editor', frames);
}

async function editorText(page) {
  return page.evaluate(() => globalThis.ampEditor.view.state.doc.toString());
}

async function lintState(page, seq) {
  await waitFor(page, (s) => globalThis.ampEditor.last && globalThis.ampEditor.last.seq > s &&
    globalThis.ampEditor.last.text === globalThis.ampEditor.view.state.doc.toString(), seq, 'a compile of the text', 30000);
  // The linter hands its result to the view right after the record is set.
  await page.waitForTimeout(50);
  return page.evaluate(() => ({
    seq: globalThis.ampEditor.last.seq, ok: globalThis.ampEditor.last.answer?.ok,
    diagnostics: globalThis.ampEditor.diagnostics(), record: globalThis.ampEditor.last,
  }));
}

export async function run(t) {
  const server = await startAmpd(['--local', '--data', path.join(t.tmp, 'editor-data'), '--library', path.join(repo, 'nodes')]);
  const context = await t.browser.newContext({ viewport: { width: 1280, height: 760 } });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${server.url}editor.html`);
    await waitFor(page, () => document.body.dataset.ready === '1', null, 'the editor to load', 15000);
    const nodes = await page.evaluate(() => globalThis.ampEditor.library.map((n) => n.name));
    check(nodes.includes('sine') && nodes.includes('adsr'), `the library's nodes for completion: ${nodes.join(', ')}`);

    // 1. Type the patch with a mistake.
    await page.click('.cm-content');
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    const seq0 = await page.evaluate(() => globalThis.ampEditor.seq);
    for (let i = 0; i < LINES.length; i++) {
      if (LINES[i]) await page.keyboard.insertText(LINES[i]);
      if (i < LINES.length - 1) await page.keyboard.press('Enter');
    }
    const bad = await lintState(page, seq0);
    const typed = await editorText(page);
    const want = await ampcSays(path.join(t.tmp, 'editor-ampc'), typed);
    check(want && want.message === "unknown name 'levl'", `ampc on the typed text: ${JSON.stringify(want)}`);
    check(bad.ok === false, 'the patch with a mistake compiled');
    const errs = bad.diagnostics.filter((d) => d.severity === 'error');
    check(errs.length === 1, `the editor shows ${errs.length} errors: ${JSON.stringify(bad.diagnostics)}`);
    const e = errs[0];
    check(e.line === want.line && e.col === want.col && e.message === want.message && e.text === 'levl',
          `the editor shows ${JSON.stringify(e)}; ampc says ${want.line}:${want.col}: ${want.message}`);
    const box = await page.locator('.cm-lintRange-error').first().boundingBox();
    check(box, 'no underlined range in the editor');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const tip = await waitFor(page, () => document.querySelector('.cm-tooltip-lint')?.textContent, null, 'the hover of the error');
    check(tip.includes(want.message), `the hover says '${tip}'`);
    const listed = await page.locator('.ed-problem.error').first().textContent();
    check(listed === `${want.line}:${want.col}${want.message}`, `the Problems panel says '${listed}'`);
    t.log(`typed ${typed.length} chars; inline error at ${e.line}:${e.col} on '${e.text}': "${e.message}", as build/ampc prints it ` +
          `(compile ${Math.round(bad.record.ms)} ms)`);

    // 2. Start audio, fix the mistake by keyboard.
    await page.click('#start');
    await waitFor(page, () => document.body.dataset.engine === 'running', null, 'the engine to start', 15000);
    await page.locator('.ed-problem.error').first().click();   // the cursor to the error
    await page.keyboard.press('Control+Shift+ArrowRight');
    const tFix = Date.now();
    await page.keyboard.type('level');
    await page.keyboard.press('Escape');                        // the completion popup
    const good = await lintState(page, bad.seq);
    check(good.ok === true, `the fixed patch did not compile: ${JSON.stringify(good.diagnostics)}`);
    check(good.diagnostics.length === 0, `diagnostics left: ${JSON.stringify(good.diagnostics)}`);
    check(await ampcSays(path.join(t.tmp, 'editor-ampc'), await editorText(page)) === null, 'ampc refuses the fixed text');
    await waitFor(page, () => globalThis.ampEditor.last?.playingMs !== undefined, null, 'the module to play', 15000);
    const cold = await page.evaluate(() => globalThis.ampEditor.last);
    const coldTotal = Date.now() - tFix;
    const slider = await page.locator('.ed-param[data-param="level"] input[type=range]').count();
    check(slider === 1, 'no slider for the param level');
    const current = await page.evaluate(() => globalThis.ampEditor.player.current);
    check(current && current.meta.name === 'editor_sine', `track 0 plays ${JSON.stringify(current?.meta?.name)}`);

    // 3. Hold A4 and measure the output.
    const key = page.locator('.ed-key[data-key="69"]');
    const kb = await key.boundingBox();
    await page.mouse.move(kb.x + kb.width / 2, kb.y + kb.height - 8);
    await page.mouse.down();
    await page.waitForTimeout(150);
    const rate = await page.evaluate(() => globalThis.ampEditor.player.context.sampleRate);
    const x = await record(page, 24000);
    const peak = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    check(peak > 0.05, `the note is silent (peak ${peak})`);
    const f = measureFrequency(x, rate);
    check(f.run >= 100 && Math.abs(cents(f.median)) < 1 && Math.abs(cents(f.mean)) < 1,
          `A4 measured ${f.median.toFixed(3)} Hz (median period), ${f.mean.toFixed(3)} Hz (mean of ${f.run} periods), ` +
          'want 440 within 1 cent over at least 100 periods');
    t.log(`A4 held on the on-screen keys: ${f.median.toFixed(4)} Hz median period, ${f.mean.toFixed(4)} Hz over a run of ` +
          `${f.run} of ${f.periods} periods (${cents(f.mean).toFixed(4)} cents; ${f.glitches} recording glitches), peak ${peak.toFixed(3)}`);

    // 4. A new mistake: the error shows, the sine keeps playing.
    await page.evaluate(() => globalThis.ampEditor.view.focus());   // the mouse still holds the key
    await page.keyboard.press('Control+End');
    await page.keyboard.type('x');
    const broken = await lintState(page, good.seq);
    check(broken.ok === false && broken.diagnostics.some((d) => d.severity === 'error'), 'the trailing x did not fail');
    await page.screenshot({ path: path.join(buildDir, 'web-editor.png') });   // playing, with the error shown
    // Half a second, so a dropout of the real-time recording on a loaded
    // machine (it breaks the run of periods) still leaves a run of 50.
    const y = await record(page, 24000);
    const g = measureFrequency(y, rate);
    check(g.run >= 50 && Math.abs(cents(g.mean)) < 1,
          `after a failed compile the output is ${g.mean.toFixed(3)} Hz (longest run ${g.run} of ${g.periods} periods, ${g.glitches} glitches)`);
    await page.mouse.up();
    t.log(`a failed compile ("${broken.diagnostics[0].message}") left the sine playing: ${g.mean.toFixed(4)} Hz`);

    // Warm: undo to the text compiled before (cached on the server, module loaded).
    await page.keyboard.press('Control+Z');
    const tWarm = Date.now();
    const warmState = await lintState(page, broken.seq);
    check(warmState.ok === true, 'undo did not bring back the good text');
    await waitFor(page, (s) => globalThis.ampEditor.last?.seq === s && globalThis.ampEditor.last.playingMs !== undefined,
                  warmState.seq, 'the warm module to play', 15000);
    const warm = await page.evaluate(() => globalThis.ampEditor.last);
    const warmTotal = Date.now() - tWarm;
    t.log(`edit to sound: cold ${Math.round(cold.playingMs)} ms (compile ${Math.round(cold.ms)} ms, module load ` +
          `${cold.loadMs.toFixed(1)} ms; ${coldTotal} ms from the first key with the 300 ms pause), warm ` +
          `${Math.round(warm.playingMs)} ms (compile ${Math.round(warm.ms)} ms cached=${warm.answer.cached}; ${warmTotal} ms from the key)`);

    // 5. Save, reload, open.
    await page.fill('.ed-name', 'editor sine');
    await page.click('[data-testid="save"]');
    const saved = await waitFor(page, () => document.body.dataset.saved, null, 'the save');
    const text = await editorText(page);
    await page.reload();
    await waitFor(page, () => document.body.dataset.ready === '1', null, 'the editor to load again', 15000);
    const id = saved.split(':')[0];
    await page.selectOption('.ed-open', `id:${id}`);
    await waitFor(page, (want) => globalThis.ampEditor.view.state.doc.toString() === want, text, 'the saved text to open');
    check(await page.inputValue('.ed-name') === 'editor sine', 'the name did not come back');
    t.log(`saved as ${saved}, reopened after a reload: ${text.length} chars, the same text`);

    // Completion and hover from the library's files.
    await page.click('.cm-content');
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('ads');
    const offered = await waitFor(page, () => [...document.querySelectorAll('.cm-tooltip-autocomplete li')]
      .map((li) => li.textContent).join('|') || null, null, 'the completion list');
    check(offered.split('|').some((o) => o.startsWith('adsr')), `typing 'ads' offers ${offered}`);
    await page.keyboard.press('Escape');
    const word = page.locator('.cm-line', { hasText: 'osc = sine(' }).first();
    const wb = await word.boundingBox();
    const sinePos = await page.evaluate(() => {
      const v = globalThis.ampEditor.view;
      const at = v.state.doc.toString().indexOf('sine(') + 2;
      const r = v.coordsAtPos(at);
      return { x: (r.left + r.right) / 2, y: (r.top + r.bottom) / 2 };
    });
    check(wb, 'no line with sine');
    await page.mouse.move(sinePos.x, sinePos.y);
    const sig = await waitFor(page, () => document.querySelector('.amp-hover-sig')?.textContent, null, 'the hover on sine');
    check(sig === 'sine(freq:, phase0:) → y', `the hover on sine says '${sig}'`);
    t.log(`typing 'ads' offers ${offered.split('|').slice(0, 3).join(', ')}…; the hover on sine says '${sig}'`);

    check(errors.length === 0, `page errors: ${errors.join(' | ')}`);
  } finally {
    await context.close();
    await server.close();
  }
}
