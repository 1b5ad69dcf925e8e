// daw_library.mjs — the user's patch library in the DAW, and the engine's
// guards reported by the page, on its own ampd (--local, a temporary
// --data, --library nodes: the compile service and the patch library):
//
// 1. A patch is saved from the editor page (editor.html: its text set in
//    the editor, the Save button); the DAW lists it in a track's
//    instrument picker beside the built-ins; picked, it is compiled by the
//    compile service, loaded into the worklet's running engine, and the
//    document names it {"library": id, "revision": 1}. Live notes on the
//    track sound (the engine's voices and the track's meter). A clip of
//    notes is saved with the project, with a library effect (added by
//    the mixer's "+ Effect") in the track's insert chain; the page's export (f32) equals,
//    byte for byte, `amp render` of the project's bundle
//    (GET /api/projects/{id}/bundle, the library patch as its text).
//    Reloaded, the track still names the patch and plays it.
// 2. "Edit patch" opens the track's patch in the editor (a new tab, the
//    same text); a new revision saved there reaches the DAW's tab: the
//    instrument panel offers it ("Use revision 2"), and the document then
//    names revision 2. nodes/epiano.amp, forked into the library from
//    File > Patch library…, is picked and plays.
// 3. tests/fixtures/nan_mix.amp (the NaN-writing node of check_project),
//    saved to the library and picked as the instrument of a track named
//    "Bad": the status line names the track and the patch and says it was
//    silenced. A loud feedback bus (stereo_delay at full feedback, sends
//    and faders at +24 dB) drives the master past +12 dBFS: the master
//    meter and the status line show the safety limit; Dismiss clears them.
//    A screenshot of each is written to the test's folder (logged).

import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { exportFromMenu, firstDifference } from './export.mjs';
import { buildDir, check, pageReady, repo, startAmpd, startAudio, waitFor } from './lib.mjs';

const execFileAsync = promisify(execFile);

const SINE = [
  'import "std/osc.amp";',
  '',
  'patch lib_sine {',
  '  voices 4 steal oldest;',
  '  param level = -6 db in [-60 db, 0 db];',
  '  voice {',
  '    osc = sine(freq: note.freq);',
  '    osc.y * note.gate * level -> out;',
  '  }',
  '}',
  '',
].join('\n');

/** Where the screenshots go: AMP_SCREENSHOTS, else the test's folder. */
const shots = (t, name) => path.join(process.env.AMP_SCREENSHOTS ?? t.tmp, name);

const DRIVE = [
  'patch lib_drive {',
  '  in left, right;',
  '  out left, right;',
  '  param drive = 3 in [1, 8];',
  '  tanh(left * drive) -> out.left;',
  '  tanh(right * drive) -> out.right;',
  '}',
  '',
].join('\n');

const doc = (page) => page.evaluate(() => globalThis.amp.daw.store.doc);

/** Save `text` as a library patch named `name` from the editor page;
 *  resolves to {id, revision}. */
async function saveInEditor(context, url, name, text, opened = null) {
  const editor = opened ?? await context.newPage();
  if (!opened) await editor.goto(`${url}/editor.html`);
  await waitFor(editor, () => document.body.dataset.ready === '1', null, 'the editor to load', 15000);
  const before = await editor.evaluate(() => document.body.dataset.saved ?? '');
  await editor.evaluate((t) => {
    const view = globalThis.ampEditor.view;
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: t } });
  }, text);
  await editor.locator('input').first().fill(name);
  await editor.click('[data-testid="save"]');
  await waitFor(editor, (b) => (document.body.dataset.saved ?? '') !== b, before, 'the editor to save', 15000);
  const saved = await editor.evaluate(() => document.body.dataset.saved);
  await editor.close();
  const [id, revision] = saved.split(':');
  return { id, revision: Number(revision) };
}

/** Add an instrument track and pick library patch `id` in its picker. */
async function libraryTrack(page, id) {
  const before = (await doc(page)).tracks.length;
  await page.click('[data-testid="add-instrument"]');
  const track = await page.evaluate((n) => globalThis.amp.daw.store.doc.tracks[n]?.id, before);
  check(track !== undefined, 'no track was added');
  await page.evaluate(() => globalThis.amp.daw.library.refresh());
  const select = `.track-header[data-track="${track}"] select.instrument`;
  const options = await page.locator(`${select} option`).evaluateAll((os) => os.map((o) => o.value));
  check(options.includes(`lib:${id}`), `the instrument picker lists ${options.join(', ')}, not the library patch ${id}`);
  check(options.includes('epiano'), 'the instrument picker lost the built-ins');
  await page.selectOption(select, `lib:${id}`);
  await waitFor(page, ([t, pid]) => globalThis.amp.daw.store.doc.tracks.find((x) => x.id === t)?.patch?.library === pid,
                [track, id], 'the track to name the library patch', 20000);
  return track;
}

