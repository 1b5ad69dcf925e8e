// run.mjs — the browser tests (`make test-web`).
//
//   B=build node tests/web/run.mjs [NAME...]
//
// Serves $(B)/web (with $(B)/ampd when it exists, else serve.mjs), starts
// one headless Debian chromium through playwright-core, and runs each test
// module in turn (all, or those named), each on fresh pages. Exit status 0
// when every test passes.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { B, CHROMIUM, Failure, buildDir, launchBrowser, removeDir, serveApp, tempDir, webDir } from './lib.mjs';

const TESTS = ['doc', 'faults', 'editor', 'editor_lang', 'editor_guards', 'editor_worker', 'sync', 'live_parity', 'isolation', 'parity', 'commands', 'page', 'midi', 'export',
               'project_export', 'midi_import', 'modules', 'hotswap', 'daw', 'daw_library', 'daw_samples', 'backend'];

async function main() {
  const only = process.argv.slice(2);
  for (const name of only)
    if (!TESTS.includes(name)) throw new Error(`no test '${name}' (tests: ${TESTS.join(', ')})`);
  for (const need of [path.join(webDir, 'engine.wasm'), path.join(webDir, 'index.html'), path.join(buildDir, 'amp')])
    if (!existsSync(need)) throw new Error(`${need} is missing: run make web first`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);

  const server = await serveApp();
  const browser = await launchBrowser();
  const tmp = await tempDir();
  console.log(`web tests: ${B}/web served by ${server.by} at ${server.url}, chromium ${browser.version()}`);
  const pages = [];
  const ctx = {
    url: server.url,
    browser,
    server,
    tmp,
    cacheDir: path.join(tmp, 'amp-cache'),
    log: (line) => console.log(`  ${line}`),
    /** A fresh page with the app loaded; page errors fail the test. */
    async newPage({ open = true } = {}) {
      const context = await browser.newContext({ acceptDownloads: true });
      const page = await context.newPage();
      page.errors = [];
      page.on('pageerror', (e) => page.errors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
      pages.push(context);
      if (open) await page.goto(server.url);
      return page;
    },
  };

  let failed = 0;
  const started = Date.now();
  for (const name of only.length ? only : TESTS) {
    const t0 = Date.now();
    console.log(`== web/${name}`);
    try {
      const test = await import(`./${name}.mjs`);
      await test.run(ctx);
      console.log(`PASS web/${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed++;
      console.log(`FAIL web/${name}: ${e instanceof Failure ? e.message : e.stack ?? e}`);
    }
    for (const c of pages.splice(0)) await c.close().catch(() => {});
  }
  await browser.close();
  await server.close();
  await removeDir(tmp);
  console.log(`web tests: ${failed ? `${failed} failed` : 'all passed'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`web tests: ${e.stack ?? e}`);
  process.exit(1);
});
