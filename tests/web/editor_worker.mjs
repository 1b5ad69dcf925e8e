// editor_worker.mjs — the editor's diagnostics as you type come from ampc
// itself, compiled to WebAssembly (build/web/ampc.wasm) and run in a worker
// (web/src/editor/ampc-worker.ts), with no server round trip. On its own
// ampd (--local, a temporary --data, --library nodes):
//
// 1. With every POST /api/compile blocked (page.route aborts it; the
//    requests are counted), texts with different mistakes are typed into
//    the editor by keyboard: an unknown name, a unit mismatch, a syntax
//    error, an unknown import, an import that leaves the library ('..').
//    For each, the worker's text is byte for byte what build/ampc prints
//    for the same text as ampd's compile service runs it (`ampc patch.amp
//    --check --confine -I lib` in a folder holding patch.amp and lib, a
//    link to nodes/), and the editor shows its first error inline at
//    ampc's line and column with ampc's message, on the word the worker
//    marks (its end column). No compile request was made for them.
// 2. A correct text: the worker finds no problems and the server (now
//    allowed) builds its module: exactly one compile request.
// 3. A Faust import: the worker leaves it to the server (status faust),
//    whose diagnostics show; the page says the server checked it.
// 4. A page where ampc.wasm cannot be loaded: the page says the in-page
//    checker did not start, and a mistake's diagnostics come from the
//    server, still ampc's message at its line and column.
// Printed: the worker's start time and its check time per edit (in the
// worker, and from the page's request to the answer) over the cases and
// over 40 checks of each patch of nodes/ (for BENCHMARKS.md).

import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildDir, check, repo, startAmpd, waitFor } from './lib.mjs';

const execFileAsync = promisify(execFile);

const SINE = (body, imports = ['import "std/osc.amp";']) => [
  ...imports,
  '',
  'patch worker_sine {',
  'voices 4 steal oldest;',
  'param level = -6 db in [-60 db, 0 db];',
  'param cutoff = 2000 hz in [20 hz, 20000 hz];',
  'voice {',
  ...body,
  '}',
  '}',
];

const CASES = [
  { name: 'unknown name', lines: SINE(['osc = sine(freq: note.freq);', 'osc.y * note.gate * levl -> out;']),
    want: "unknown name 'levl'" },
  { name: 'unit mismatch', lines: SINE(['osc = sine(freq: note.freq + 10 ms);', 'osc.y * note.gate * level -> out;']),
    want: 'cannot add a frequency (Hz) and a time (s)' },
  { name: 'syntax error', lines: SINE(['osc = sine(freq: note.freq;', 'osc.y * note.gate * level -> out;']),
    want: null },
  { name: 'unknown import', lines: SINE(['osc = sine(freq: note.freq);', 'osc.y * note.gate * level -> out;'],
                                        ['import "std/osc.amp";', 'import "std/nope.amp";']),
    want: "cannot find 'std/nope.amp' (looked next to this file and in 1 include directory)" },
  { name: 'import outside the library', lines: SINE(['osc = sine(freq: note.freq);', 'osc.y * note.gate * level -> out;'],
                                                    ['import "../nodes/std/osc.amp";']),
    want: "'../nodes/std/osc.amp': an import here names a file of the library by a relative path (no leading '/', no '..')" },
];
const GOOD = SINE(['osc = sine(freq: note.freq);', 'osc.y * note.gate * level -> out;']);
const FAUST = [
  'import faust "faust/ladder.dsp" as ladder;',
  '',
  'patch worker_faust {',
  'f = ladder(cutoff: 2 s, in0: 1);',
  'f.out0 -> out;',
  '}',
];

/** build/ampc's stderr for `text` as ampd's compile service checks it. */
async function ampcSays(dir, text) {
  await mkdir(dir, { recursive: true });
  await symlink(path.join(repo, 'nodes'), path.join(dir, 'lib')).catch((e) => { if (e.code !== 'EEXIST') throw e; });
  await writeFile(path.join(dir, 'patch.amp'), text);
  try {
    await execFileAsync(path.join(buildDir, 'ampc'), ['patch.amp', '--check', '--confine', '-I', 'lib'], { cwd: dir });
    return { ok: true, stderr: '' };
  } catch (e) {
    return { ok: false, stderr: e.stderr };
  }
}

async function typeText(page, lines) {
  await page.click('.cm-content');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]) await page.keyboard.insertText(lines[i]);
    if (i < lines.length - 1) await page.keyboard.press('Enter');
  }
}

/** The editor's state once the worker has checked the current text and
 *  the linter has shown it. */
