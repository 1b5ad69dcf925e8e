// sync.mjs — the sync layer (web/src/engine/sync.ts) turns document
// changes into exactly the engine operations they need: a sequence of
// edits, undos and redos against a RecordingSink, compared call by call;
// then the RingSink's commands for a load and a few edits (a recording
// CommandSender), and the same RingSink driving the real engine in the
// page: every command applied, none refused, the tracks the document has.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleModules, DOC_MODULES, song } from './doc.mjs';
import { check, repo, waitFor, webDir } from './lib.mjs';
import { createRequire } from 'node:module';

const SYNC_MODULES = `${DOC_MODULES}
export { Sync } from './engine/sync';
export { RecordingSink, manifestRegistry } from './engine/sink';
export { RingSink } from './engine/ring-sink';
export { Telemetry } from './engine/telemetry';
export { FIXED_BUILD_LIMITS, engineSizing, limitProblems, resizeEngine } from './engine/client';
`;

function same(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}:\n    got      ${a}\n    expected ${e}`);
}

const C1 = '60@0:1/0.8 64@1:1/0.5 67@2.5:1.5/0.8';

export async function run(t) {
  const started = Date.now();
  const { E, DocStore, emptyProject, timing, Sync, RecordingSink, RingSink, Telemetry, manifestRegistry,
          FIXED_BUILD_LIMITS, engineSizing, limitProblems } = await bundleModules(SYNC_MODULES, t.tmp, 'sync');
  const manifest = JSON.parse(readFileSync(path.join(webDir, 'engine.json'), 'utf8'));
  const index = (unit) => manifest.patches.find((p) => p.unit === unit).index;
  const param = (unit, name) => manifest.patches.find((p) => p.unit === unit).meta.params.find((q) => q.name === name).index;
  const registry = manifestRegistry(manifest.patches);
  check(registry.indexOf('../nodes/epiano.amp') === index('epiano') &&
        registry.indexOf({ builtin: 'pad.amp', unit: 'pad' }) === index('pad') &&
        registry.indexOf({ file: 'x/pad.amp', unit: 'nope' }) === -1 &&
        registry.indexOf({ library: 'abc', revision: 1 }) === -1, 'patch references to registry indices');
  let checks = 1;

  // ---- RecordingSink: exact operations ------------------------------------------------------
  const rec = new RecordingSink();
  const store = new DocStore(song(E, emptyProject));
  const sync = new Sync(rec, registry);
  sync.attach(store);
  same(rec.take(), [
    ['clear'], ['tempo', 120, ''], ['signature', '4/4', ''], ['loop', 'none'], ['metronome', 'none'], ['master', 0],
    ['addTrack', 1, 0, 'instrument'], ['addTrack', 2, 1, 'instrument'], ['addTrack', 3, 2, 'bus'], ['order', '1,2,3'],
    ['instrument', 1, index('epiano'), ''], ['putClip', 1, 'c1', `0+4 [${C1}]`],
    ['instrument', 2, index('ladder_bass'), ''], ['putClip', 2, 'c2', '4+4 [36@0:2/0.8]'],
  ], 'the load builds everything');

  const steps = [
    ['Param', (x) => E.setParam(x, 1, 'brightness', 1.5), [['params', 1, 0, `${param('epiano', 'brightness')}=1.5`]]],
    ['Move clip', (x) => E.moveClip(x, 'c1', 2), [['putClip', 1, 'c1', `2+4 [${C1}]`]]],
    ['Move clip to track 2', (x) => E.moveClip(x, 'c1', 2, 2), [['putClip', 2, 'c1', `2+4 [${C1}]`]]],
    ['Add note', (x) => E.addNote(x, 'c2', { key: 38, start_beat: 2, length_beats: 0.5, velocity: 1 }),
     [['putClip', 2, 'c2', '4+4 [36@0:2/0.8 38@2:0.5/1]']]],
    ['Send', (x) => E.setSend(x, 1, 3, -6), [['sends', 1, '3:-6']]],
    ['Remove bus', (x) => E.removeTrack(x, 3), [['removeTrack', 3], ['order', '1,2'], ['sends', 1, '']]],
    ['Instrument', (x) => E.setInstrument(x, 1, { builtin: 'pad.amp', unit: 'pad' }),
     [['instrument', 1, index('pad'), '']]],
    ['Voice', (x) => E.setVoiceMode(x, 2, 'legato', 'high', 0.05), [['voice', 2, 'legato high 0.05']]],
    ['Fader', (x) => E.setFader(x, 2, { gain_db: -3, mute: true }), [['fader', 2, '-3 0 mute']]],
    ['Tempo change', (x) => E.addTempoChange(x, 8, 124), [['tempo', 120, '8:124']]],
    ['Signature', (x) => E.setTimeSignature(x, 3, 4), [['signature', '3/4', '']]],
    ['Loop', (x) => E.setLoop(x, { enabled: true, start_beat: 0, end_beat: 8 }), [['loop', 'on 0-8']]],
    ['Metronome', (x) => E.setMetronome(x, { enabled: true }), [['metronome', 'on 0']]],
    ['Master', (x) => E.setMasterGain(x, -1.5), [['master', -1.5]]],
    ['Insert', (x) => E.addInsert(x, 2, { builtin: 'stereo_delay.amp' }), [['inserts', 2, `${index('stereo_delay')}()`]]],
    ['Insert param', (x) => E.setParam(x, 2, 'mix', 0.25, 1), [['params', 2, 1, `${param('stereo_delay', 'mix')}=0.25`]]],
    ['Delete clip', (x) => E.deleteClip(x, 'c1'), [['removeClip', 'c1']]],
    ['Add track', (x) => E.addTrack(x, { kind: 'instrument', patch: { builtin: 'drums.amp', unit: 'drums' } }),
     [['addTrack', 3, 2, 'instrument'], ['order', '1,2,3'], ['instrument', 3, index('drums'), '']]],
    ['Move track', (x) => E.moveTrack(x, 3, 0), [['order', '3,1,2']]],
    ['Rename', (x) => E.renameTrack(x, 2, 'Low'), []],
    ['Paste', (x) => E.pasteClips(x, E.copyClips(x, ['c2']), 3, 8), [['putClip', 3, 'c3', '8+4 [36@0:2/0.8 38@2:0.5/1]']]],
  ];
  for (const [label, edit, expected] of steps) {
    check(store.transact(label, edit), `${label}: no change`);
    same(rec.take(), expected, label);
    checks++;
  }
  // Undo each: the inverse operations.
  const undone = [
    ['Paste', [['removeClip', 'c3']]],
    ['Rename', []],
    ['Move track', [['order', '1,2,3']]],
    ['Add track', [['removeTrack', 3], ['order', '1,2']]],
    ['Delete clip', [['putClip', 2, 'c1', `2+4 [${C1}]`]]],
    ['Insert param', [['params', 2, 1, `${param('stereo_delay', 'mix')}=0.25`]]],
  ];
  for (const [label, expected] of undone) {
    check(store.undoLabel === label && store.undo(), `undo ${label}`);
    // Undoing the first set of a param goes back to the patch's default,
    // which only the engine knows: the whole chain is set again.
    if (label === 'Insert param') same(rec.take(), [['inserts', 2, `${index('stereo_delay')}()`]], `undo ${label}`);
    else same(rec.take(), expected, `undo ${label}`);
    checks++;
  }
  check(store.undoLabel === 'Insert' && store.undo(), 'undo Insert');
  same(rec.take(), [['inserts', 2, '']], 'undo Insert');
  check(store.undoLabel === 'Master' && store.undo(), 'undo Master');
  same(rec.take(), [['master', 0]], 'undo Master');
  for (let i = 0; i < 6; i++) store.undo();   // Metronome .. Instrument
  same(rec.take(), [['metronome', 'none'], ['loop', 'none'], ['signature', '4/4', ''], ['tempo', 120, ''],
                    ['fader', 2, '0 0'], ['voice', 2, 'poly last 0']], 'undo six settings');
  check(store.undoLabel === 'Instrument' && store.undo(), 'undo Instrument');
  same(rec.take(), [['instrument', 1, index('epiano'), `${param('epiano', 'brightness')}=1.5`]],
       'undo Instrument: the old patch with its params');
  check(store.undoLabel === 'Remove bus' && store.undo(), 'undo Remove bus');
  same(rec.take(), [['addTrack', 3, 2, 'bus'], ['order', '1,2,3'], ['sends', 1, '3:-6']],
       'undo Remove bus: the bus first, then the send to it');
  check(store.redo(), 'redo Remove bus');
  same(rec.take(), [['removeTrack', 3], ['order', '1,2'], ['sends', 1, '']], 'redo Remove bus');
  store.undo();
  rec.take();
  check(store.undoLabel === 'Send' && store.undo() && store.undo(), 'undo Send, Add note');
  same(rec.take(), [['sends', 1, ''], ['putClip', 2, 'c2', '4+4 [36@0:2/0.8]']], 'undo Send, Add note');
  check(store.undo(), 'undo Move clip to track 2');
  same(rec.take(), [['putClip', 1, 'c1', `2+4 [${C1}]`]], 'undo a move across tracks: one put on the old track');
  checks += 12;

  // Coalesced drags: each move is sent; the one undo step sends the start.
  for (const beat of [3, 4, 5]) store.transact('Drag', (x) => E.moveClip(x, 'c1', beat), { coalesce: 'drag' });
  same(rec.take().map((c) => c[3].split(' ')[0]), ['3+4', '4+4', '5+4'], 'a drag: one put per move');
  store.undo();
  same(rec.take(), [['putClip', 1, 'c1', `2+4 [${C1}]`]], 'the drag undone in one step');
  checks += 2;

  // Live notes and the transport go through the same sync.
  const note = sync.noteOn(2, 40, 0.9, 1234.5);
  sync.noteOff(note, 1300);
  sync.noteOff(note);                 // twice: the second is ignored
  sync.play();
  sync.seekBeat(-3);
  sync.stop();
  sync.allNotesOff();
  same(rec.take(), [['noteOn', 2, note, 40, 0.9, 1234.5], ['noteOff', 2, note, 1300], ['play'], ['seek', 0], ['stop'],
                    ['allNotesOff']], 'live notes and transport');
  // A replaced document is rebuilt from scratch.
  store.replace(E.setTempo(emptyProject(), 100));
  same(rec.take(), [['clear'], ['tempo', 100, ''], ['signature', '4/4', ''], ['loop', 'none'], ['metronome', 'none'],
                    ['master', 0]], 'replace rebuilds');
  checks += 2;

  // ---- RingSink: ring format 3, the project's own terms ----------------------------------------
  const sent = [];
  const commands = new Proxy({}, {
    get: (_, name) => (...args) => {
      sent.push(`${String(name)}(${args.join(',')})`);
      return true;
    },
  });
  const warnings = [];
  const warn = console.warn;
  console.warn = (m) => warnings.push(String(m));
  try {
    const ring = new RingSink({ commands, sampleRate: 48000, frameAt: (ms) => ms * 48 });
    let d = song(E, emptyProject);
    d = E.addTempoChange(d, 8, 124);
    d = E.setSend(d, 1, 3, -6);
    d = E.setLoop(d, { enabled: true, start_beat: 4, end_beat: 12 });
    d = E.setFader(d, 2, { gain_db: -3, pan: 0.5 });
    d = E.addTimeSignatureChange(d, 8, 3, 4);
    d = E.setMetronome(d, { enabled: true, gain_db: -6 });
    const rs = new DocStore(d);
    const rsync = new Sync(ring, registry);
    rsync.attach(rs);
    const ep = index('epiano');
    const lb = index('ladder_bass');
    // Engine ids are the lowest free (amp_init's track 0 removed first);
    // each equals the track's index, so no set_track_position is needed.
    same(sent.splice(0), [
      'removeTrack(0,0)', 'stop(0)', 'seekBeat(0,0)', 'tempoBpm(0,120)', 'tempoChangeBeat(0,8,124)', 'timeSignature(0,4,4)',
      'timeSignatureChange(0,8,3,4)', 'loopBeats(0,4,12,true)', 'metronome(0,-6,true)', 'faderGain(0,-1,0)',
      'addTrack(0,0,0)', 'addTrack(0,1,0)', 'addTrack(0,2,2)',
      `selectPatch(0,${ep},0)`, 'settle(0,0,0)',
      'clipNotes(0,0,3)', 'clipNote(0,0,0,1,0.8,60)', 'clipNote(0,0,1,1,0.5,64)', 'clipNote(0,0,2.5,1.5,0.8,67)',
      'placeClipBeats(0,0,0,0,0,4,0)',
      `selectPatch(0,${lb},1)`, 'settle(0,1,0)',
      'faderGain(0,1,-3)', 'setPan(0,1,0.5)', 'setMute(0,1,false)', 'setSolo(0,1,false)',
      'clipNotes(0,1,1)', 'clipNote(0,1,0,2,0.8,36)', 'placeClipBeats(0,1,1,1,4,4,0)',
      'setSendDb(0,0,2,-6,false)',
    ], 'RingSink: the load');
    // A bus put first: it gets engine id 3 and position 0, and every track
    // after it moves down one (no renumbering, no rebuild); a send from it
    // to the bus after it, in dB.
    rs.transact('Bus first', (x) => E.addTrack(x, { kind: 'bus', name: 'B0', index: 0 }));
    rs.transact('Send', (x) => E.setSend(x, 4, 3, 1.5));
    rs.transact('Param', (x) => E.setParam(x, 2, 'cutoff', 800));
    same(sent.splice(0), ['addTrack(0,3,2)', 'setTrackPosition(0,3,0)', 'setTrackPosition(0,0,1)', 'setTrackPosition(0,1,2)',
                          'setTrackPosition(0,2,3)', 'setSendDb(0,3,2,1.5,false)',
                          `setParam(0,${param('ladder_bass', 'cutoff')},800,1,0)`],
         'RingSink: a bus put first, a send in dB, a param');
    // Clip edits: a move is one placement; a changed note sends the
    // clip's notes again (sorted: start, key, length); a loop; a delete.
    rs.transact('Move', (x) => E.moveClip(x, 'c1', 2));
    rs.transact('Note', (x) => E.addNote(x, 'c2', { key: 31, start_beat: 0, length_beats: 1, velocity: 1 }));
    rs.transact('Loop clip', (x) => E.setClipLoop(x, 'c2', 2));
    rs.transact('Delete', (x) => E.deleteClip(x, 'c1'));
    same(sent.splice(0), [
      'placeClipBeats(0,0,0,0,2,4,0)',
      'clipNotes(0,1,2)', 'clipNote(0,1,0,1,1,31)', 'clipNote(0,1,0,2,0.8,36)', 'placeClipBeats(0,1,1,1,4,4,0)',
      'placeClipBeats(0,1,1,1,4,4,2)',
      'removePlacement(0,0)', 'clipNotes(0,0,0)',
    ], 'RingSink: clip moved, a note added, looped, removed');
    // Automation as the engine's lanes, point by point (slot 17: the fader).
    rs.transact('Automation', (x) => ({ ...x, tracks: x.tracks.map((t) => t.id !== 1 ? t : { ...t, automation: [
      { target: { slot: 0, param: 'brightness' }, points: [{ beat: 0, value: 1 }, { beat: 1, value: 2 }] },
      { target: { fader: 'pan' }, points: [{ beat: 0.5, value: -1 }] }] }) }));
    const bright = param('epiano', 'brightness');
    same(sent.splice(0), [`automationLane(0,0,0,${bright},2)`, `automationPoint(0,0,0,0,${bright},1)`,
                          `automationPoint(0,1,0,0,${bright},2)`, 'automationLane(0,0,17,1,1)', 'automationPoint(0,0.5,0,17,1,-1)'],
         'RingSink: automation lanes');
    rs.transact('No pan lane', (x) => ({ ...x, tracks: x.tracks.map((t) => t.id !== 1 ? t : { ...t,
      automation: t.automation.slice(0, 1) }) }));
    same(sent.splice(0), ['automationLane(0,0,17,1,0)'], 'RingSink: a removed lane, the other not sent again');
    // A removed track: its placements go with it, its clips' notes freed;
    // the tracks after it move up.
    rs.transact('Remove', (x) => E.removeTrack(x, 2));
    same(sent.splice(0), ['clipNotes(0,1,0)', 'removeTrack(0,1)', 'setTrackPosition(0,2,2)'],
         'RingSink: a removed track');
    rs.transact('Tempo', (x) => E.setTempo(x, 97.5));
    rs.transact('Master', (x) => E.setMasterGain(x, -1.25));
    same(sent.splice(0), ['tempoBpm(0,97.5)', 'tempoChangeBeat(0,8,124)', 'faderGain(0,-1,-1.25)'], 'RingSink: tempo, master');
    const id = rsync.noteOn(1, 40, 0.9, 1000);
    rsync.noteOff(id);
    rsync.seekBeat(12);
    rsync.play();
    rsync.stop();
    // The note-off "now" keeps its place after the note-on timed later,
    // and so does the transport. Play from a stop settles every patch at
    // the document's params first (epiano here sets none): as a render.
    same(sent.splice(0), [`noteOn(48000,${id},40,0.9,0)`, `noteOff(48000,${id},0)`, 'seekBeat(48000,12)',
                          'settle(48000,0,0)', 'play(48000)', 'stop(48000)'],
         'RingSink: a live note at its time, the transport after it');
    checks += 8;

    // A full ring: commands wait, in order, and go out on a flush.
    let room = 2;
    const written = [];
    const tight = new Proxy({}, {
      get: (_, name) => (...args) => {
        if (room <= 0) return false;
        room--;
        written.push(String(name));
        return true;
      },
    });
    const full = new RingSink({ commands: tight, sampleRate: 48000, frameAt: (ms) => ms * 48 });
    new Sync(full, registry).reset(song(E, emptyProject));
    const before = [...written];
    check(full.waiting > 5 && !full.flush(), `a full ring: ${full.waiting} commands wait`);
    room = 1000;
    check(full.flush() && full.waiting === 0, 'the flush sends them');
    same([before, written.slice(0, 6)], [['removeTrack', 'stop'], ['removeTrack', 'stop', 'seekBeat', 'tempoBpm', 'timeSignature', 'loopBeats']],
         'in order');
    checks += 3;

    // Past the engine's ids: refused with one warning, `outgrown` set.
    const small = new RingSink({ commands, sampleRate: 48000, frameAt: () => 0,
                                 limits: { tracks: 2, clips: 1, placementsPerTrack: 1, samples: 1, regionsPerTrack: 1 } });
    new Sync(small, registry).reset(song(E, emptyProject));
    check(small.outgrown && warnings.length === 2, `a small engine outgrown: ${JSON.stringify(warnings)}`);
    warnings.length = 0;
    sent.length = 0;
    checks++;
    check(warnings.length === 0, `RingSink warnings: ${JSON.stringify(warnings)}`);

    // Audio regions: the asset's sample id at once, the asset's bytes to
    // the engine once (loadWav: decoded and resampled there), load_sample.
    const fetched = [];
    const audio = new RingSink({ commands, sampleRate: 48000, frameAt: (ms) => ms * 48,
                                 loadWav: async (bytes) => ({ handle: 9, frames: bytes.byteLength * 100, channels: 2 }) },
                               { fetchAsset: async (hash) => { fetched.push(hash); return new ArrayBuffer(48); } });
    const async_ = new Sync(audio, registry);
    let a = E.addTrack(emptyProject(), { kind: 'audio' });
    a = E.addRegion(a, 1, { asset: 'ab'.repeat(32), start_beat: 2, offset_seconds: 0.25, length_seconds: 0.5, gain_db: -3 });
    a = E.addRegion(a, 1, { asset: 'ab'.repeat(32), start_beat: 4 });
    const as = new DocStore(a);
    async_.attach(as);
    as.transact('Move', (x) => E.moveRegion(x, 'c2', 8));
    as.transact('Delete', (x) => E.deleteRegions(x, ['c1']));
    await Promise.all([...audio.loading]);
    same(sent.splice(0).slice(-5), ['placeRegionBeats(0,0,0,0,2,0.25,0.5,-3)', 'placeRegionBeats(0,1,0,0,4,0,0,0)',
                                    'placeRegionBeats(0,1,0,0,8,0,0,0)', 'removeRegion(0,0)', 'loadSample(0,0,9,4800,48000,2)'],
         'regions: placed, moved, removed; their asset loaded once');
    same(fetched, ['ab'.repeat(32)], 'one fetch for two regions of one asset');
    checks += 2;
  } finally {
    console.warn = warn;
  }
  checks += telemetry(E, emptyProject, Telemetry);

  // The engine's size and limits, as the page shows them.
  // Sized for the song by limits.ts: a real song's minimum (2,000 clips),
  // in memoryPagesFor(limits) pages.
  const sizing = engineSizing(manifest, song(E, emptyProject));
  same([sizing.limits.tracks, sizing.limits.clips, sizing.engine.clips, sizing.stats.clips,
        sizing.memoryPages >= manifest.minimumPages && sizing.memoryPages <= manifest.maximumPages],
       [64, 2000, 2000, 2, true], 'engine sizing');
  // (An edit never makes a 65th track: this one is made by hand.)
  let big = E.addTrack(song(E, emptyProject), { kind: 'audio', name: 'Loops' });
  for (let i = 0; i < 66; i++) big = E.addRegion(big, 4, { asset: i.toString(16).padStart(64, '0'), start_beat: i });
  big = { ...big, tracks: [...big.tracks, ...Array.from({ length: 61 }, (_, i) => ({ id: 100 + i, kind: 'bus' }))] };
  same(limitProblems(big, FIXED_BUILD_LIMITS),
       ['65 tracks: this engine plays 64', 'Loops: 66 audio regions, at most 64', '66 audio files: this engine holds 64'],
       'a project past the limits, in words');
  same(limitProblems(song(E, emptyProject), FIXED_BUILD_LIMITS), [], 'a song that fits');
  checks += 3;
  let withAudio = E.addTrack(song(E, emptyProject), { kind: 'audio', name: 'Loop' });
  withAudio = E.addRegion(withAudio, 4, { asset: 'cd'.repeat(32), start_beat: 0 });
  if (t.newPage) checks += await inBrowser(t, withAudio);
  t.log(`${checks} checks of the sync layer in ${((Date.now() - started) / 1000).toFixed(2)} s`);
}

/** Telemetry from made-up state-region snapshots: the held clip
 *  indicator, meters by document track, voices of every track, the
 *  playhead in bars under the signature map. */
function telemetry(E, emptyProject, Telemetry) {
  let doc = E.addTrack(E.addTrack(emptyProject(), { kind: 'instrument' }), { kind: 'bus' });
  doc = E.addTimeSignatureChange(E.setTimeSignature(E.addTempoChange(doc, 8, 60), 4, 4), 8, 3, 4);
  const track = (id, voices, peak, clips = 0) => ({ id, kind: 1, flags: 0, faulted: 0, voices, peak: [peak, peak],
                                                    rms: [peak / 2, peak / 2], faults: 0, notesRefused: 0, clips });
  let state = null;
  const tel = new Telemetry({ snapshot: () => state }, (id) => ({ 1: 5, 2: 9 })[id] ?? -1);
  tel.setDocument(doc);
  // The engine's bar and beat (its signature map: 4/4, 3/4 from beat 8)
  // and its sticky clip counters.
  const at = (beat, master, tracks, ms, masterClips = 0) => {
    const [bar, barBeat] = beat < 8 ? [Math.floor(beat / 4), beat % 4] : [2 + Math.floor((beat - 8) / 3), (beat - 8) % 3];
    state = { playing: true, beat, tempo: 120, frames: 0, playhead: 0, sampleRate: 48000, peak: [master, master / 2],
              rms: [master / 4, master / 4], tracks, cpuLoad: 0.25, commandsRefused: 0, faults: 0,
              bar, barBeat, sigNum: beat < 8 ? 4 : 3, sigDen: 4, masterClips };
    return tel.update(ms);
  };
  // +4.8 dB on the master (1.738): the clip indicator lights and stays.
  let s = at(9.5, 1.738, [track(0, 3, 0.5), track(5, 2, 0.25), track(9, 0, 1.5, 7)], 0, 12);
  same([s.master.clipped, s.master.peakDb[0].toFixed(1), s.voices, s.position, s.seconds],
       [true, '4.8', 5, { bar: 3, beat: 2, tick: 480 }, 4 + 1.5], 'a master at +4.8 dB: held clip, voices of every track');
  same([s.tracks.get(1).peak[0], s.tracks.get(1).voices, s.tracks.get(2).clipped], [0.25, 2, true], 'tracks by document id');
  s = at(10, 0.5, [track(5, 0, 0), track(9, 0, 0, 7)], 100, 12);
  same([s.master.clipped, s.master.maxDb.toFixed(1), s.master.hold[0], s.tracks.get(2).clipped], [true, '4.8', 1.738, true],
       'the clip is held after the peak falls; the hold too');
  s = at(10, 0.5, [track(5, 0, 0), track(9, 0, 0, 7)], 100 + 1501, 12);
  check(s.master.hold[0] === 0.5, `the peak hold falls after 1.5 s: ${s.master.hold[0]}`);
  tel.resetClip();
  tel.resetClip(2);
  same([s.master.clipped, s.tracks.get(2).clipped, s.tracks.get(1).clipped], [false, false, false], 'clips reset by a click');
  // A clip the meters never saw (between two frames): the engine's
  // counter moved past the acknowledged count.
  s = at(10.25, 0.5, [track(5, 0, 0.2, 1), track(9, 0, 0, 7)], 1700, 12);
  same([s.master.clipped, s.tracks.get(1).clipped, s.tracks.get(2).clipped, s.position],
       [false, true, false, { bar: 3, beat: 3, tick: 240 }], 'a counted clip lights the held indicator');
  return 6;
}

/** The page's modules for the browser part, as one script (globalThis.AmpSync). */
async function browserBundle() {
  const esbuild = createRequire(path.join(repo, 'web', 'package.json'))('esbuild');
  const out = await esbuild.build({
    stdin: {
      contents: `${SYNC_MODULES}