/** The engine's voices and meter peak on document track `track` while
 *  `key` is held live. */
async function playLive(page, track, key) {
  await page.evaluate(([t]) => globalThis.amp.daw.view.set({ selectedTrack: t }), [track]);
  // The module loads after the pick: wait until the engine has the instrument.
  await waitFor(page, () => globalThis.amp.daw.library.allLoaded(globalThis.amp.daw.audio.client?.node ?? null,
                                                                  globalThis.amp.daw.store.doc),
                null, 'the library module to load', 20000);
  await page.evaluate((k) => globalThis.amp.daw.liveOn(k, 0.9), key);
  await waitFor(page, (t) => (globalThis.amp.daw.audio.telemetry?.snapshot.tracks.get(t)?.peak[0] ?? 0) > 0.01, track,
                'the library instrument to sound', 10000);
  await page.waitForTimeout(250);   // the meter's 50 ms windows past the note's start
  const heard = await page.evaluate((t) => {
    const m = globalThis.amp.daw.audio.telemetry.snapshot.tracks.get(t);
    return { voices: m.voices, peak: Math.max(m.peak[0], m.peak[1]) };
  }, track);
  await page.evaluate((k) => globalThis.amp.daw.liveOff(k), key);
  return heard;
}

async function bundleRender(t, page, projectId, tag) {
  const bytes = await page.evaluate(async (pid) => {
    const r = await fetch(`/api/projects/${pid}/bundle`, { credentials: 'same-origin' });
    return { status: r.status, data: r.ok ? [...new Uint8Array(await r.arrayBuffer())] : await r.text() };
  }, projectId);
  check(bytes.status === 200, `GET the bundle: HTTP ${bytes.status} ${String(bytes.data).slice(0, 200)}`);
  const dir = path.join(t.tmp, `${tag}-bundle`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'song.tar'), Buffer.from(bytes.data));
  await execFileAsync('tar', ['-xf', 'song.tar'], { cwd: dir });
  const out = path.join(dir, 'native.wav');
  await execFileAsync(path.join(buildDir, 'amp'), ['render', path.join(dir, projectId, 'project.json'), '--library',
                      path.join(repo, 'nodes'), '-I', path.join(repo, 'nodes'), '--format', 'f32', '-o', out], { cwd: repo });
  return readFile(out);
}

