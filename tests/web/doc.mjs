// doc.mjs — the project document's pure modules under node: every edit of
// web/src/doc/edits.ts, undo and redo of each as a DocStore transaction,
// coalescing, the tempo map against the engine's formulas, the grid and
// bars:beats. No browser: the modules are bundled with esbuild (as the app
// is) into the test's temporary folder and imported.

import { createRequire } from 'node:module';
import path from 'node:path';
import { check, relativeTo, renderProject, repo, startAmpd } from './lib.mjs';

const requireWeb = createRequire(path.join(repo, 'web', 'package.json'));

/** Bundle `source` (an ES module importing web/src files by path relative
 *  to web/src) for node, into `dir`, and import it. */
export async function bundleModules(source, dir, name) {
  const esbuild = requireWeb('esbuild');
  const outfile = path.join(dir, `${name}-${process.pid}.mjs`);
  await esbuild.build({
    stdin: { contents: source, resolveDir: path.join(repo, 'web', 'src'), loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    tsconfig: path.join(repo, 'web', 'tsconfig.app.json'),
    outfile,
    logLevel: 'warning',
  });
  return import(outfile);
}

export const DOC_MODULES = `
export * as E from './doc/edits';
export * as grid from './doc/grid';
export * as timing from './doc/timing';
export { DocStore } from './doc/history';
export { emptyProject } from './doc/project';
export { chooseRecovery } from './api/autosave';
`;

const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b);
function same(actual, expected, what) {
  check(eq(actual, expected), `${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

/** A small song to edit: two instrument tracks, a bus, clips with notes. */
export function song(E, emptyProject) {
  let d = emptyProject();
  d = E.addTrack(d, { kind: 'instrument', name: 'Keys', patch: { builtin: 'epiano.amp', unit: 'epiano' } });
  d = E.addTrack(d, { kind: 'instrument', name: 'Bass', patch: { builtin: 'ladder_bass.amp', unit: 'ladder_bass' } });
  d = E.addTrack(d, { kind: 'bus', name: 'Verb' });
  d = E.addClip(d, 1, { start_beat: 0, length_beats: 4, notes: [
    { key: 60, start_beat: 0, length_beats: 1 },
    { key: 64, start_beat: 1, length_beats: 1, velocity: 0.5 },
    { key: 67, start_beat: 2.5, length_beats: 1.5 },
  ] });
  d = E.addClip(d, 2, { start_beat: 4, length_beats: 4, notes: [{ key: 36, start_beat: 0, length_beats: 2 }] });
  return d;
}

export async function run(t) {
  const started = Date.now();
  const { E, grid, timing, DocStore, emptyProject, chooseRecovery } = await bundleModules(DOC_MODULES, t.tmp, 'doc');
  const base = song(E, emptyProject);
  let n = 0;

  // ---- tracks --------------------------------------------------------------------------
  same(base.tracks.map((x) => [x.id, x.kind, x.name, x.ui.color]),
       [[1, 'instrument', 'Keys', E.TRACK_COLORS[0]], [2, 'instrument', 'Bass', E.TRACK_COLORS[1]],
        [3, 'bus', 'Verb', E.TRACK_COLORS[2]]], 'added tracks');
  same(base.tracks[0].clips.map((c) => c.ui.id), ['c1'], 'clip ids on track 1');
  same(base.tracks[1].clips.map((c) => c.ui.id), ['c2'], 'clip ids on track 2');
  check(E.addTrack(base, { kind: 'audio', id: 2 }) === base, 'a taken track id is refused');
  let full = emptyProject();
  for (let i = 0; i < 64; i++) full = E.addTrack(full, { kind: 'bus' });
  check(full.tracks.length === 64 && E.addTrack(full, { kind: 'bus' }) === full, 'the 65th track is refused');
  n += 4;

  let d = E.setSend(base, 1, 3, -6);
  same(d.tracks[0].sends, [{ bus: 3, level_db: -6 }], 'send');
  check(d.tracks[1] === base.tracks[1] && d.tracks[2] === base.tracks[2], 'a send shares the other tracks');
  check(E.setSend(base, 1, 2, -6) === base, 'a send to an instrument track is refused');
  check(E.setSend(d, 1, 3, -6) === d, 'the same send again changes nothing');
  same(E.setSend(d, 1, 3, null).tracks[0].sends, undefined, 'send removed');
  same(E.removeTrack(d, 3).tracks.map((x) => [x.id, x.sends]), [[1, undefined], [2, undefined]],
       'removing a bus removes the sends to it');
  // Buses: a bus sends only to a bus listed after it.
  let b = E.addTrack(base, { kind: 'bus', name: 'Sub' });              // id 4, after bus 3
  b = E.setSend(b, 3, 4, -3);
  same(b.tracks[2].sends, [{ bus: 4, level_db: -3 }], 'bus 3 -> bus 4');
  check(E.setSend(b, 4, 3, -3) === b, 'bus 4 -> bus 3 (listed before) is refused');
  check(E.moveTrack(b, 4, 0) === b, 'moving bus 4 above bus 3 that sends to it is refused');
  same(E.moveTrack(b, 3, 0).tracks.map((x) => x.id), [3, 1, 2, 4], 'a bus moved up');
  same(E.moveTrack(base, 1, 2).tracks.map((x) => x.id), [2, 3, 1], 'a track moved down');
  n += 12;

  same(E.renameTrack(base, 2, 'Sub bass').tracks[1].name, 'Sub bass', 'rename');
  same(E.setTrackColor(base, 2, '#123456').tracks[1].ui.color, '#123456', 'colour');
  same(E.setFader(base, 1, { gain_db: 40, pan: -2, mute: true }).tracks[0].fader,
       { gain_db: 24, pan: -1, mute: true }, 'fader clamped');
  same(E.setGain(base, 1, -200).tracks[0].fader, { gain_db: -150 }, 'gain floor');
  same(E.setSolo(base, 1, true).tracks[0].fader, { solo: true }, 'solo');
  check(E.setFader(E.setPan(base, 1, 0.5), 1, { pan: 0.5 }).tracks[0].fader.pan === 0.5, 'pan');
  n += 6;

  // The instrument: a new patch drops the old one's params and slot-0 automation.
  d = E.setParam(base, 1, 'brightness', 1.5);
  same(d.tracks[0].params, { brightness: 1.5 }, 'instrument param');
  d = { ...d, tracks: d.tracks.map((x) => (x.id === 1 ? { ...x, automation: [
    { target: { slot: 0, param: 'brightness' }, points: [{ beat: 0, value: 1 }] },
    { target: { fader: 'pan' }, points: [{ beat: 0, value: 0 }] }] } : x)) };
  const swapped = E.setInstrument(d, 1, { builtin: 'ladder_bass.amp', unit: 'ladder_bass' });
  same([swapped.tracks[0].patch, swapped.tracks[0].params, swapped.tracks[0].automation],
       [{ builtin: 'ladder_bass.amp', unit: 'ladder_bass' }, undefined,
        [{ target: { fader: 'pan' }, points: [{ beat: 0, value: 0 }] }]],
       'a new instrument: its own defaults, the old automation of slot 0 gone');
  check(E.setInstrument(base, 3, { builtin: 'epiano.amp' }) === base, 'a bus has no instrument');
  check(E.setInstrument(base, 1, { builtin: 'epiano.amp', unit: 'epiano' }) === base, 'the same instrument again: no change');
  check(E.setLoop(base, { enabled: false }) === base, 'turning off a loop there is not: no change');
  same(E.setVoiceMode(base, 2, 'legato', 'high', 0.1).tracks[1],
       { ...base.tracks[1], voice_mode: 'legato', note_priority: 'high', glide_seconds: 0.1 }, 'voice mode');
  same(E.setVoiceMode(E.setVoiceMode(base, 2, 'mono'), 2, 'poly').tracks[1], base.tracks[1], 'poly is the default');
  d = E.addInsert(base, 3, { builtin: 'reverb.amp' });
  d = E.setParam(d, 3, 'mix', 1, 1);
  same(d.tracks[2].inserts, [{ patch: { builtin: 'reverb.amp' }, params: { mix: 1 } }], 'insert and its param');
  same(E.removeInsert(d, 3, 1).tracks[2].inserts, undefined, 'insert removed');
  n += 6;

  // ---- clips -----------------------------------------------------------------------------
  const c1 = () => E.findClip(d, 'c1').clip;
  d = E.moveClip(base, 'c1', 8);
  same(c1().start_beat, 8, 'clip moved in time');
  check(d.tracks[1] === base.tracks[1], 'moving a clip shares the other tracks');
  d = E.moveClip(base, 'c1', 2, 2);
  same([d.tracks[0].clips.length, d.tracks[1].clips.map((c) => [c.ui.id, c.start_beat])],
       [0, [['c2', 4], ['c1', 2]]], 'clip moved to another track');
  check(E.moveClip(base, 'c1', 2, 3) === base, 'a clip does not go on a bus');
  d = E.moveClips(base, ['c1', 'c2'], -10, 0);
  same([E.findClip(d, 'c1').clip.start_beat, E.findClip(d, 'c2').clip.start_beat], [0, 4],
       'a set moves as one: the earliest stops at 0');
  d = E.moveClips(base, ['c1', 'c2'], 2, 0);
  same([E.findClip(d, 'c1').clip.start_beat, E.findClip(d, 'c2').clip.start_beat], [2, 6], 'a set moved');
  check(E.moveClips(base, ['c1', 'c2'], 0, 1) === base, 'a set moved down onto the bus is refused');
  n += 7;

  d = E.resizeClip(base, 'c1', 'right', 3);
  same([c1().start_beat, c1().length_beats, c1().notes.length], [0, 3, 3], 'right edge: notes kept');
  d = E.resizeClip(base, 'c1', 'left', 1);
  same([c1().start_beat, c1().length_beats, c1().notes.map((x) => [x.key, x.start_beat])],
       [1, 3, [[64, 0], [67, 1.5]]], 'left edge in: notes stay put, the one before the start goes');
  d = E.resizeClip(E.moveClip(base, 'c1', 2), 'c1', 'left', 1);
  same([c1().start_beat, c1().length_beats, c1().notes.map((x) => x.start_beat)], [1, 5, [1, 2, 3.5]],
       'left edge out: notes stay where they sound');
  d = E.resizeClip(base, 'c1', 'left', 10);
  same([c1().start_beat, c1().length_beats], [4 - 1 / 960, 4 - (4 - 1 / 960)], 'the left edge stops before the end');
  n += 4;

  d = E.splitClip(base, 'c1', 2, 'c9');
  same(d.tracks[0].clips.map((c) => [c.ui.id, c.start_beat, c.length_beats, c.notes.map((x) => `${x.key}@${x.start_beat}`)]),
       [['c1', 0, 2, ['60@0', '64@1']], ['c9', 2, 2, ['67@0.5']]], 'split');
  check(E.splitClip(base, 'c1', 0) === base && E.splitClip(base, 'c1', 4) === base, 'split at an edge is refused');
  const looped = E.setClipLoop(E.resizeClip(base, 'c1', 'right', 12), 'c1', 4);
  same(E.findClip(looped, 'c1').clip.loop_beats, 4, 'clip loop');
  d = E.splitClip(looped, 'c1', 5);
  same(d.tracks[0].clips.map((c) => [c.start_beat, c.length_beats, c.loop_beats, c.notes.map((x) => `${x.key}@${x.start_beat}`)]),
       [[0, 5, 4, ['60@0', '64@1', '67@2.5']], [5, 7, 4, ['64@0', '67@1.5', '60@3']]],
       'a looped clip split: the right part is the loop rotated');
  same(E.findClip(E.setClipLoop(looped, 'c1', undefined), 'c1').clip.loop_beats, undefined, 'loop removed');
  d = E.duplicateClip(base, 'c1');
  same(d.tracks[0].clips.map((c) => [c.ui.id, c.start_beat]), [['c1', 0], ['c3', 4]], 'duplicate after it');
  check(d.tracks[0].clips[1].notes === base.tracks[0].clips[0].notes, 'a duplicate shares the notes');
  same(E.deleteClips(base, ['c1', 'c2']).tracks.map((x) => x.clips?.length), [0, 0, undefined], 'delete');
  n += 7;

  const board = E.copyClips(base, ['c2', 'c1']);
  same(board.clips.map((x) => [x.trackOffset, x.clip.start_beat]), [[1, 4], [0, 0]], 'clipboard');
  const ids = [];
  d = E.pasteClips(base, board, 1, 16, ids);
  same(ids, ['c3', 'c4'], 'pasted ids');
  same([E.findClip(d, 'c3').track.id, E.findClip(d, 'c3').clip.start_beat,
        E.findClip(d, 'c4').track.id, E.findClip(d, 'c4').clip.start_beat], [2, 20, 1, 16], 'pasted where asked');
  ids.length = 0;
  d = E.pasteClips(base, board, 2, 0, ids);
  same(ids, ['c3'], 'a paste onto a bus leaves that clip out');
  n += 4;

  // ---- notes ------------------------------------------------------------------------------
  const notes = (doc, id = 'c1') => E.findClip(doc, id).clip.notes.map((x) => [x.key, x.start_beat, x.length_beats, x.velocity]);
  same(notes(E.addNote(base, 'c1', { key: 200, start_beat: -1, length_beats: 0, velocity: 3 })).at(-1),
       [127, 0, 1 / 960, 1], 'a note added, clamped');
  same(notes(E.moveNotes(base, 'c1', [0, 2], 0.5, 2)), [[62, 0.5, 1, undefined], [64, 1, 1, 0.5], [69, 3, 1.5, undefined]], 'move notes');
  same(notes(E.moveNotes(base, 'c1', [0, 1], -5, 100)).slice(0, 2), [[123, 0, 1, undefined], [127, 1, 1, 0.5]],
       'a chord keeps its shape at the top and at the start');
  same(notes(E.resizeNotes(base, 'c1', [0, 1], 0.5)).slice(0, 2), [[60, 0, 1.5, undefined], [64, 1, 1.5, 0.5]], 'resize notes');
  same(notes(E.resizeNotes(base, 'c1', [2], 0.5, 'left'))[2], [67, 2, 2, undefined], 'resize a note at its start');
  same(notes(E.resizeNotes(base, 'c1', [0], -5))[0], [60, 0, 1 / 960, undefined], 'a note keeps a minimum length');
  same(notes(E.deleteNotes(base, 'c1', [0, 2])), [[64, 1, 1, 0.5]], 'delete notes');
  same(notes(E.setVelocity(base, 'c1', [0, 1], (v) => v + 0.5)).slice(0, 2), [[60, 0, 1, 1], [64, 1, 1, 1]], 'velocity');
  const off = E.addNotes(E.moveClip(base, 'c1', 0.1), 'c1', [{ key: 50, start_beat: 0.3, length_beats: 0.45 }]);
  same(notes(E.quantizeNotes(off, 'c1', [0, 1, 2, 3], 0.5)).map((x) => x[1].toFixed(6)),
       ['-0.100000', '0.900000', '2.400000', '0.400000'].map((s) => Math.max(0, Number(s)).toFixed(6)),
       'quantize on the timeline grid, the clip off the grid');
  same(notes(E.quantizeNotes(off, 'c1', [3], 0.5, 0.5))[3][1].toFixed(6), '0.350000', 'quantize at 50 %');
  same(notes(E.quantizeNotes(off, 'c1', [3], 0.5, 1, true))[3].slice(1, 3).map((x) => x.toFixed(6)),
       ['0.400000', '0.500000'], 'quantize the ends too');
  const nb = E.copyNotes(base, 'c1', [2, 1]);
  same(nb.notes.map((x) => `${x.key}@${x.start_beat}`), ['64@0', '67@1.5'], 'notes copied, from the earliest');
  same(notes(E.pasteNotes(base, 'c1', nb, 3)).slice(3), [[64, 3, 1, 0.5], [67, 4.5, 1.5, undefined]], 'notes pasted last');
  n += 13;

  // ---- project settings -------------------------------------------------------------------------
  same(E.setTempo(base, 5000).tempo, 1000, 'tempo clamped');
  d = E.addTempoChange(E.addTempoChange(base, 16, 90), 8, 140);
  same(d.tempo_changes, [{ beat: 8, bpm: 140 }, { beat: 16, bpm: 90 }], 'tempo changes sorted');
  same(E.moveTempoChange(d, 1, 4).tempo_changes, [{ beat: 4, bpm: 90 }, { beat: 8, bpm: 140 }], 'tempo change moved');
  check(E.moveTempoChange(d, 1, 8) === d, 'a tempo change onto another is refused');
  same(E.setTempoChangeBpm(d, 0, 100).tempo_changes[0], { beat: 8, bpm: 100 }, 'tempo change bpm');
  same(E.removeTempoChange(E.removeTempoChange(d, 0), 0).tempo_changes, undefined, 'tempo changes removed');
  same(E.setTimeSignature(base, 6, 8).time_signature, [6, 8], 'signature');
  check(E.setTimeSignature(base, 6, 6) === base, 'a signature of 6/6 is refused');
  d = E.addTimeSignatureChange(base, 8, 3, 4);
  same(d.time_signature_changes, [{ beat: 8, num: 3, den: 4 }], 'signature change');
  same(E.setTimeSignatureChange(E.moveTimeSignatureChange(d, 0, 12), 0, 7, 8).time_signature_changes,
       [{ beat: 12, num: 7, den: 8 }], 'signature change moved and set');
  same(E.removeTimeSignatureChange(d, 0).time_signature_changes, undefined, 'signature change removed');
  same(E.setLoop(base, { enabled: true, start_beat: 4, end_beat: 8 }).loop, { enabled: true, start_beat: 4, end_beat: 8 }, 'loop');
  check(E.setLoop(base, { start_beat: 8, end_beat: 8 }) === base, 'an empty loop is refused');
  same(E.setMetronome(base, { enabled: true, gain_db: 99 }).metronome, { enabled: true, gain_db: 24 }, 'metronome');
  same(E.setMasterGain(base, -3).master, { gain_db: -3 }, 'master');
  same(E.setLength(base, 32).length_beats, 32, 'length');
  same(E.setLength(E.setLength(base, 32), undefined).length_beats, undefined, 'length back to the clips\' end');
  same(E.setName(base, 'Song').ui, { name: 'Song' }, 'name');
  n += 18;

  // ensureIds: missing and duplicated ids get fresh ones, others are kept.
  const raw = { ...base, tracks: [{ ...base.tracks[0], clips: [
    { start_beat: 0, length_beats: 1, notes: [] },
    { start_beat: 1, length_beats: 1, notes: [], ui: { id: 'c7' } },
    { start_beat: 2, length_beats: 1, notes: [], ui: { id: 'c7', name: 'dup' } }] }] };
  same(E.ensureIds(raw).tracks[0].clips.map((c) => c.ui), [{ id: 'c8' }, { id: 'c7' }, { id: 'c9', name: 'dup' }], 'ensureIds');
  check(E.ensureIds(base) === base, 'ensureIds keeps a document that has them');
  n += 2;

  // ---- undo and redo of every kind of transaction ----------------------------------------------
  const kinds = [
    ['Add track', (x) => E.addTrack(x, { kind: 'audio' })],
    ['Remove track', (x) => E.removeTrack(x, 2)],
    ['Move track', (x) => E.moveTrack(x, 1, 1)],
    ['Rename track', (x) => E.renameTrack(x, 1, 'EP')],
    ['Colour', (x) => E.setTrackColor(x, 1, '#000000')],
    ['Fader', (x) => E.setFader(x, 1, { gain_db: -6, pan: 0.3, mute: true, solo: true })],
    ['Send', (x) => E.setSend(x, 1, 3, -12)],
    ['Instrument', (x) => E.setInstrument(x, 1, { builtin: 'pad.amp', unit: 'pad' })],
    ['Param', (x) => E.setParam(x, 1, 'brightness', 2)],
    ['Voice', (x) => E.setVoiceMode(x, 1, 'mono')],
    ['Insert', (x) => E.addInsert(x, 1, { builtin: 'stereo_delay.amp' })],
    ['Add clip', (x) => E.addClip(x, 1, { start_beat: 8, length_beats: 4 })],
    ['Move clip', (x) => E.moveClip(x, 'c1', 4)],
    ['Resize clip', (x) => E.resizeClip(x, 'c1', 'left', 1)],
    ['Split clip', (x) => E.splitClip(x, 'c1', 5)],
    ['Duplicate clip', (x) => E.duplicateClip(x, 'c1')],
    ['Paste', (x) => E.pasteClips(x, E.copyClips(x, ['c1']), 1, 8)],
    ['Delete clip', (x) => E.deleteClip(x, 'c3')],
    ['Loop clip', (x) => E.setClipLoop(x, 'c1', 2)],
    ['Add note', (x) => E.addNote(x, 'c1', { key: 72, start_beat: 3, length_beats: 0.5 })],
    ['Move notes', (x) => E.moveNotes(x, 'c1', [0, 1], 1, -1)],
    ['Resize notes', (x) => E.resizeNotes(x, 'c1', [1], -0.25)],
    ['Delete notes', (x) => E.deleteNotes(x, 'c1', [1])],
    ['Velocity', (x) => E.setVelocity(x, 'c1', [0], 0.3)],
    ['Quantize', (x) => E.quantizeNotes(x, 'c1', [0], 2)],
    ['Paste notes', (x) => E.pasteNotes(x, 'c1', E.copyNotes(x, 'c1', [0]), 6)],
    ['Tempo', (x) => E.setTempo(x, 90)],
    ['Tempo change', (x) => E.addTempoChange(x, 8, 150)],
    ['Signature', (x) => E.setTimeSignature(x, 3, 4)],
    ['Signature change', (x) => E.addTimeSignatureChange(x, 12, 5, 8)],
    ['Loop', (x) => E.setLoop(x, { enabled: true, start_beat: 0, end_beat: 8 })],
    ['Metronome', (x) => E.setMetronome(x, { enabled: true })],
    ['Master', (x) => E.setMasterGain(x, -2)],
    ['Length', (x) => E.setLength(x, 64)],
    ['Name', (x) => E.setName(x, 'Song')],
  ];
  const store = new DocStore(base);
  const heard = [];
  store.subscribe((doc, prev, cause) => heard.push(cause));
  const chain = [base];
  for (const [label, edit] of kinds) {
    const before = store.doc;
    check(store.transact(label, edit), `${label}: the transaction changed nothing`);
    check(store.doc !== before && store.undoLabel === label, `${label}: not recorded`);
    chain.push(store.doc);
  }
  for (let i = kinds.length - 1; i >= 0; i--) {
    check(store.redoLabel === (i === kinds.length - 1 ? null : kinds[i + 1][0]), `redo label before undoing ${kinds[i][0]}`);
    check(store.undo() && store.doc === chain[i], `undo ${kinds[i][0]}: not the document before it`);
  }
  check(!store.canUndo && !store.undo() && store.doc === base && !store.dirty, 'undone to the start: clean');
  for (let i = 0; i < kinds.length; i++)
    check(store.redo() && store.doc === chain[i + 1], `redo ${kinds[i][0]}: not the document after it`);
  check(!store.canRedo, 'nothing left to redo');
  same(heard, [...kinds.map(() => 'edit'), ...kinds.map(() => 'undo'), ...kinds.map(() => 'redo')], 'causes heard');
  n += kinds.length * 3;

  // No-op, coalescing, depth, dirty.
  const s2 = new DocStore(base, 3);
  check(!s2.transact('nothing', (x) => x) && !s2.canUndo && s2.revision === 0, 'a no-op records nothing');
  for (const beat of [1, 2, 3]) s2.transact('Move clip', (x) => E.moveClip(x, 'c1', beat), { coalesce: 'drag c1' });
  check(s2.undoLabels.length === 1 && E.findClip(s2.doc, 'c1').clip.start_beat === 3, 'a drag is one step');
  s2.endCoalesce();
  s2.transact('Move clip', (x) => E.moveClip(x, 'c1', 5), { coalesce: 'drag c1' });
  check(s2.undoLabels.length === 2, 'endCoalesce starts a new step');
  s2.undo();
  s2.undo();
  check(s2.doc === base, 'undoing a coalesced drag goes back to before its first move');
  s2.redo();
  s2.transact('Tempo', (x) => E.setTempo(x, 100), { coalesce: 'drag c1' });
  check(s2.undoLabels.length === 2 && !s2.canRedo, 'coalescing does not reach across an undo; an edit clears redo');
  for (let i = 0; i < 5; i++) s2.transact(`t${i}`, (x) => E.setTempo(x, 60 + i));
  same(s2.undoLabels, ['t2', 't3', 't4'], 'the undo depth keeps the newest');
  check(s2.dirty, 'edited: dirty');
  s2.markSaved();
  check(!s2.dirty, 'saved: clean');
  s2.undo();
  check(s2.dirty, 'undo after a save: dirty');
  s2.redo();
  check(!s2.dirty, 'redo back to the saved document: clean');
  s2.replace(base);
  check(!s2.canUndo && !s2.canRedo && !s2.dirty && s2.doc === base, 'replace clears the history');
  n += 13;

  // ---- timing: the engine's formulas -------------------------------------------------------------
  const map = timing.tempoMap(E.addTempoChange(E.setTempo(emptyProject(), 120), 8, 124));
  check(timing.beatToSample(map, 1, 48000) === 24000, 'beat 1 at 120 bpm is sample 24000');
  check(timing.beatToSample(map, 8, 48000) === 192000, 'beat 8 is 4 s');
  check(timing.beatToSeconds(map, 12) === 4 + 4 * 60 / 124, 'past the change: 60/124 s a beat');
  check(timing.secondsToBeat(map, 4 + 4 * 60 / 124) === 12, 'seconds back to beats');
  check(timing.sampleToBeat(map, 192000, 48000) === 8, 'the change\'s sample is its beat');
  const s12 = timing.sampleForBeat(map, 12, 48000);
  check(timing.sampleToBeat(map, s12, 48000) >= 12 && timing.sampleToBeat(map, s12 - 1, 48000) < 12,
        'sampleForBeat is the first sample at or after the beat');
  check(timing.bpmAt(map, 7.99) === 120 && timing.bpmAt(map, 8) === 124, 'bpm at');
  same(timing.makeTempoMap(100, [{ beat: 4, bpm: 90 }, { beat: 2, bpm: 80 }, { beat: 4, bpm: 95 }]).changes,
       [{ beat: 2, bpm: 80 }, { beat: 4, bpm: 95 }], 'map: sorted, the later of two at one beat wins');
  check(timing.projectEndBeat(base) === 8, 'the end of the last clip');
  const tr = new timing.Transport(map, 48000);
  check(tr.sampleFor(8) === 192000 && tr.beatAt(192000) === 8, 'the transport reaches the change on its sample');
  const s13 = tr.sampleFor(13.3);
  check(tr.beatAt(s13) >= 13.3 && tr.beatAt(s13 - 1) < 13.3 && Math.abs(s13 - timing.sampleForBeat(map, 13.3, 48000)) <= 1,
        'the transport: the first sample at or past a beat, within a sample of the map\'s');
  const from6 = new timing.Transport(map, 48000, 6);
  check(from6.sampleFor(8) === 48000 && from6.beatAt(0) === 6, 'a transport from beat 6');
  n += 12;

  // ---- grid and bars ----------------------------------------------------------------------------
  const sig = grid.signatureMap(E.addTimeSignatureChange(E.setTimeSignature(emptyProject(), 4, 4), 8, 6, 8));
  same(grid.formatBarBeat(sig, 0), '1.1.000', 'the start');
  same(grid.formatBarBeat(sig, 5.5), '2.2.480', 'bar 2 beat 2 and a half');
  same(grid.formatBarBeat(sig, 8), '3.1.000', '6/8 from bar 3');
  same(grid.formatBarBeat(sig, 8 + 3.5), '4.2.000', 'in 6/8 a bar is 3 quarters, a beat an eighth');
  same([grid.barStart(sig, 3), grid.barStart(sig, 5)], [8, 14], 'bar starts');
  same(grid.barsBetween(sig, 0, 12).map((x) => `${x.bar}@${x.beat} ${x.num}/${x.den}`),
       ['1@0 4/4', '2@4 4/4', '3@8 6/8', '4@11 6/8'], 'bar lines for a ruler');
  const odd = grid.signatureMap(E.addTimeSignatureChange(emptyProject(), 6, 3, 4));
  same([grid.formatBarBeat(odd, 6), grid.barStart(odd, 3)], ['3.1.000', 6], 'a change inside a bar cuts it short');
  same([grid.snap(1.3, 0.25), grid.snap(1.3, 1 / 3), grid.snap(1.3, 0)], [1.25, 4 / 3, 1.3], 'snap');
  same(grid.snapTo(sig, 9.6, grid.GRID_SIZES[1]), 11, 'snap to bars in 6/8');
  n += 9;

  // ---- recovery at load: the newer of the local and the server copy -----------------------------
  const local = (baseRevision, unsaved) => ({ key: 'server:p', doc: base, savedAt: 1, serverId: 'p', baseRevision, unsaved });
  same(chooseRecovery(null, null), { pick: 'none' }, 'nothing anywhere');
  same(chooseRecovery(null, 3).pick, 'server', 'only the server');
  same(chooseRecovery(local(3, true), 3).pick, 'local', 'unsaved edits on the current revision: local');
  same(chooseRecovery(local(3, false), 3).pick, 'server', 'nothing unsaved: the server');
  same(chooseRecovery(local(2, false), 3).pick, 'server', 'the server moved on, nothing unsaved here');
  same(chooseRecovery(local(2, true), 3), { pick: 'conflict', local: local(2, true), revision: 3 },
       'both changed: a conflict');
  same(chooseRecovery(local(0, true), null).pick, 'local', 'never saved: local');
  n += 7;

  if (t.cacheDir) n += await againstNative(t, E, timing, emptyProject);
  if (t.browser) n += await inBrowser(t);
  t.log(`${n} checks of edits, history, timing, grid and saving in ${((Date.now() - started) / 1000).toFixed(2)} s`);
}

/** timing.ts against the native engine: notes before and after a tempo
 *  change (and across a second one), rendered by `amp render`, start on
 *  the samples Transport.sampleFor gives (a note's output starts one
 *  sample after its note-on, as the parity tests measure). */
async function againstNative(t, E, timing, emptyProject) {
  const rate = 48000;
  let doc = { ...E.setTempo(emptyProject(), 120), version: 1 };
  doc = E.addTempoChange(E.addTempoChange(doc, 8, 124), 13, 97.5);
  doc = E.addTrack(doc, { kind: 'instrument', patch: relativeTo(t.tmp, 'nodes/epiano.amp') });
  const beats = [3, 12, 14.25];
  const onsets = [];
  for (const beat of beats) {
    let d = E.addClip(doc, 1, { start_beat: 0, length_beats: 16, notes: [{ key: 60, start_beat: beat, length_beats: 0.5 }] });
    d = { ...d, tracks: d.tracks.map((x) => { const { ui, ...rest } = x; return { ...rest, clips: rest.clips.map((c) => ({ ...c, ui: undefined })) }; }) };
    const wav = await renderProject(JSON.parse(JSON.stringify(d)), t.tmp, `timing-${beat}`, 9 * rate, rate, t.cacheDir);
    onsets.push(wav.channels[0].findIndex((x) => x !== 0));
  }
  const transport = new timing.Transport(timing.tempoMap(doc), rate);
  const expected = beats.map((b) => transport.sampleFor(b) + 1);
  check(JSON.stringify(onsets) === JSON.stringify(expected),
        `notes at beats ${beats} start at samples ${onsets} in amp render; timing.ts says ${expected}`);
  t.log(`amp render: notes at beats ${beats.join(', ')} (tempo 120, 124 from beat 8, 97.5 from 13) start on the ` +
        `samples timing.ts gives: ${onsets.join(', ')}`);
  return 1;
}

/** AmpdClient and Autosave in the page against an ampd of its own: sign
 *  up, create, save revisions, a stale save as a conflict result, the
 *  IndexedDB record and what a reload would recover. */
async function inBrowser(t) {
  const esbuild = requireWeb('esbuild');
  const bundle = (await esbuild.build({
    stdin: {
      contents: `${DOC_MODULES}
export { AmpdClient } from './api/ampd';
export { Autosave, readAutosave } from './api/autosave';`,
      resolveDir: path.join(repo, 'web', 'src'), loader: 'ts',
    },
    bundle: true, format: 'iife', globalName: 'AmpDoc', platform: 'browser', target: 'es2022',
    tsconfig: path.join(repo, 'web', 'tsconfig.app.json'), write: false, logLevel: 'warning',
  })).outputFiles[0].text;
  const server = await startAmpd(['--data', path.join(t.tmp, 'doc-data'), '--argon-ops', '1', '--argon-mem', '8192']);
  const context = await t.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(server.url);
    await page.addScriptTag({ content: bundle });
    const r = await page.evaluate(async () => {
      const A = globalThis.AmpDoc;
      const out = {};
      const api = new A.AmpdClient();
      out.available = await api.available();
      out.nobody = await api.account();
      out.user = await api.signUp('musician', 'a long passphrase');
      // What the DAW saves: version 2, a built-in patch (a stored project
      // never names a patch by file path).
      let doc = A.E.addTrack(A.emptyProject(), { kind: 'instrument', patch: { builtin: 'epiano.amp' } });
      doc = A.E.addClip(doc, 1, { start_beat: 0, length_beats: 4, notes: [{ key: 60, start_beat: 0, length_beats: 1 }] });
      const store = new A.DocStore(doc);
      const autosave = new A.Autosave(store, { delayMs: 10 });
      autosave.start();
      const states = [];
      autosave.subscribe((s) => states.push(s.status));
      const created = await autosave.save(api, { name: 'Song' });
      if (!created) throw new Error(`the first save failed: ${autosave.state.error}`);
      out.created = { ok: created.ok, revision: created.revision, id: autosave.state.serverId, dirty: store.dirty };
      store.transact('Tempo', (d) => A.E.setTempo(d, 133));
      out.afterEdit = autosave.state.status;
      const second = await autosave.save(api);
      out.second = { ok: second.ok, revision: second.revision, status: autosave.state.status };
      // Another tab saved revision 3 meanwhile: this one's save is refused.
      const other = await api.saveProject(autosave.state.serverId, A.E.setTempo(store.doc, 90), 2);
      store.transact('Name', (d) => A.E.setName(d, 'Mine'));
      const stale = await autosave.save(api);
      out.stale = { result: stale, status: autosave.state.status, other: other.revision };
      await autosave.flush();
      const rec = await A.readAutosave(autosave.key);
      out.record = { key: rec.key, base: rec.baseRevision, unsaved: rec.unsaved, name: rec.doc.ui?.name, tempo: rec.doc.tempo };
      out.recovery = A.chooseRecovery(rec, 3).pick;
      const server = await api.getProject(autosave.state.serverId);
      out.server = { revision: server.revision, tempo: server.document.tempo, name: server.name };
      // Overwrite: the save based on the server's revision.
      const forced = await autosave.save(api, { force: true });
      out.forced = { ok: forced.ok, revision: forced.revision, status: autosave.state.status };
      out.list = (await api.listProjects()).map((p) => [p.name, p.revision]);
      out.states = states;
      autosave.stop();
      return out;
    });
    same(r.available, true, 'ampd answers');
    same(r.nobody, null, 'nobody signed in');
    same(r.user, { name: 'musician', local: false }, 'signed up');
    same(r.created, { ok: true, revision: 1, id: r.created.id, dirty: false }, 'created on the first save');
    same(r.afterEdit, 'unsaved', 'an edit: unsaved');
    same(r.second, { ok: true, revision: 2, status: 'saved' }, 'saved revision 2');
    same(r.stale, { result: { ok: false, conflict: true, currentRevision: 3 }, status: 'conflict', other: 3 },
         'a save over a stale revision is a conflict, not an exception');
    same(r.record, { key: `server:${r.created.id}`, base: 2, unsaved: true, name: 'Mine', tempo: 133 },
         'the IndexedDB record: the edits not on the server');
    same(r.recovery, 'conflict', 'a reload would offer both');
    same(r.server, { revision: 3, tempo: 90, name: 'Song' }, 'the server kept the other tab\'s save');
    same(r.forced, { ok: true, revision: 4, status: 'saved' }, 'overwrite after the conflict');
    same(r.list, [['Song', 4]], 'the project list');
    t.log(`saving: ${r.states.join(' → ')}`);
    return 12;
  } finally {
    await context.close();
    await server.close();
  }
}