export { EngineClient, loadEngineFiles } from './engine/client';`,
      resolveDir: path.join(repo, 'web', 'src'), loader: 'ts',
    },
    bundle: true, format: 'iife', globalName: 'AmpSync', platform: 'browser', target: 'es2022',
    tsconfig: path.join(repo, 'web', 'tsconfig.app.json'), write: false, logLevel: 'warning',
  });
  return out.outputFiles[0].text;
}

/** RingSink and Sync driving the real engine in the worklet: every command
 *  applied in order (the engine's hash of what it applied equals the
 *  hash of what was written), none rejected or refused, the engine's
 *  tracks those of the document, a live note sounding on its track, a
 *  mute, a removed track; and the worklet's clock (FineClock). */
async function inBrowser(t, doc) {
  const page = await t.newPage();
  await page.addScriptTag({ content: await browserBundle() });
  const result = await page.evaluate(async (doc) => {
    const A = globalThis.AmpSync;
    const files = await A.loadEngineFiles(new URL('./', location.href));
    const context = new AudioContext({ sampleRate: 48000 });
    const client = await A.EngineClient.start(context, files);
    client.node.connect(context.destination);
    await context.resume();
    // The region's asset: a 2 s sine as a 16-bit WAV, made here.
    const wav = () => {
      const rate = 48000, n = 2 * rate, b = new DataView(new ArrayBuffer(44 + 2 * n));
      const text = (o, t) => [...t].forEach((ch, i) => b.setUint8(o + i, ch.charCodeAt(0)));
      text(0, 'RIFF'); b.setUint32(4, 36 + 2 * n, true); text(8, 'WAVEfmt '); b.setUint32(16, 16, true);
      b.setUint16(20, 1, true); b.setUint16(22, 1, true); b.setUint32(24, rate, true); b.setUint32(28, 2 * rate, true);
      b.setUint16(32, 2, true); b.setUint16(34, 16, true); text(36, 'data'); b.setUint32(40, 2 * n, true);
      for (let i = 0; i < n; i++) b.setInt16(44 + 2 * i, Math.round(16000 * Math.sin(2 * Math.PI * 440 * i / rate)), true);
      return b.buffer;
    };
    const ring = new A.RingSink(client, { fetchAsset: async () => wav() });
    const sync = new A.Sync(ring, A.manifestRegistry(files.manifest.patches));
    const store = new A.DocStore(doc);
    sync.attach(store);
    const telemetry = new A.Telemetry(client, (id) => ring.engineTrack(id));
    telemetry.setDocument(store.doc);
    globalThis.sync = { A, client, ring, sync, store, telemetry };
    await Promise.all([...ring.loading]);
    return { sent: client.commands.sent };
  }, doc);
  check(result.sent > 10, `the load wrote ${result.sent} commands`);
  const settled = () => {
    const { client } = globalThis.sync;
    const s = client.snapshot();
    return s && s.pending === 0 && s.commandsApplied + s.commandsRejected + s.commandsRefused === client.commands.sent
      ? { applied: s.commandsApplied, rejected: s.commandsRejected, refused: s.commandsRefused,
          hash: s.commandHash, sent: client.commands.sent, written: client.commands.hash,
          tracks: s.tracks.map((x) => [x.id, x.kind, x.flags, x.voices]) }
      : null;
  };
  let s = await waitFor(page, settled, null, 'the engine to apply the load');
  check(s.rejected === 0 && s.refused === 0 && s.hash === s.written,
        `the load: ${s.applied} applied, ${s.rejected} rejected, ${s.refused} refused, hash ${s.hash} vs ${s.written}`);
  // Engine kinds are TrackKind + 1: instrument 1, bus 3.
  check(JSON.stringify(s.tracks.map((x) => [x[0], x[1]])) === '[[0,1],[1,1],[2,3],[3,2]]',
        `the engine's tracks after the load: ${JSON.stringify(s.tracks)}`);

  // Play: the clip on the first track sounds there (the scheduler).
  await page.evaluate(() => globalThis.sync.sync.play());
  const playing = await waitFor(page, () => {
    const s = globalThis.sync.client.snapshot();
    const t0 = s?.tracks.find((x) => x.id === 0);
    const t3 = s?.tracks.find((x) => x.id === 3);
    return s?.playing && t0 && t0.voices > 0 && t3.peak[0] > 0.1 ? s.tracks.map((x) => [x.voices, x.peak[0]]) : null;
  }, null, 'the clip on the first track and the region on the audio track to sound');
  check(playing[1][0] === 0 && playing[1][1] === 0, `voices and peaks while the first clip plays: ${JSON.stringify(playing)}`);
  await page.evaluate(() => { globalThis.sync.sync.stop(); globalThis.sync.sync.seekBeat(0); });
  await waitFor(page, () => {
    const s = globalThis.sync.client.snapshot();
    return s && !s.playing && s.tracks.every((x) => x.voices === 0);
  }, null, 'the stop to silence every track', 10000);

  // A live note on the second track sounds there, and only there.
  await page.evaluate(() => { globalThis.sync.note = globalThis.sync.sync.noteOn(2, 45, 0.9); });
  const voices = await waitFor(page, () => {
    const s = globalThis.sync.client.snapshot();
    const t1 = s?.tracks.find((x) => x.id === 1);
    return t1 && t1.voices > 0 && t1.peak[0] > 0 ? s.tracks.map((x) => x.voices) : null;
  }, null, 'the live note to sound on engine track 1');
  check(voices[0] === 0 && voices[2] === 0, `voices per track while one note sounds on track 1: ${voices}`);
  await page.evaluate(() => globalThis.sync.sync.noteOff(globalThis.sync.note));

  // Edits: a mute, a removed track, a send; all applied.
  await page.evaluate(() => {
    const { A, store } = globalThis.sync;
    store.transact('Mute', (d) => A.E.setMute(d, 1, true));
    store.transact('Remove', (d) => A.E.removeTrack(d, 2));
    store.transact('Send', (d) => A.E.setSend(d, 1, 3, -6));
    store.transact('Tempo', (d) => A.E.setTempo(d, 97));
  });
  // (Timed commands are applied in time order, not in ring order, so the
  // hashes of what was written and applied differ from here on.)
  s = await waitFor(page, settled, null, 'the engine to apply the edits');
  check(s.rejected === 0 && s.refused === 0 && s.applied === s.sent,
        `the edits: ${s.applied} applied, ${s.rejected} rejected, ${s.refused} refused`);
  const muted = s.tracks.find((x) => x[0] === 0);
  check(JSON.stringify(s.tracks.map((x) => x[0])) === '[0,2,3]' && (muted[2] & 1) === 1,
        `after mute and remove: ${JSON.stringify(s.tracks)}`);
  const tempo = await page.evaluate(() => globalThis.sync.client.snapshot().tempo);
  check(tempo === 97, `the engine's tempo is ${tempo}, the document's 97`);

  // The engine's limits come from the engine (amp_limits_json in the
  // worklet's ready message). An edit past them (2,100 clips on one
  // track: more clip ids and placements than it has) makes Sync call
  // onOutgrown; resizeEngine starts a new memory and worklet node sized
  // for the document and rebuilds into it.
  const before = await page.evaluate(() => globalThis.sync.client.limits);
  check(before && before.clips === 2000 && before.tracks === 64, `the engine's own limits: ${JSON.stringify(before)}`);
  const resized = await page.evaluate(async () => {
    const { A, store, sync, ring, telemetry } = globalThis.sync;
    const done = new Promise((resolve) => {
      sync.onOutgrown = (doc) => {
        A.resizeEngine({ client: globalThis.sync.client, sink: ring, sync, telemetry, doc }).then(resolve);
      };
    });
    const t0 = performance.now();
    globalThis.sync.t0 = t0;
    store.transact('Many clips', (d) => {
      let x = d;
      const notes = [{ key: 60, start_beat: 0, length_beats: 0.1 }];
      x = { ...x, tracks: x.tracks.map((t) => t.id !== 1 ? t : { ...t, clips: [...(t.clips ?? []),
        ...Array.from({ length: 2100 }, (_, i) => ({ start_beat: 16 + i * 0.25, length_beats: 0.25, notes,
                                                     ui: { id: `m${i}` } }))] }) };
      return x;
    });
    const { client, ms } = await done;
    globalThis.sync.client = client;
    return { ms, editMs: performance.now() - t0, limits: client.limits, outgrown: ring.outgrown,
             lines: client.limitLines(store.doc) };
  });
  s = await waitFor(page, settled, null, 'the new engine to apply the rebuild', 20000);
  const rebuilt = await page.evaluate(() => performance.now() - globalThis.sync.t0);
  check(resized.limits.clips >= 2100 && resized.limits.placementsPerTrack >= 2100 && !resized.outgrown,
        `the new engine's limits: ${JSON.stringify(resized.limits)}`);
  check(resized.lines[1] === `clips 2,101 / ${resized.limits.clips.toLocaleString('en-US')}`,
        `the status line's limits, from the engine: ${JSON.stringify(resized.lines)}`);
  check(s.rejected === 0 && s.refused === 0 && s.applied === s.sent && s.tracks.length === 3,
        `the rebuild: ${s.applied} applied of ${s.sent}, ${s.rejected} rejected, ${s.refused} refused, tracks ${s.tracks.length}`);
  t.log(`an edit past the engine's limits (2,100 clips): a new engine (${resized.limits.clips} clips, ` +
        `${resized.limits.placementsPerTrack} per track) running with the rebuild sent in ${resized.ms.toFixed(0)} ms ` +
        `(${resized.editMs.toFixed(0)} ms from the edit); its ${s.applied} commands applied ${rebuilt.toFixed(0)} ms ` +
        'after the edit (polled)');

  // The worklet's CPU load, timed by a worker (FineClock): it runs, and
  // its clock's step is logged (the resolution reached depends on the
  // machine, so it is not asserted).
  const clock = await page.evaluate(() => new Promise((resolve) => setTimeout(() => {
    const { client, telemetry } = globalThis.sync;
    const loads = [];
    let n = 0;
    const id = setInterval(() => {
      loads.push(client.snapshot().cpuLoad);
      if (++n === 20) {
        clearInterval(id);
        resolve({ step: client.clock?.stepMs ?? 0, timed: client.clock?.timed ?? 0, loads,
                  voices: telemetry.update(performance.now()).voices });
      }
    }, 100);
  }, 300)));
  check(clock.timed > 100 && clock.step > 0, `the worker timed ${clock.timed} quanta, its clock steps ${clock.step} ms`);
  const distinct = new Set(clock.loads.map((x) => x.toFixed(6))).size;
  t.log(`RingSink drove the engine: ${s.applied} commands applied, none refused; the CPU load timed by a worker ` +
        `(${clock.timed} quanta, clock step ${(clock.step * 1000).toFixed(1)} us): ` +
        `${clock.loads.slice(-5).map((x) => (x * 100).toFixed(3)).join(' ')} % (${distinct} distinct readings in 20)`);
  return 9;
}