async function checked(page) {
  await waitFor(page, () => {
    const e = globalThis.ampEditor, text = e.view.state.doc.toString();
    return e.lastCheck?.text === text && e.last?.text === text;
  }, null, 'a check of the text', 20000);
  await page.waitForTimeout(50);
  return page.evaluate(() => ({
    text: globalThis.ampEditor.view.state.doc.toString(),
    check: globalThis.ampEditor.lastCheck,
    last: { from: globalThis.ampEditor.last.from, ok: globalThis.ampEditor.last.answer?.ok },
    diagnostics: globalThis.ampEditor.diagnostics(),
    checker: document.body.dataset.checker,
    note: document.querySelector('.ed-checker')?.textContent,
  }));
}

const HEAD = /^patch\.amp:(\d+):(\d+): error: (.*)$/m;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(t) {
  const server = await startAmpd(['--local', '--data', path.join(t.tmp, 'editor-worker-data'), '--library', path.join(repo, 'nodes')]);
  const context = await t.browser.newContext({ viewport: { width: 1280, height: 760 } });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    let compiles = 0, blocked = true;
    await page.route('**/api/compile', (route) => {
      compiles++;
      return blocked ? route.abort() : route.continue();
    });
    await page.goto(`${server.url}editor.html`);
    await waitFor(page, () => document.body.dataset.ready === '1' && globalThis.ampEditor.checker.state !== 'starting',
                  null, 'the editor and its checker to load', 20000);
    const started = await page.evaluate(() => ({ state: globalThis.ampEditor.checker.state, reason: globalThis.ampEditor.checker.reason,
                                                 startMs: globalThis.ampEditor.checker.startMs, version: globalThis.ampEditor.checker.version }));
    check(started.state === 'ready', `the checker did not start: ${started.reason}`);
    t.log(`ampc ${started.version} in the worker: ready ${started.startMs.toFixed(1)} ms after the page asked (fetch, compile, library)`);
    // The starter text, checked when the page opened, is correct: the
    // server was asked for its module (and refused, blocked). Count from here.
    await waitFor(page, () => globalThis.ampEditor.lastCheck !== null, null, 'the first check');
    // Its module request follows the check (asynchronously: under load it
    // can come later): wait for it before counting.
    for (const end = Date.now() + 10000; compiles === 0 && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 20));
    check(compiles === 1, `the correct starter text made ${compiles} compile requests, not 1`);
    compiles = 0;

    // 1. Mistakes, with the server blocked.
    const times = [];
    for (const c of CASES) {
      await typeText(page, c.lines);
      const s = await checked(page);
      const want = await ampcSays(path.join(t.tmp, 'editor-worker-ampc'), s.text);
      check(!want.ok, `${c.name}: build/ampc accepts ${JSON.stringify(s.text)}`);
      check(s.check.status === 'errors', `${c.name}: the worker says ${s.check.status}: ${s.check.output}`);
      check(s.check.output === want.stderr,
            `${c.name}: the worker says\n${s.check.output}\nbuild/ampc says\n${want.stderr}`);
      const m = HEAD.exec(want.stderr);
      check(m, `${c.name}: build/ampc printed no error of patch.amp: ${want.stderr}`);
      const line = Number(m[1]), col = Number(m[2]), message = m[3];
      if (c.want) check(message === c.want, `${c.name}: ampc says '${message}', the test expects '${c.want}'`);
      check(s.last.from === 'worker' && s.last.ok === false, `${c.name}: the diagnostics came from ${s.last.from}`);
      check(s.checker === 'worker', `${c.name}: the page says the checker is ${s.checker}: ${s.note}`);
      const first = s.diagnostics.find((d) => d.severity === 'error');
      check(first && first.line === line && first.col === col && first.message === message,
            `${c.name}: the editor shows ${JSON.stringify(first)}; ampc says ${line}:${col}: ${message}`);
      const wd = s.check.diagnostics[0];
      check(wd.line === line && wd.col === col && wd.message === message && wd.severity === 'error',
            `${c.name}: the worker's first diagnostic is ${JSON.stringify(wd)}`);
      check(first.text.length === wd.endCol - wd.col,
            `${c.name}: the editor underlines '${first.text}', the worker's range is ${wd.col}..${wd.endCol}`);
      times.push({ ms: s.check.ms, roundTripMs: s.check.roundTripMs });
      t.log(`${c.name}: ${line}:${col} '${first.text}' "${message}" — the worker's text equals build/ampc's ` +
            `(${want.stderr.length} bytes); check ${s.check.ms.toFixed(2)} ms in the worker, ${s.check.roundTripMs.toFixed(2)} ms round trip`);
    }
    check(compiles === 0, `${compiles} compile requests while the texts had mistakes`);

    // 2. A correct text: no problems from the worker, the module from the server.
    blocked = false;
    await typeText(page, GOOD);
    await waitFor(page, () => globalThis.ampEditor.last?.from === 'server' &&
      globalThis.ampEditor.last.text === globalThis.ampEditor.view.state.doc.toString(), null, "the server's module", 20000);
    const good = await checked(page);
    check(good.check.status === 'ok' && good.check.output === '' && good.diagnostics.length === 0,
          `the correct text: ${JSON.stringify(good.check)} ${JSON.stringify(good.diagnostics)}`);
    check((await ampcSays(path.join(t.tmp, 'editor-worker-ampc'), good.text)).ok, 'build/ampc refuses the correct text');
    check(good.last.ok === true, 'the server did not compile the correct text');
    check(compiles === 1, `${compiles} compile requests for one correct text`);
    t.log(`a correct text: no problems in ${good.check.ms.toFixed(2)} ms in the worker; one compile request for its module`);

    // 3. A Faust import: the server's diagnostics.
    await typeText(page, FAUST);
    const faust = await checked(page);
    const fwant = await ampcSays(path.join(t.tmp, 'editor-worker-ampc'), faust.text);
    check(faust.check.status === 'faust' && faust.last.from === 'server' && faust.checker === 'server',
          `a Faust import: the worker says ${faust.check.status}, the diagnostics came from ${faust.last.from}`);
    check(faust.note === 'This patch imports Faust: the server checks it.', `the page says '${faust.note}'`);
    const fm = HEAD.exec(fwant.stderr);
    check(fm && fm[3] === "param 'cutoff' of ladder expects a frequency (Hz), got a time (s)",
          `a Faust import: build/ampc says ${fwant.stderr}`);
    check(faust.diagnostics[0]?.line === Number(fm[1]) && faust.diagnostics[0]?.col === Number(fm[2]) &&
          faust.diagnostics[0]?.message === fm[3],
          `a Faust import: the editor shows ${JSON.stringify(faust.diagnostics)}, ampc says ${fwant.stderr}`);
    t.log(`a Faust import: left to the server, which says "${fm[3]}"`);

    // Latency over the library's patches (correct texts: the whole pipeline).
    const files = ['drums', 'epiano', 'pad', 'reverb', 'stereo_delay'];
    const rows = [];
    for (const f of files) {
      const text = await readFile(path.join(repo, 'nodes', `${f}.amp`), 'utf8');
      const r = await page.evaluate(async (src) => {
        const out = [];
        for (let i = 0; i < 40; i++) out.push(await globalThis.ampEditor.checker.check(src));
        return { status: out[0].status, ms: out.map((c) => c.ms), rt: out.map((c) => c.roundTripMs) };
      }, text);
      check(r.status === 'ok', `nodes/${f}.amp: the worker says ${r.status}`);
      rows.push(`${f} ${median(r.ms).toFixed(2)}/${Math.max(...r.ms).toFixed(2)}/${median(r.rt).toFixed(2)}`);
    }
    t.log(`diagnostics latency, mistakes typed above: median ${median(times.map((x) => x.ms)).toFixed(2)} ms in the worker, ` +
          `${median(times.map((x) => x.roundTripMs)).toFixed(2)} ms round trip`);
    t.log(`diagnostics latency, 40 checks of each library patch (median/max in the worker, median round trip, ms): ${rows.join(', ')}`);
    check(errors.filter((e) => !/api\/compile|Failed to fetch|ERR_FAILED/.test(e)).length === 0, `page errors: ${errors.join(' | ')}`);

    // 4. No ampc.wasm: the server's diagnostics, and the page says so.
    const page2 = await context.newPage();
    await page2.route('**/ampc.wasm', (route) => route.abort());
    await page2.goto(`${server.url}editor.html`);
    await waitFor(page2, () => document.body.dataset.ready === '1' && globalThis.ampEditor.checker.state === 'failed',
                  null, 'the checker to fail', 20000);
    await typeText(page2, CASES[0].lines);
    await waitFor(page2, () => globalThis.ampEditor.last?.text === globalThis.ampEditor.view.state.doc.toString() &&
      globalThis.ampEditor.last.answer?.ok === false, null, "the server's diagnostics", 20000);
    await page2.waitForTimeout(50);
    const fb = await page2.evaluate(() => ({
      text: globalThis.ampEditor.view.state.doc.toString(), from: globalThis.ampEditor.last.from,
      diagnostics: globalThis.ampEditor.diagnostics(), checker: document.body.dataset.checker,
      note: document.querySelector('.ed-checker')?.textContent,
    }));
    const fbWant = HEAD.exec((await ampcSays(path.join(t.tmp, 'editor-worker-ampc'), fb.text)).stderr);
    check(fb.from === 'server' && fb.checker === 'server' && /did not start/.test(fb.note),
          `without ampc.wasm: diagnostics from ${fb.from}, the page says '${fb.note}'`);
    const e0 = fb.diagnostics[0];
    check(e0 && e0.line === Number(fbWant[1]) && e0.col === Number(fbWant[2]) && e0.message === fbWant[3],
          `without ampc.wasm the editor shows ${JSON.stringify(e0)}`);
    t.log(`without ampc.wasm: "${fb.note}"; the server's ${e0.line}:${e0.col} "${e0.message}" inline`);
  } finally {
    await context.close();
    await server.close();
  }
}
