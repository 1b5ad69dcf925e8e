// backend.mjs — the musician's work kept by ampd, from the page's own
// origin: sign up, save a project through the API, reload, it is back; a
// second tab's WebSocket receives the first tab's save; a save against a
// stale revision is refused with the current revision and changes nothing.
//
// Runs its own ampd with a temporary --data (argon2id at its cheapest, so
// the test is fast), beside the shared server the other tests use.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { check, repo, startAmpd } from './lib.mjs';

/** fetch from inside the page, as the app would: JSON in, status and JSON out. */
function api(page, method, url, body, headers = {}) {
  return page.evaluate(async ({ method, url, body, headers }) => {
    const r = await fetch(url, {
      method,
      headers: { 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
    const text = await r.text();
    return { status: r.status, etag: r.headers.get('ETag'), json: text ? JSON.parse(text) : null };
  }, { method, url, body, headers });
}

export async function run(t) {
  const server = await startAmpd(['--data', path.join(t.tmp, 'data'), '--argon-ops', '1',
                                  '--argon-mem', '8192']);
  const context = await t.browser.newContext();
  try {
    const a = await context.newPage();
    await a.goto(server.url);
    const document = JSON.parse(await readFile(path.join(repo, 'tests/projects/demo.json'), 'utf8'));

    const signup = await api(a, 'POST', '/api/account/signup', { name: 'musician', password: 'a long passphrase' });
    check(signup.status === 201, `sign up: ${signup.status} ${JSON.stringify(signup.json)}`);
    const me = await api(a, 'GET', '/api/account');
    check(me.status === 200 && me.json.csrf, `GET /api/account: ${me.status} ${JSON.stringify(me.json)}`);
    const csrf = { 'X-CSRF-Token': me.json.csrf };

    // A stored project names its audio by asset hash: upload the demo's
    // sample from the page, as the app does, and point the regions at it.
    const hats = (await readFile(path.join(repo, 'tests/projects/hats.wav'))).toString('base64');
    const uploaded = await a.evaluate(async ({ hats, token }) => {
      const bytes = Uint8Array.from(atob(hats), (c) => c.charCodeAt(0));
      const r = await fetch('/api/assets?name=hats.wav', { method: 'POST', body: bytes, credentials: 'same-origin',
                                                           headers: { 'X-CSRF-Token': token } });
      return { status: r.status, json: await r.json() };
    }, { hats, token: me.json.csrf });
    check(uploaded.status === 201 && uploaded.json.hash, `upload: ${uploaded.status} ${JSON.stringify(uploaded.json)}`);
    // ... and its patches by their built-in library ids, not file paths.
    const builtin = (p) => (typeof p === 'string' ? { builtin: path.basename(p) }
      : { builtin: path.basename(p.file), ...(p.unit ? { unit: p.unit } : {}) });
    for (const track of document.tracks) {
      for (const region of track.regions ?? []) {
        delete region.file;
        region.asset = uploaded.json.hash;
      }
      if (track.patch) track.patch = builtin(track.patch);
      for (const insert of track.inserts ?? []) insert.patch = builtin(insert.patch);
    }

    const created = await api(a, 'POST', '/api/projects', { name: 'Demo song', document }, csrf);
    check(created.status === 201, `create: ${created.status} ${JSON.stringify(created.json)}`);
    const id = created.json.id;
    const first = created.json.revision;

    // A second tab of the same browser (same session) listens to the project.
    const b = await context.newPage();
    await b.goto(server.url);
    await b.evaluate((id) => new Promise((resolve, reject) => {
      const ws = new WebSocket(`${location.origin.replace('http', 'ws')}/api/projects/${id}/live`);
      globalThis.liveMessages = [];
      ws.onmessage = (m) => globalThis.liveMessages.push(JSON.parse(m.data));
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error('the live socket did not open'));
    }), id);

    // Tab A saves an edit (one more tempo change's worth: the tempo itself).
    const edited = structuredClone(document);
    edited.tempo = (edited.tempo ?? 120) + 7;
    const saved = await api(a, 'PUT', `/api/projects/${id}`, edited, { ...csrf, 'If-Match': `"${first}"` });
    check(saved.status === 200, `save: ${saved.status} ${JSON.stringify(saved.json)}`);
    const second = saved.json.revision;
    check(second === first + 1, `the save made revision ${second} after ${first}`);

    // Tab B hears of it, with the document as saved.
    const heard = await b.waitForFunction((rev) => globalThis.liveMessages.find(
      (m) => m.type === 'revision' && m.revision === rev), second, { timeout: 5000 })
      .then((h) => h.jsonValue()).catch(() => null);
    check(heard, `the second tab got no revision ${second}: ${JSON.stringify(await b.evaluate(() => globalThis.liveMessages))}`);
    check(heard.document.tempo === edited.tempo, `the second tab got tempo ${heard.document.tempo}, saved ${edited.tempo}`);

    // A save based on the old revision is refused and loses nothing.
    const stale = await api(a, 'PUT', `/api/projects/${id}`, document, { ...csrf, 'If-Match': `"${first}"` });
    check(stale.status === 412 && stale.json.error.current_revision === second,
          `a stale save: ${stale.status} ${JSON.stringify(stale.json)}`);

    // Reload: the project is there, at the saved revision, with its content.
    await a.reload();
    const list = await api(a, 'GET', '/api/projects');
    check(list.status === 200 && list.json.projects.some((p) => p.id === id),
          `after a reload the list is ${JSON.stringify(list.json)}`);
    const got = await api(a, 'GET', `/api/projects/${id}`);
    check(got.status === 200 && got.json.revision === second && got.json.document.tempo === edited.tempo,
          `after a reload the project is ${got.status} revision ${got.json?.revision}`);
    t.log(`signed up, saved revision ${second}, heard in the second tab, stale save 412, back after a reload`);
  } finally {
    await context.close();
    await server.close();
  }
}