export async function run(t) {
  const server = await startAmpd(['--local', '--data', path.join(t.tmp, 'library-data'), '--library', path.join(repo, 'nodes')]);
  const context = await t.browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // A library patch reaches the engine before the document names it: the
    // sync layer never sends a track whose patch the engine lacks.
    page.on('console', (m) => { if (/not sent to the engine/.test(m.text())) errors.push(m.text()); });
    await page.goto(server.url);
    await pageReady(page);
    await startAudio(page);

    // 1. Saved in the editor, picked in the DAW, played, exported, reopened.
    const sine = await saveInEditor(context, server.url, 'Lib Sine', SINE);
    check(sine.revision === 1, `the editor saved revision ${sine.revision}`);
    const track = await libraryTrack(page, sine.id);
    let d = await doc(page);
    const ref = d.tracks.find((x) => x.id === track).patch;
    check(JSON.stringify(ref) === JSON.stringify({ library: sine.id, revision: 1 }), `the document names ${JSON.stringify(ref)}`);
    const heard = await playLive(page, track, 69);
    check(heard.voices >= 1, `a held note on the library patch has ${heard.voices} voices`);
    t.log(`library patch ${sine.id} r1 picked in the DAW: a held A4 sounds (${heard.voices} voice, peak ${heard.peak.toFixed(3)})`);

    // A library effect in the track's insert chain (the mixer's "+ Effect").
    const drive = await saveInEditor(context, server.url, 'Lib Drive', DRIVE);
    await page.evaluate(() => globalThis.amp.daw.view.set({ dock: 'mixer' }));
    await page.evaluate(() => globalThis.amp.daw.library.refresh());
    const addInsert = `.strip[data-track="${track}"] select.add-insert`;
    const effects = await page.locator(`${addInsert} option`).evaluateAll((os) => os.map((o) => o.value));
    check(effects.includes(`lib:${drive.id}`) && effects.includes('stereo_delay'),
          `the effect picker lists ${effects.join(', ')}`);
    await page.selectOption(addInsert, `lib:${drive.id}`);
    await waitFor(page, ([tr, pid]) => globalThis.amp.daw.store.doc.tracks.find((x) => x.id === tr)?.inserts?.[0]?.patch?.library === pid,
                  [track, drive.id], 'the library effect to be the track\'s insert', 20000);
    const driven = await playLive(page, track, 69);
    check(driven.peak > heard.peak * 1.2, `through lib_drive the peak is ${driven.peak} (dry ${heard.peak})`);
    t.log(`library effect ${drive.id} r1 added with "+ Effect": the held A4 peaks at ${driven.peak.toFixed(3)} (dry ${heard.peak.toFixed(3)})`);

    // A clip of notes, the project saved, the export against amp render of the bundle.
    await page.evaluate((tr) => globalThis.amp.daw.act.addClip(tr, 0, 4, [
      { key: 60, start_beat: 0, length_beats: 1, velocity: 0.8 }, { key: 64, start_beat: 1, length_beats: 1, velocity: 0.7 },
      { key: 67, start_beat: 2, length_beats: 1.5, velocity: 0.9 }]), track);
    await page.click('[data-testid="save"]');
    await waitFor(page, () => /^Saved r/.test(document.querySelector('[data-testid="save-state"]')?.textContent ?? ''), null,
                  'the project to save', 15000);
    const projectId = await page.evaluate(() => globalThis.amp.daw.persist.state.serverId);
    const exported = await exportFromMenu(page, 'export-f32', path.join(t.tmp, 'library-f32.wav'));
    const native = await bundleRender(t, page, projectId, 'library');
    check(exported.bytes.equals(native), `the f32 export differs from amp render of the bundle (${firstDifference(exported.bytes, native)})`);
    t.log(`export f32 (${exported.bytes.length} bytes) == amp render of GET /api/projects/${projectId}/bundle`);

    await page.goto(`${server.url}/#project=${projectId}`);
    await page.reload();
    await pageReady(page);
    await waitFor(page, (pid) => globalThis.amp.daw.store.doc.tracks.some((x) => x.patch?.library === pid), sine.id,
                  'the reopened project to name the library patch', 15000);
    await startAudio(page);
    const again = await playLive(page, track, 72);
    check(again.voices >= 1, `reopened, a held note has ${again.voices} voices`);
    t.log(`reloaded: the track still names ${sine.id} r1 and sounds (peak ${again.peak.toFixed(3)})`);

    // 2. "Edit patch" opens it in the editor; a new revision saved there reaches the open tab.
    await page.evaluate((tr) => globalThis.amp.daw.view.set({ selectedTrack: tr, dock: 'instrument' }), track);
    const [popup] = await Promise.all([context.waitForEvent('page'), page.click('[data-testid="edit-patch"]')]);
    await waitFor(popup, () => document.body.dataset.ready === '1', null, 'the editor to open the patch', 15000);
    check(popup.url().endsWith(`/editor.html#id:${sine.id}`), `Edit patch opened ${popup.url()}`);
    const opened = await popup.evaluate(() => globalThis.ampEditor.view.state.doc.toString());
    check(opened === SINE, `the editor opened another text:\n${opened}`);
    const edited = await saveInEditor(context, server.url, 'Lib Sine', SINE.replace('-6 db in', '-12 db in'), popup);
    check(edited.id === sine.id && edited.revision === 2, `the editor saved ${edited.id} r${edited.revision}`);
    await page.evaluate(() => globalThis.amp.daw.library.refresh());
    await page.waitForSelector('[data-testid="update-patch"]', { timeout: 10000 });
    await page.click('[data-testid="update-patch"]');
    await waitFor(page, ([tr, pid]) => globalThis.amp.daw.store.doc.tracks.find((x) => x.id === tr)?.patch?.revision === 2,
                  [track, sine.id], 'the track to play revision 2', 15000);
    const r2 = await playLive(page, track, 69);
    check(r2.voices >= 1, `revision 2 plays with ${r2.voices} voices`);
    t.log(`Edit patch opened the editor on the same text; revision 2 saved there: the DAW offered it, the track now names r2 and sounds (peak ${r2.peak.toFixed(3)})`);

    // A built-in forked into the library from File > Patch library…, then played.
    await page.click('[data-testid="file-menu"]');
    await page.click('[data-testid="open-patches"]');
    await page.click('[data-builtin="epiano.amp"] [data-testid="fork"]');
    await waitFor(page, () => globalThis.amp.daw.library.userPatches().some((p) => p.name === 'epiano'), null,
                  'the fork to reach the library', 15000);
    const forkId = await page.evaluate(() => globalThis.amp.daw.library.userPatches().find((p) => p.name === 'epiano').id);
    await page.click('[data-testid="patches-dialog"] button[aria-label="Close"]');
    const forked = await libraryTrack(page, forkId);
    const forkHeard = await playLive(page, forked, 60);
    check(forkHeard.voices >= 1, `the forked epiano plays with ${forkHeard.voices} voices`);
    await page.evaluate((tr) => globalThis.amp.daw.act.removeTrack(tr), forked);
    t.log(`nodes/epiano.amp forked into the library (${forkId}) from File > Patch library, picked and played (peak ${forkHeard.peak.toFixed(3)})`);

    // 3. The guards: a NaN-writing instrument, a loud feedback bus.
    const nanText = await readFile(path.join(repo, 'tests', 'fixtures', 'nan_mix.amp'), 'utf8');
    const nan = await saveInEditor(context, server.url, 'NaN mix', nanText);
    const bad = await libraryTrack(page, nan.id);
    await page.evaluate((tr) => globalThis.amp.daw.act.renameTrack(tr, 'Bad'), bad);
    await waitFor(page, () => globalThis.amp.daw.library.allLoaded(globalThis.amp.daw.audio.client?.node ?? null,
                                                                    globalThis.amp.daw.store.doc), null, 'the NaN module to load', 20000);
    await page.waitForSelector('[data-testid="fault"]', { timeout: 10000 });
    const fault = await page.locator('[data-testid="fault"] .fault-text').textContent();
    check(/Track "Bad": instrument "NaN mix \(nan_mix\)" .*silenced/.test(fault ?? ''), `the fault says: ${fault}`);
    check(await page.locator(`.track-header[data-track="${bad}"] [data-testid="track-fault"]`).count() === 1,
          'the track header of "Bad" shows no fault mark');
    await page.screenshot({ path: shots(t, 'fault.png') });
    t.log(`fault: "${fault}" (screenshot fault.png)`);
    await page.evaluate((tr) => globalThis.amp.daw.act.removeTrack(tr), bad);
    await page.click('[data-testid="fault-dismiss"]').catch(() => undefined);
    await waitFor(page, () => !document.querySelector('[data-testid="fault"]'), null, 'the fault report to close', 10000);

    const loud = await page.evaluate(() => {
      const daw = globalThis.amp.daw;
      const before = daw.store.doc.tracks.length;
      daw.act.addTrack('instrument', { builtin: 'epiano.amp', unit: 'epiano' });
      const keys = daw.store.doc.tracks[before].id;
      daw.act.addTrack('bus');
      const bus = daw.store.doc.tracks[before + 1].id;
      daw.act.renameTrack(bus, 'Feedback');
      daw.act.setGain(keys, 24);
      daw.act.setSend(keys, bus, 24);
      daw.act.setGain(bus, 24);
      return { keys, bus };
    });
    await page.evaluate(({ bus }) => {
      const daw = globalThis.amp.daw;
      daw.view.set({ dock: 'mixer' });
      return bus;
    }, loud);
    await page.selectOption(`.strip[data-track="${loud.bus}"] select.add-insert`, 'stereo_delay');
    // Full feedback and cross (feedback + cross > 1: the delay runs away).
    await page.evaluate(({ bus }) => {
      const daw = globalThis.amp.daw;
      daw.store.transact('Feedback', (d) => ({ ...d, tracks: d.tracks.map((x) => x.id !== bus || !x.inserts?.length ? x
        : { ...x, inserts: [{ ...x.inserts[0], params: { feedback: 0.9, cross: 1, time: 0.01, mix: 1 } }] }) }));
    }, loud);
    check((await doc(page)).tracks.find((x) => x.id === loud.bus).inserts?.[0]?.patch?.builtin === 'stereo_delay.amp',
          'the bus has no stereo_delay insert');
    await page.evaluate(({ keys }) => {
      globalThis.amp.daw.view.set({ selectedTrack: keys });
      globalThis.amp.daw.liveOn(48, 1);
      globalThis.amp.daw.liveOn(55, 1);
    }, loud);
    await waitFor(page, () => document.getElementById('meter')?.dataset.limited === '1', null, 'the master meter to show the limit', 15000);
    await page.waitForSelector('[data-testid="fault"]', { timeout: 5000 });
    const limit = await page.locator('[data-testid="fault"] .fault-text').textContent();
    check(/Master safety limit: \d+ samples clipped/.test(limit ?? ''), `the status says: ${limit}`);
    check(await page.locator('[data-testid="master-limit"]').count() === 1, 'the mixer\'s master strip shows no LIMIT');
    await page.screenshot({ path: shots(t, 'limit.png') });
    t.log(`limit: "${limit}"; master meter limited (screenshot limit.png)`);
    await page.evaluate(() => { globalThis.amp.daw.liveOff(48); globalThis.amp.daw.liveOff(55); });
    await page.evaluate(({ keys, bus }) => { globalThis.amp.daw.act.setGain(keys, -150); globalThis.amp.daw.act.setGain(bus, -150); }, loud);
    await page.click('[data-testid="fault-dismiss"]').catch(() => undefined);
    check(errors.length === 0, `page errors: ${errors.join('; ')}`);
  } finally {
    await context.close();
    await server.close();
  }
}
