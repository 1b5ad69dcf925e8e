// faults.mjs — the page's reading of the engine's guards, under node
// (engine/telemetry.ts and ui/faults.tsx bundled by esbuild, fed
// hand-made state-region snapshots at given times, so nothing depends on
// the clock): a track's `faults` count moving opens a report naming the
// slot its `faulted` bits show, the sentences name the track and the
// patch (instrument, insert, an audio track's regions), a report closes
// QUIET_MS after the count stops or when dismissed, a new engine counts
// from 0, and the master's `masterLimited` count opens the limit report.

import { bundleModules } from './doc.mjs';
import { check } from './lib.mjs';

const MODULES = `
export { Telemetry, QUIET_MS } from './engine/telemetry';
export { faultLines } from './ui/faults';
export * as E from './doc/edits';
export { emptyProject } from './doc/project';
`;

function same(actual, expected, what) {
  check(JSON.stringify(actual) === JSON.stringify(expected),
        `${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

export async function run(t) {
  const { Telemetry, QUIET_MS, faultLines, E, emptyProject } = await bundleModules(MODULES, t.tmp, 'faults');
  let doc = E.addTrack(emptyProject(), { kind: 'instrument', name: 'Bad', patch: { builtin: 'epiano.amp', unit: 'epiano' } });
  doc = E.addInsert(doc, doc.tracks[0].id, { builtin: 'stereo_delay.amp' });
  doc = E.addTrack(doc, { kind: 'audio', name: 'Loop' });
  doc = E.addTrack(doc, { kind: 'instrument', name: 'Mine', patch: { library: 'abc123', revision: 4 } });
  const [bad, loop, mine] = doc.tracks.map((x) => x.id);
  const engineOf = { [bad]: 3, [loop]: 4, [mine]: 5 };
  const track = (id, faults, faulted) => ({ id, kind: 1, flags: 0, faulted, voices: 0, peak: [0, 0], rms: [0, 0], faults,
                                            notesRefused: 0, clips: 0 });
  let state = null;
  const tel = new Telemetry({ snapshot: () => state }, (id) => engineOf[id] ?? -1);
  tel.setDocument(doc);
  const frame = (ms, tracks, masterLimited = 0) => {
    state = { playing: false, beat: 0, tempo: 120, frames: 0, playhead: 0, sampleRate: 48000, peak: [0, 0], rms: [0, 0],
              tracks, cpuLoad: 0, commandsRefused: 0, faults: 0, bar: 0, barBeat: 0, sigNum: 4, sigDen: 4, masterClips: 0,
              masterLimited };
    return tel.update(ms);
  };
  const names = (id) => (id === 'abc123' ? 'My Synth (my_synth)' : undefined);
  const lines = (s) => faultLines(doc, s, names);
  const quiet = (n) => [track(3, n[0], 0), track(4, n[1], 0), track(5, n[2], 0)];

  let s = frame(0, quiet([0, 0, 0]));
  same([s.faultReports.length, s.masterLimit.active, s.faultVersion, lines(s)], [0, false, 0, []], 'no faults');
  // Insert 1 of "Bad" faults three times between two frames.
  s = frame(16, [track(3, 3, 1 << 1), track(4, 0, 0), track(5, 0, 0)]);
  same(lines(s), ['Track "Bad": insert 1 "stereo_delay" gave NaN/Inf or an out-of-range level and was silenced (3 blocks muted).'],
       'an insert fault');
  const v1 = s.faultVersion;
  // Two more, its bit already cleared: the same report counts them.
  s = frame(32, [track(3, 5, 0), track(4, 0, 0), track(5, 0, 0)]);
  same([s.faultReports.length, s.faultReports[0].slot, s.faultReports[0].calls, s.faultVersion], [1, 1, 5, v1],
       'a fault whose bit cleared joins the open report');
  // Quiet for QUIET_MS: still open; one millisecond more: closed.
  s = frame(32 + QUIET_MS, quiet([5, 0, 0]));
  check(s.faultReports.length === 1, 'the report closed before QUIET_MS of quiet');
  s = frame(33 + QUIET_MS, quiet([5, 0, 0]));
  same([s.faultReports.length, s.faultVersion > v1], [0, true], 'the report closes after QUIET_MS of quiet');

  // The instrument, an audio track's regions, a library patch.
  s = frame(5000, [track(3, 6, 1), track(4, 2, 1), track(5, 1, 1)]);
  same(lines(s), [
    'Track "Bad": instrument "epiano" gave NaN/Inf or an out-of-range level and was silenced (1 block muted).',
    'Track "Loop": its audio gave NaN/Inf or an out-of-range level and was silenced (2 blocks muted).',
    'Track "Mine": instrument "My Synth (my_synth)" gave NaN/Inf or an out-of-range level and was silenced (1 block muted).',
  ], 'instrument, audio and library faults');
  // Dismissed: gone at once; the count moving again opens a new report.
  tel.dismissFaults();
  same(s.faultReports.length, 0, 'dismissed');
  s = frame(5016, quiet([6, 2, 1]));
  same(s.faultReports.length, 0, 'a dismissed fault stays closed while the count holds');
  // A slot never seen on a track without inserts is its instrument.
  s = frame(5032, quiet([6, 2, 4]));
  same(lines(s), ['Track "Mine": instrument "My Synth (my_synth)" gave NaN/Inf or an out-of-range level and was silenced (3 blocks muted).'],
       'a fault whose bit was never seen, on a track without inserts');
  tel.dismissFaults();
  // A new engine (counts below the last read) counts from 0.
  s = frame(5048, [track(3, 2, 1 << 1), track(4, 0, 0), track(5, 0, 0)]);
  same([s.faultReports.length, s.faultReports[0].trackId, s.faultReports[0].calls], [1, bad, 2], 'a new engine counts from 0');
  tel.dismissFaults();

  // The master's safety limit.
  s = frame(6000, quiet([2, 0, 0]), 100);
  same([s.masterLimit.active, s.masterLimit.samples, lines(s)],
       [true, 100, ['Master safety limit: 100 samples clipped at +12 dBFS. Turn the loudest track or bus down.']], 'the limit opens');
  s = frame(6016, quiet([2, 0, 0]), 350);
  same(s.masterLimit.samples, 350, 'the limit counts on');
  s = frame(6017 + QUIET_MS, quiet([2, 0, 0]), 350);
  same([s.masterLimit.active, lines(s)], [false, []], 'the limit closes after QUIET_MS');
  s = frame(9000 + QUIET_MS, quiet([2, 0, 0]), 351);
  same([s.masterLimit.active, s.masterLimit.samples], [true, 1], 'it opens again with the next clipped sample');
  tel.dismissFaults();
  same(s.masterLimit.active, false, 'dismissed');
  t.log('faults: insert, instrument, audio and library patches named; quiet close, dismiss, a new engine, the master limit');
}
