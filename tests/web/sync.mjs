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
export { FIXED_BUILD_LIMITS, engineSizing, limitProblems } from './engine/client';
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

  // ---- RingSink: today's commands ------------------------------------------------------------
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
    let clock = 1000;
    const ring = new RingSink({ commands, sampleRate: 48000, frameAt: (ms) => ms * 48 },
                              { intervalMs: 0, lookaheadSeconds: 0.5, now: () => clock });
    let d = song(E, emptyProject);
    d = E.addTempoChange(d, 8, 124);
    d = E.setSend(d, 1, 3, -6);
    d = E.setLoop(d, { enabled: true, start_beat: 4, end_beat: 12 });
    d = E.setFader(d, 2, { gain_db: -3, pan: 0.5 });
    const rs = new DocStore(d);
    const rsync = new Sync(ring, registry);
    rsync.attach(rs);
    // Loop end: 8 beats at 120 bpm (192000) + 4 at 124 (92903.2...): the
    // first sample at or after beat 12 is 284904.
    same(sent.splice(0), [
      'removeTrack(0,0)', 'stop(0)', 'seek(0,0)', 'tempo(0,120)', 'tempoChange(0,192000,124)', 'timeSignature(0,4,4)',
      'loop(0,96000,284904,true)', 'setMasterGain(0,0)', 'addTrack(0,0,0)', 'addTrack(0,1,0)', 'addTrack(0,2,2)',
      `selectPatch(0,${index('epiano')},0)`, `selectPatch(0,${index('ladder_bass')},1)`,
      'setGain(0,1,-3)', 'setPan(0,1,0.5)', 'setMute(0,1,false)', 'setSolo(0,1,false)',
      `setSend(0,0,2,${10 ** (-6 / 20)})`,
    ], 'RingSink: the load');
    rs.transact('Bus', (x) => E.addTrack(x, { kind: 'bus', name: 'B2' }));
    rs.transact('Send', (x) => E.setSend(x, 3, 4, 0));
    rs.transact('Param', (x) => E.setParam(x, 2, 'cutoff', 800));
    same(sent.splice(0), ['addTrack(0,3,2)', 'setSend(0,2,3,1)', `setParam(0,${param('ladder_bass', 'cutoff')},800,1,0)`],
         'RingSink: a bus above the buses before it, a send, a param');
    const id = rsync.noteOn(2, 40, 0.9, 1000);
    rsync.noteOff(id);
    rsync.seekBeat(12);
    // The note-off "now" keeps its place after the note-on timed later,
    // and so does the seek.
    same(sent.splice(0), [`noteOn(48000,${id},40,0.9,1)`, `noteOff(48000,${id},1)`, 'seek(48000,284904)'],
         'RingSink: a live note at its time, a seek after it');

    // Clip notes while playing (the scheduler), 24000 frames a beat: play
    // at frame 48000 from beat 0; 0.5 s (one beat) is sent ahead.
    rsync.seekBeat(0);
    rs.transact('No loop', (x) => E.setLoop(x, { enabled: false }));
    sent.length = 0;
    const C = 0x20000000;
    rsync.play();
    same(sent.splice(0), ['play(48000)', `noteOn(48000,${C},60,0.8,0)`], 'play: the first beat of clip notes');
    ring.pump();
    ring.pump();
    same(sent.splice(0), [], 'pumps at the same time send nothing more (the lookahead does not creep)');
    clock = 1250;
    ring.pump();
    same(sent.splice(0), [`noteOn(72000,${C + 1},64,0.5,0)`, `noteOff(72000,${C},0)`], 'the second beat');
    clock = 1300;
    rsync.stop();
    same(sent.splice(0), [`noteOff(72000,${C + 1},0)`, 'stop(62400)'],
         'stop: the note sent ahead is released (at its own start, which is later)');
    check(ring.beatNow() === 0.6, `stopped at beat ${ring.beatNow()}`);
    // A loop of beats 0-2 from beat 0, 3 s ahead: the loop's two notes
    // three times, each pass 48000 frames later.
    const looping = new RingSink({ commands, sampleRate: 48000, frameAt: (ms) => ms * 48 },
                                 { intervalMs: 0, lookaheadSeconds: 3, now: () => 1000 });
    const lsync = new Sync(looping, registry);
    lsync.reset(E.setLoop(song(E, emptyProject), { enabled: true, start_beat: 0, end_beat: 2 }));
    sent.length = 0;
    lsync.play();
    const ons = sent.filter((c) => c.startsWith('noteOn')).map((c) => c.split(',').slice(0, 3).join(',').replace(/,\d+$/, ''));
    same(ons.map((c) => c.replace(/noteOn\((\d+),\d+/, '$1')), ['48000', '72000', '96000', '120000', '144000', '168000'],
         'a loop: its notes again every pass');
    same(sent.filter((c) => c.startsWith('noteOn')).map((c) => c.split(',')[2]), ['60', '64', '60', '64', '60', '64'],
         'a loop: the keys of each pass');
    lsync.stop();
    checks += 7;

    // Across a tempo change the notes land where the engine's transport
    // reaches them (timing.ts Transport: amp render's samples).
    const across = new RingSink({ commands, sampleRate: 48000, frameAt: (ms) => ms * 48 },
                                { intervalMs: 0, lookaheadSeconds: 1, now: () => 1000 });
    const xsync = new Sync(across, registry);
    let xd = E.addTempoChange(song(E, emptyProject), 8, 124);
    xd = E.addClip(xd, 1, { start_beat: 8, length_beats: 8, notes: [{ key: 70, start_beat: 4, length_beats: 0.5 }] });
    xsync.reset(xd);
    xsync.seekBeat(11.5);
    sent.length = 0;
    xsync.play();
    const tr = new timing.Transport(timing.tempoMap(xd), 48000, 11.5);
    same(sent.splice(0).slice(0, 3), ['play(48000)', `noteOn(${48000 + tr.sampleFor(12)},${C},70,0.8,0)`,
                                      `noteOff(${48000 + tr.sampleFor(12.5)},${C},0)`],
         'a note after a tempo change, on the transport\'s sample');
    xsync.stop();
    checks++;

    // The metronome's clicks (no ring command yet): tones on the context
    // at the beats' frames, an accent on the bar's first beat; those sent
    // ahead are silenced by a stop.
    const tones = [];
    const fakeContext = {
      currentTime: 0, destination: {},
      createOscillator: () => { const o = { frequency: {}, connect: (x) => x, start: (t) => tones.push([t, o.frequency.value]), stop() {} }; return o; },
      createGain: () => { const g = { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (x) => x,
                                     disconnect: () => tones.push(['silenced']) }; return g; },
    };
    const ticking = new RingSink({ commands, sampleRate: 48000, frameAt: (ms) => ms * 48, context: fakeContext },
                                 { intervalMs: 0, lookaheadSeconds: 2.5, now: () => 1000 });
    const tsync = new Sync(ticking, registry);
    tsync.reset(E.setMetronome(E.setTimeSignature(emptyProject(), 3, 4), { enabled: true }));
    tsync.play();
    same(tones, [[1, 1760], [1.5, 1320], [2, 1320], [2.5, 1760], [3, 1320]], 'metronome clicks in 3/4 at 120 bpm');
    tones.length = 0;
    tsync.stop();
    same(tones, ['silenced', 'silenced', 'silenced', 'silenced', 'silenced'].map((x) => [x]), 'a stop silences the clicks sent ahead');
    sent.length = 0;
    checks += 2;

    // A bus put above the bus it sends to: the engine runs buses by number,
    // so the sink asks for a rebuild, which numbers them in list order.
    const renumber = new RingSink({ commands, sampleRate: 48000, frameAt: (ms) => ms * 48 }, { intervalMs: 0, now: () => 1000 });
    const bs = new DocStore(E.addTrack(E.addTrack(emptyProject(), { kind: 'instrument', patch: 'epiano.amp' }),
                                       { kind: 'bus', name: 'A' }));
    new Sync(renumber, registry).attach(bs);
    bs.transact('Bus C first', (x) => E.addTrack(x, { kind: 'bus', name: 'C', index: 0 }));
    sent.length = 0;
    bs.transact('C to A', (x) => E.setSend(x, 3, 2, -6));
    const level = 10 ** (-6 / 20);
    same(sent.splice(0), [`setSend(0,2,1,${level})`, 'removeTrack(0,2)', 'removeTrack(0,1)', 'removeTrack(0,0)', 'stop(0)',
                          'seek(0,0)', 'tempo(0,120)', 'timeSignature(0,4,4)', 'loop(0,0,0,false)', 'setMasterGain(0,0)',
                          'addTrack(0,0,2)', 'addTrack(0,1,0)', 'addTrack(0,2,2)', `selectPatch(0,${index('epiano')},1)`,
                          `setSend(0,0,2,${level})`], 'a bus above the bus it sends to: rebuilt in list order');
    checks++;

    // Automation while playing: each lane's value on a grid of 1024
    // frames, 0.06 s ahead, sent when it changes (the pan's step once).
    const auto = new RingSink({ commands, sampleRate: 48000, frameAt: (ms) => ms * 48 },
                              { intervalMs: 0, lookaheadSeconds: 0.01, now: () => 1000 });
    let ad = E.addTrack(emptyProject(), { kind: 'instrument', patch: 'epiano.amp' });
    ad = { ...ad, tracks: [{ ...ad.tracks[0], automation: [
      { target: { slot: 0, param: 'brightness' }, points: [{ beat: 0, value: 1 }, { beat: 1, value: 2 }] },
      { target: { fader: 'pan' }, points: [{ beat: 0.5, value: -1 }, { beat: 0.5, value: 1 }] }] }] };
    new Sync(auto, registry).reset(ad);
    sent.length = 0;
    auto.play();
    const bright = param('epiano', 'brightness');
    const at = (f) => 1 + (2 - 1) * ((0 + (f - 48000) * 120 / (60 * 48000)) - 0) / (1 - 0);
    same(sent.splice(0), ['play(48000)', `setParam(48000,${bright},${at(48000)},0,0)`, `setParam(49024,${bright},${at(49024)},0,0)`,
                          `setParam(50048,${bright},${at(50048)},0,0)`, 'setPan(48000,0,-1)'],
         'automation: a ramp on the control grid, a held value once');
    auto.stop();
    checks++;

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
    const full = new RingSink({ commands: tight, sampleRate: 48000, frameAt: (ms) => ms * 48 }, { intervalMs: 0, now: () => 0 });
    new Sync(full, registry).reset(song(E, emptyProject));
    const before = [...written];
    check(full.waiting > 5 && !full.flush(), `a full ring: ${full.waiting} commands wait`);
    room = 1000;
    check(full.flush() && full.waiting === 0, 'the flush sends them');
    same([before, written.slice(0, 6)], [['removeTrack', 'stop'], ['removeTrack', 'stop', 'seek', 'tempo', 'timeSignature', 'loop']],
         'in order');
    checks += 3;
    check(warnings.length === 0, `RingSink warnings: ${JSON.stringify(warnings)}`);

    // Audio regions: the asset's sample id at once, the sample loaded in
    // the background (fetched, decoded, put in the pool, load_sample).
    const fetched = [];
    const audio = new RingSink({ commands, sampleRate: 48000, frameAt: (ms) => ms * 48, loadSample: async (ch) => 7 + ch.length },
                               { intervalMs: 0, fetchAsset: async (hash) => { fetched.push(hash); return new ArrayBuffer(8); },
                                 decode: async () => ({ numberOfChannels: 2, length: 4800, getChannelData: () => new Float32Array(4800) }) });
    const async_ = new Sync(audio, registry);
    let a = E.addTrack(emptyProject(), { kind: 'audio' });
    a = E.addRegion(a, 1, { asset: 'ab'.repeat(32), start_beat: 2, offset_seconds: 0.25, length_seconds: 0.5, gain_db: -3 });
    a = E.addRegion(a, 1, { asset: 'ab'.repeat(32), start_beat: 4 });
    const as = new DocStore(a);
    async_.attach(as);
    as.transact('Move', (x) => E.moveRegion(x, 'c2', 8));
    as.transact('Delete', (x) => E.deleteRegions(x, ['c1']));
    await Promise.all([...audio.loading]);
    same(sent.splice(0).slice(-5), ['placeRegion(0,48000,0,0,0,12000,24000,-3)', 'placeRegion(0,96000,0,1,0,0,0,0)',
                                    'placeRegion(0,192000,0,1,0,0,0,0)', 'removeRegion(0,0)', 'loadSample(0,0,9,4800,48000,2)'],
         'regions: placed, moved, removed; their asset loaded once');
    same(fetched, ['ab'.repeat(32)], 'one fetch for two regions of one asset');
    checks += 2;
  } finally {
    console.warn = warn;
  }
  checks += telemetry(E, emptyProject, Telemetry);

  // The engine's size and limits, as the page shows them.
  const sizing = engineSizing(manifest, song(E, emptyProject));
  same([sizing.memoryPages, sizing.limits.tracks], [manifest.memoryPages, 64], 'engine sizing');
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
  const track = (id, voices, peak) => ({ id, kind: 1, flags: 0, faulted: 0, voices, peak: [peak, peak], rms: [peak / 2, peak / 2],
                                         faults: 0, notesRefused: 0 });
  let state = null;
  const tel = new Telemetry({ snapshot: () => state }, (id) => ({ 1: 5, 2: 9 })[id] ?? -1);
  tel.setDocument(doc);
  const at = (beat, master, tracks, ms) => {
    state = { playing: true, beat, tempo: 120, frames: 0, playhead: 0, sampleRate: 48000, peak: [master, master / 2],
              rms: [master / 4, master / 4], tracks, cpuLoad: 0.25, commandsRefused: 0, faults: 0 };
    return tel.update(ms);
  };
  // +4.8 dB on the master (1.738): the clip indicator lights and stays.
  let s = at(9.5, 1.738, [track(0, 3, 0.5), track(5, 2, 0.25), track(9, 0, 1.5)], 0);
  same([s.master.clipped, s.master.peakDb[0].toFixed(1), s.voices, s.position, s.seconds],
       [true, '4.8', 5, { bar: 3, beat: 2, tick: 480 }, 4 + 1.5], 'a master at +4.8 dB: held clip, voices of every track');
  same([s.tracks.get(1).peak[0], s.tracks.get(1).voices, s.tracks.get(2).clipped], [0.25, 2, true], 'tracks by document id');
  s = at(10, 0.5, [track(5, 0, 0)], 100);
  same([s.master.clipped, s.master.maxDb.toFixed(1), s.master.hold[0], s.tracks.get(2).clipped], [true, '4.8', 1.738, true],
       'the clip is held after the peak falls; the hold too');
  s = at(10, 0.5, [track(5, 0, 0)], 100 + 1501);
  check(s.master.hold[0] === 0.5, `the peak hold falls after 1.5 s: ${s.master.hold[0]}`);
  tel.resetClip();
  tel.resetClip(2);
  same([s.master.clipped, s.tracks.get(2).clipped, s.tracks.get(1).clipped], [false, false, false], 'clips reset by a click');
  return 5;
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
