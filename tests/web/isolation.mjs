// isolation.mjs — the served page is cross-origin isolated, engine.wasm is
// application/wasm, a path out of the app's folder is refused, and a page
// served without the isolation headers says plainly that it cannot run.

import http from 'node:http';
import { check, pageReady, waitFor, webDir } from './lib.mjs';
import { startStaticServer } from './serve.mjs';

/** GET `rawPath` exactly as written (no normalisation of ".."). */
function rawGet(base, rawPath) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: rawPath, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

export async function run(t) {
  const page = await t.newPage();
  const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
  check(isolated === true, `crossOriginIsolated is ${isolated} on ${t.url}`);
  await pageReady(page);
  check(await page.isHidden('#isolation'), 'the not-isolated warning shows on an isolated page');

  const inPage = await page.evaluate(async () => {
    const r = await fetch('engine.wasm');
    return r.headers.get('content-type');
  });
  check(inPage === 'application/wasm', `engine.wasm is served as ${inPage}`);
  const wasm = await rawGet(t.url, '/engine.wasm');
  check(wasm.status === 200 && wasm.headers['content-type'] === 'application/wasm',
        `GET /engine.wasm: ${wasm.status} ${wasm.headers['content-type']}`);
  check(wasm.headers['cross-origin-opener-policy'] === 'same-origin' &&
        wasm.headers['cross-origin-embedder-policy'] === 'require-corp',
        'engine.wasm comes without the isolation headers');
  t.log(`crossOriginIsolated true; engine.wasm: ${wasm.headers['content-type']}`);

  for (const bad of ['/../index.html', '/%2e%2e/index.html', '/a/../../index.html']) {
    const r = await rawGet(t.url, bad);
    check(r.status === 403 || r.status === 404 || r.status === 400, `GET ${bad} answered ${r.status}`);
  }
  t.log('paths with .. are refused');

  const plain = await startStaticServer(webDir, 0, { isolate: false });
  try {
    const p2 = await t.newPage({ open: false });
    await p2.goto(plain.url);
    const shown = await waitFor(p2, () => {
      const e = document.querySelector('#isolation');
      return e && !e.hidden && e.textContent;
    }, null, 'the not-isolated warning');
    check(/not cross-origin isolated/.test(shown), `warning reads: ${shown}`);
    check(await p2.locator('#start').count() === 0, 'Start audio is offered on a page that cannot run the engine');
    p2.errors.length = 0;
    t.log('without the headers the page says: "This page is not cross-origin isolated, …"');
  } finally {
    await plain.close();
  }
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
