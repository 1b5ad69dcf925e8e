// midi.mjs — a MIDI keyboard, through the page's own Web MIDI code
// (web/src/ui/midi.ts) and the engine's real-time AudioContext.
//
// Before the page loads, navigator.requestMIDIAccess is replaced by a stub:
// a MIDIAccess-like EventTarget (inputs map, onstatechange) with one input
// port (id, name, state 'connected', onmidimessage and addEventListener),
// whose messages the test fires with chosen timeStamps (performance.now()
// clock, as a browser stamps them). The page's code runs unchanged; a spy on
// the command ring's write() records what it sends.
//
// - Access is asked for when audio starts, not on load; the input is listened
//   to and counted in the status line. The notes play the selected
//   instrument track (added and given the epiano by clicking).
// - Note-on (0x90) sounds; note-off (0x80) ends the note; a note-on with
//   velocity 0 ends it too. The ring carries note-on (key, velocity / 127)
//   and the note-off of the same note id.
// - EngineClient.frameAt, with known getOutputTimestamp and latencies:
//   heard frame + render-ahead + 2 quanta; the spacing of events is kept to
//   the sample; past times stay in the past; never below 0; and on the live
//   context "now" maps just ahead of the engine's clock.
// - A note-on stamped performance.now() + 50 ms is written with the frame T
//   frameAt gives for that stamp, waits in the engine's queue, and is
//   applied (and starts its voice) in exactly the quantum holding T: every
//   snapshot of the state region with frames <= T shows it unapplied and
//   silent, every one with frames > T applied and sounding. A tap after the
//   engine's node (an AudioWorklet of the test's own) hears the output
//   start at engine frame T + L, L the patch's onset (0..2 samples).
// - Messages stamped in the past (written while the context is suspended)
//   get increasing frames before the engine's clock, nothing is applied
//   while suspended, the sound starts at the first frame after resume + L
//   (past commands take effect at the start of the next quantum), all are
//   applied, in the order played (the engine's hash of applied commands
//   equals the page's hash of those written).
// - Control change, program change, pressure, pitch bend, sysex, active
//   sensing, clock, reset and truncated notes write nothing and do not
//   disturb a held note; no page errors.
// - A second input plugged in later (statechange) is listened to as well.

import { Failure, check, instrumentTrack, pageReady, sharedLayout, startAudio, waitFor } from './lib.mjs';

const SOUND = 0.01;      // peak above this: sounding (as page.mjs)
const SILENT = 1e-4;     // below this: silent
const QUANTUM = 128;

/** Runs in the page before its scripts: the Web MIDI stub, as
 *  globalThis.ampMidiStub. */
function installMidiStub() {
  // An `on<type>` attribute over an EventTarget, as the DOM has them.
  const handlerAttribute = (target, type) => {
    let handler = null;
    Object.defineProperty(target, `on${type}`, {
      configurable: true,
      enumerable: true,
      get: () => handler,
      set: (fn) => {
        handler = typeof fn === 'function' ? fn : null;
        if (handler && type === 'midimessage') target.connection = 'open';  // implicit open()
      },
    });
    EventTarget.prototype.addEventListener.call(target, type, (e) => { if (handler) handler.call(target, e); });
  };

  class StubInput extends EventTarget {
    constructor(id, name) {
      super();
      this.id = id;
      this.name = name;
      this.manufacturer = 'Amplitude tests';
      this.version = '1.0';
      this.type = 'input';
      this.state = 'connected';
      this.connection = 'closed';
      this.listeners = 0;        // addEventListener('midimessage') calls
      handlerAttribute(this, 'midimessage');
      handlerAttribute(this, 'statechange');
    }
    addEventListener(type, fn, options) {
      if (type === 'midimessage' && fn) {
        this.listeners++;
        this.connection = 'open';
      }
      super.addEventListener(type, fn, options);
    }
    open() { this.connection = 'open'; return Promise.resolve(this); }
    close() { this.connection = 'closed'; return Promise.resolve(this); }
    /** Deliver one message as the browser would: a 'midimessage' event
     *  with `data` and the given timeStamp. */
    fire(bytes, timeStamp) {
      const data = Uint8Array.from(bytes);
      let e;
      try {
        e = new MIDIMessageEvent('midimessage', { data });
      } catch {
        e = new Event('midimessage');
        Object.defineProperty(e, 'data', { value: data });
      }
      Object.defineProperty(e, 'timeStamp', { value: timeStamp });
      stub.fired++;
      this.dispatchEvent(e);
    }
  }

  class StubAccess extends EventTarget {
    constructor() {
      super();
      this.inputs = new Map();     // maplike, as MIDIInputMap: forEach(value, key)
      this.outputs = new Map();
      this.sysexEnabled = false;
      handlerAttribute(this, 'statechange');
    }
  }

  const access = new StubAccess();
  const stub = {
    access,
    calls: [],
    fired: 0,
    input: (id) => access.inputs.get(id),
    /** Plug in a new input: it joins access.inputs, and 'statechange'
     *  fires on the access object and the port. */
    plug(id, name) {
      const port = new StubInput(id, name);
      access.inputs.set(id, port);
      for (const target of [access, port]) {
        const e = new Event('statechange');
        Object.defineProperty(e, 'port', { value: port });
        target.dispatchEvent(e);
      }
      return port;
    },
  };
  access.inputs.set('stub-1', new StubInput('stub-1', 'Stub Keyboard 1'));
  Object.defineProperty(navigator, 'requestMIDIAccess', {
    configurable: true,
    writable: true,
    value: function requestMIDIAccess(options) {
      stub.calls.push({ options: options ?? null, at: performance.now() });
      return Promise.resolve(access);
    },
  });
  Object.defineProperty(globalThis, 'ampMidiStub', { value: stub });
}

/** Runs in the page: record every command the page writes into the ring
 *  (decoded header and note fields), on the ring's own write(). */
function installRingSpy() {
  const client = globalThis.amp.debug().session.client;
  const ring = client.commands.ring;
  const write = ring.write.bind(ring);
  const log = [];
  ring.write = (payload) => {
    const ok = write(payload);
    const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const r = { ok, type: v.getUint32(0, true), time: Number(v.getBigInt64(8, true)) };
    if (r.type === 16 || r.type === 17) r.noteId = v.getUint32(20, true);
    if (r.type === 16) { r.key = v.getUint8(24); r.velocity = v.getFloat32(28, true); }
    log.push(r);
    return ok;
  };
  globalThis.ampRingLog = log;
}

/** Fire messages on input `port`, each stamped performance.now():
 *  [[bytes], ...]; resolves to the ring records they wrote. */
async function play(page, port, messages) {
  return page.evaluate(({ port, messages }) => {
    const log = globalThis.ampRingLog;
    const from = log.length;
    const input = globalThis.ampMidiStub.input(port);
    for (const bytes of messages) input.fire(bytes, performance.now());
    return log.slice(from);
  }, { port, messages });
}

async function sounds(page, what) {
  await waitFor(page, (min) => {
    const d = document.querySelector('#meter').dataset;
    return Number(d.peak) > min && Number(d.voices) > 0;
  }, SOUND, `${what} to sound (meter peak > ${SOUND})`, 3000);
}

/** Silence, shown by a meter reading taken after every command written so
 *  far was due (a reading from before a note started is silent too). */
async function ends(page, what) {
  try {
    await waitFor(page, (max) => {
      const d = document.querySelector('#meter').dataset;
      const due = (globalThis.ampRingLog ?? []).reduce((t, r) => Math.max(t, r.time), 0);
      return Number(d.frames) > due && Number(d.voices) === 0 && Number(d.peak) < max;
    }, SILENT, `${what} to end (no voices, peak < ${SILENT})`, 4000);
  } catch (e) {
    const state = await page.evaluate(() => ({
      meter: { ...document.querySelector('#meter').dataset },
      pending: globalThis.amp.debug().session.client.snapshot().pending,
      commands: (globalThis.ampRingLog ?? []).slice(-6),
    }));
    throw new Failure(`${e.message}: ${JSON.stringify(state)}`);
  }
}

/** Whether the piano roll's keyboard shows `key` as held (its canvas lists
 *  the held keys in data-held, redrawn on the next animation frame). */
const lit = async (page, key) => {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return page.evaluate((k) => {
    const held = document.querySelector('canvas.roll-canvas')?.dataset.held;
    return held === undefined ? null : held.split(' ').includes(String(k));
  }, key);
};

function checkNoteOn(r, key, velocity, what) {
  check(r && r.ok && r.type === 16 && r.key === key && Math.abs(r.velocity - velocity / 127) < 1e-6,
        `${what}: expected note-on key ${key} velocity ${velocity}/127 in the ring, got ${JSON.stringify(r)}`);
}

function checkNoteOff(r, noteId, what) {
  check(r && r.ok && r.type === 17 && r.noteId === noteId,
        `${what}: expected note-off of note ${noteId} in the ring, got ${JSON.stringify(r)}`);
}

/** Runs in the page: a tap after the engine's node, an AudioWorklet of
 *  the test's own (globalThis.ampTap): armed with an engine frame, it
 *  reports the first engine frame from there on at which the engine's
 *  output is not exactly 0. Fed by the engine's node, it runs right after
 *  it in every render quantum, so the state region's engine time (read
 *  from the shared memory) is then the end of that same quantum. It also
 *  reports the context's currentFrame there: the engine is meant to run on
 *  the context's clock (worklet.ts sets it once, before the first
 *  quantum). `now` is the byte offset of the engine time in the state
 *  region (an i64, low word first). */
async function installTap({ now }) {
  const client = globalThis.amp.debug().session.client;
  const context = client.context;
  const code = `registerProcessor('amp-midi-tap', class extends AudioWorkletProcessor {
    constructor(options) {
      super();
      const { memory, state, now } = options.processorOptions;
      this.now = new Uint32Array(memory.buffer, state + now, 2);
      this.from = Infinity;
      this.port.onmessage = (e) => {
        this.from = e.data;
        this.port.postMessage({ armed: e.data, at: this.frame });
      };
      this.frame = -1;
    }
    process(inputs) {
      const channels = inputs[0] || [];
      const n = channels.length ? channels[0].length : 0;
      // Engine time after this quantum (low word, high word), less the quantum.
      const start = this.now[1] * 4294967296 + this.now[0] - n;
      this.frame = start;
      for (let i = 0; i < n && start + n > this.from; i++) {
        if (start + i < this.from || !channels.some((c) => c[i] !== 0)) continue;
        this.port.postMessage({ onset: start + i, contextFrame: currentFrame + i });
        this.from = Infinity;
      }
      return true;
    }
  });`;
  const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
  await context.audioWorklet.addModule(url);
  URL.revokeObjectURL(url);
  const node = new AudioWorkletNode(context, 'amp-midi-tap', {
    numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
    processorOptions: { memory: client.memory, state: client.layout.state, now },
  });
  client.node.connect(node);
  node.connect(context.destination);   // pulled with the graph; it outputs silence
  const queue = [];
  let wake = null;
  node.port.onmessage = (e) => { queue.push(e.data); wake?.(); };
  const take = async (ms) => {
    const end = performance.now() + ms;
    while (!queue.length && performance.now() < end)
      await new Promise((r) => { wake = r; setTimeout(r, end - performance.now()); });
    wake = null;
    return queue.shift() ?? null;
  };
  globalThis.ampTap = {
    /** Watch from engine frame `from`; resolves once the tap has it. */
    arm: (from) => { queue.length = 0; node.port.postMessage(from); return take(2000); },
    /** The next report ({ onset }), or null after `ms`. */
    take,
  };
}

/** Runs in the page: EngineClient.frameAt on the live client, with the
 *  context's getOutputTimestamp and latencies replaced by known values. */
function frameAtCases() {
  const client = globalThis.amp.debug().session.client;
  const context = client.context;
  const set = (stamp, base, out) => {
    Object.defineProperty(context, 'getOutputTimestamp', { configurable: true, value: () => ({ ...stamp }) });
    Object.defineProperty(context, 'baseLatency', { configurable: true, value: base });
    Object.defineProperty(context, 'outputLatency', { configurable: true, value: out });
  };
  const r = { rate: client.sampleRate };
  try {
    // Heard at performance time 10000 ms: context time 2 s; 30 ms ahead.
    set({ contextTime: 2, performanceTime: 10000 }, 0.01, 0.02);
    r.atStamp = client.frameAt(10000);
    r.spacing = [0.01, 0.5, 1, 2.5, 7.3, 12.5, 50, 1000].map((d) => ({ d, frames: client.frameAt(10000 + d) - r.atStamp }));
    r.run = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => client.frameAt(10003.7 + i * 12.5));
    r.past = client.frameAt(9500);
    r.future = client.frameAt(10050);
    // No latencies reported.
    set({ contextTime: 2, performanceTime: 10000 }, 0, 0);
    r.noLatency = client.frameAt(10000);
    // A stamp long before the context started: clamped at 0.
    set({ contextTime: 0.1, performanceTime: 10000 }, 0.01, 0.02);
    r.beforeStart = client.frameAt(9000);
  } finally {
    delete context.getOutputTimestamp;
    delete context.baseLatency;
    delete context.outputLatency;
  }
  // The live context again: "now" lands just ahead of the engine's clock.
  const s = client.snapshot();
  r.live = { frames: s.frames, now: client.frameAt(performance.now()) };
  return r;
}

/** Runs in the page: a note-on stamped `aheadMs` in the future, the frame
 *  frameAt gives for that stamp (with getOutputTimestamp held for the
 *  instant the message is handled, so both see the same clock), then every
 *  state-region snapshot until well past that frame. */
async function futureNote({ key, velocity, aheadMs }) {
  const client = globalThis.amp.debug().session.client;
  const context = client.context;
  const log = globalThis.ampRingLog;
  const from = log.length;
  const armed = await globalThis.ampTap.arm(client.snapshot().frames);
  const before = client.snapshot();
  const stamp = context.getOutputTimestamp();
  Object.defineProperty(context, 'getOutputTimestamp', { configurable: true, value: () => stamp });
  let expected;
  try {
    const t = performance.now() + aheadMs;
    expected = client.frameAt(t);
    globalThis.ampMidiStub.input('stub-1').fire([0x90, key, velocity], t);
  } finally {
    delete context.getOutputTimestamp;
  }
  const written = log.slice(from);
  // Watch every quantum (a busy loop: the worklet runs on its own thread).
  const seen = [];
  const deadline = performance.now() + aheadMs + 1000;
  let last = -1;
  while (performance.now() < deadline) {
    const s = client.snapshot();
    if (s.quanta !== last) {
      last = s.quanta;
      seen.push({ quanta: s.quanta, frames: s.frames, applied: s.commandsApplied, voices: s.voices,
                  pending: s.pending, peak: Math.max(s.peak[0], s.peak[1]) });
      if (s.frames > expected + 8 * 128) break;
    }
  }
  const onset = await globalThis.ampTap.take(1000);
  return { before: { frames: before.frames, applied: before.commandsApplied, voices: before.voices },
           expected, written, seen, armed, onset,
           hash: client.commands.hash, engineHash: client.snapshot().commandHash };
}

export async function run(t) {
  const page = await t.newPage({ open: false });
  await page.addInitScript(installMidiStub);
  await page.goto(t.url);
  await pageReady(page);
  const onLoad = await page.evaluate(() => ({ calls: globalThis.ampMidiStub.calls.length,
                                             text: document.querySelector('#midi').textContent }));
  check(onLoad.calls === 0, `the page asked for MIDI access ${onLoad.calls} times before audio started`);

  await instrumentTrack(page, 'epiano');
  await startAudio(page);
  await waitFor(page, () => document.querySelector('#midi').textContent === 'MIDI: 1 input', null,
                'the status line to say "MIDI: 1 input"');
  const access = await page.evaluate(() => {
    const stub = globalThis.ampMidiStub, port = stub.input('stub-1');
    return { calls: stub.calls.length, connection: port.connection,
             handler: typeof port.onmidimessage === 'function' || port.listeners > 0 };
  });
  check(access.calls === 1, `requestMIDIAccess called ${access.calls} times after Start`);
  check(access.handler && access.connection === 'open',
        `the page does not listen to the input (connection ${access.connection})`);
  await page.evaluate(installRingSpy);
  const layout = sharedLayout();
  await page.evaluate(installTap, { now: layout.AMP_STATE.engine + layout.ENGINE_STATE.now });
  t.log(`MIDI access asked for on Start (not on load: "${onLoad.text}"), 1 input listened to`);

  // 1. Note-on sounds, note-off (0x80) ends it.
  let w = await play(page, 'stub-1', [[0x90, 60, 100]]);
  check(w.length === 1, `note-on wrote ${w.length} commands`);
  checkNoteOn(w[0], 60, 100, 'note-on 0x90 60 100');
  const id60 = w[0].noteId;
  await sounds(page, 'MIDI note-on 60');
  check(await lit(page, 60) === true, 'the on-screen key 60 does not show as held');
  w = await play(page, 'stub-1', [[0x80, 60, 64]]);
  check(w.length === 1, `note-off wrote ${w.length} commands`);
  checkNoteOff(w[0], id60, 'note-off 0x80 60');
  await ends(page, 'MIDI note 60 after 0x80');
  check(await lit(page, 60) === false, 'the on-screen key 60 still shows as held');
  t.log('0x90 60 100 sounds (note-on key 60, velocity 100/127); 0x80 60 ends it (note-off of that note)');

  // 3. Note-on with velocity 0 is a note-off (channel 2 here: the channel is ignored).
  w = await play(page, 'stub-1', [[0x91, 62, 90]]);
  checkNoteOn(w[0], 62, 90, 'note-on 0x91 62 90');
  const id62 = w[0].noteId;
  await sounds(page, 'MIDI note-on 62');
  w = await play(page, 'stub-1', [[0x91, 62, 0]]);
  check(w.length === 1, `note-on with velocity 0 wrote ${w.length} commands`);
  checkNoteOff(w[0], id62, 'note-on 0x91 62 0');
  await ends(page, 'MIDI note 62 after a velocity-0 note-on');
  t.log('0x91 62 0 (note-on, velocity 0) ends the note like a note-off');

  // 2a. The mapping itself, with known clock values.
  const f = await page.evaluate(frameAtCases);
  const R = f.rate;
  const expectAt = Math.round((2 + 0.01 + 0.02) * R) + 2 * QUANTUM;
  check(f.atStamp === expectAt,
        `frameAt(performanceTime) = ${f.atStamp}, expected round((contextTime 2 + base 0.01 + output 0.02) * ${R}) + 2 * 128 = ${expectAt}`);
  check(f.noLatency === Math.round(2 * R) + 2 * QUANTUM,
        `frameAt with no latencies = ${f.noLatency}, expected ${Math.round(2 * R) + 2 * QUANTUM}`);
  for (const { d, frames } of f.spacing)
    check(Math.abs(frames - (d * R) / 1000) <= 1,
          `events ${d} ms apart map ${frames} frames apart (expected ${((d * R) / 1000).toFixed(2)} ± 1)`);
  const gaps = f.run.slice(1).map((x, i) => x - f.run[i]);
  check(Math.max(...gaps) - Math.min(...gaps) <= 1 && gaps.every((g) => Math.abs(g - 0.0125 * R) <= 1),
        `notes 12.5 ms apart map to gaps of ${gaps.join(', ')} frames`);
  check(Math.abs(f.past - (expectAt - 0.5 * R)) <= 1,
        `500 ms before the stamp maps to ${f.past}, expected ${expectAt} - ${0.5 * R}`);
  check(Math.abs(f.future - (expectAt + 0.05 * R)) <= 1, `50 ms after the stamp maps to ${f.future}`);
  check(f.beforeStart === 0, `a time before the context started maps to ${f.beforeStart}, expected 0`);
  const liveAhead = f.live.now - f.live.frames;
  check(liveAhead > 0 && liveAhead < 0.25 * R,
        `on the live context frameAt(now) = ${f.live.now} is ${liveAhead} frames from the engine's clock ${f.live.frames} ` +
        '(expected just ahead of it; far ahead: has the engine\'s clock fallen behind the context\'s?)');
  t.log(`frameAt: contextTime 2 s + 30 ms latency -> frame ${f.atStamp} (= round(2.03 * ${R}) + 256); ` +
        `spacing kept to ±1 sample; clamps at 0; live "now" is ${liveAhead} frames ` +
        `(${((liveAhead / R) * 1000).toFixed(1)} ms) ahead of the engine`);

  // 2b. A note-on stamped 50 ms ahead: written with frameAt's frame, applied in the quantum holding it.
  const fut = await page.evaluate(futureNote, { key: 67, velocity: 110, aheadMs: 50 });
  const T = fut.expected;
  check(fut.written.length === 1, `the future note-on wrote ${fut.written.length} commands`);
  checkNoteOn(fut.written[0], 67, 110, 'note-on 67 stamped now + 50 ms');
  check(fut.written[0].time === T, `the note-on went into the ring at frame ${fut.written[0].time}, frameAt says ${T}`);
  const lead = T - fut.before.frames;
  check(lead > 0.05 * R && lead < 0.05 * R + 0.25 * R,
        `the note-on stamped 50 ms ahead is ${lead} frames ahead of the engine's clock (expected 50 ms plus the output latency)`);
  const beforeT = fut.seen.filter((s) => s.frames <= T), afterT = fut.seen.filter((s) => s.frames > T);
  check(beforeT.length > 0 && afterT.length > 0,
        `snapshots before frame ${T}: ${beforeT.length}, after: ${afterT.length} (expected both)`);
  for (const s of beforeT)
    check(s.applied === fut.before.applied && s.voices === 0,
          `at engine frame ${s.frames} (<= ${T}) the note was already applied or sounding: ${JSON.stringify(s)}`);
  for (const s of afterT)
    check(s.applied === fut.before.applied + 1 && s.voices === 1,
          `at engine frame ${s.frames} (> ${T}) the note was not applied or not sounding: ${JSON.stringify(s)}`);
  const waited = beforeT.filter((s) => s.pending === 1).length;
  check(waited > 0, 'the future note never showed as pending in the engine\'s queue');
  const lastBefore = beforeT[beforeT.length - 1], firstAfter = afterT[0];
  check(fut.engineHash === fut.hash, 'the engine applied other commands than the page wrote, or in another order');
  check(fut.armed && fut.armed.at <= T, `the tap was armed at frame ${fut.armed?.at}, after the note's frame ${T}`);
  check(fut.onset, 'the tap heard no output from the future note');
  const latency = fut.onset.onset - T;
  check(latency >= 0 && latency <= 2,
        `the note-on mapped to frame ${T} sounds from frame ${fut.onset.onset} (${latency} samples after)`);
  w = await play(page, 'stub-1', [[0x80, 67, 0]]);
  checkNoteOff(w[0], fut.written[0].noteId, 'note-off 67');
  await ends(page, 'the future note 67');
  t.log(`note-on stamped now + 50 ms -> ring time ${T} (= frameAt, ${lead} frames ahead); pending in ` +
        `${waited} snapshots; applied and a voice from the quantum holding ${T} on (snapshots up to frame ` +
        `${lastBefore.frames}: not yet, from ${firstAfter.frames}: yes); output from frame ${fut.onset.onset} (T + ${latency})`);
  // Not asserted: Chrome can skip render quanta (a late audio callback) and
  // the engine's clock, set from currentFrame once, then trails the
  // context's, which frameAt assumes it equals.
  const skew = fut.onset.contextFrame - fut.onset.onset;
  if (skew !== 0)
    t.log(`note: the engine's clock trails the context's currentFrame by ${skew} frames ` +
          `(${((skew / R) * 1000).toFixed(1)} ms later than frameAt intends)`);

  // 2c. Messages stamped in the past: applied at once when the engine next runs, in order.
  const past = await page.evaluate(async () => {
    const client = globalThis.amp.debug().session.client;
    const context = client.context;
    const log = globalThis.ampRingLog;
    const input = globalThis.ampMidiStub.input('stub-1');
    const armed = await globalThis.ampTap.arm(client.snapshot().frames);
    await context.suspend();
    // The engine's clock where it stopped: a fresh reading (snapshot()
    // keeps an older one when the region was being written), the same
    // twice 20 ms apart (a quantum the render thread finishes after
    // suspend() resolved counts too).
    let s0 = null;
    for (let i = 0; i < 100 && !s0; i++) {
      const a = client.state.read();
      await new Promise((r) => setTimeout(r, 20));
      const b = client.state.read();
      if (a && b && a.frames === b.frames && a.quanta === b.quanta) s0 = b;
    }
    s0 ??= client.snapshot();
    const from = log.length;
    const t0 = performance.now() - 400;
    const messages = [[0x90, 60, 100], [0x90, 64, 100], [0x80, 60, 0], [0x90, 67, 100],
                      [0x90, 64, 0], [0x90, 72, 100], [0x80, 67, 0], [0x90, 60, 80]];
    messages.forEach((m, i) => input.fire(m, t0 + i * 5));
    const written = log.slice(from);
    const held = client.snapshot();
    await context.resume();
    const onset = await globalThis.ampTap.take(2000);
    // A fresh reading (snapshot() keeps the last one while the engine is
    // busy writing the region, as in the burst of quanta after resume).
    let s = client.snapshot();
    for (const end = performance.now() + 2000; s.quanta < s0.quanta + 2 && performance.now() < end;) {
      await new Promise((r) => setTimeout(r, 5));
      s = client.snapshot();
    }
    const end = { quanta: s.quanta, applied: s.commandsApplied, pending: s.pending };
    const hashes = { hash: client.commands.hash, engineHash: s.commandHash };
    // Let them go.
    input.fire([0x80, 72, 0], performance.now());
    input.fire([0x80, 60, 0], performance.now());
    return {
      s0: { quanta: s0.quanta, frames: s0.frames, applied: s0.commandsApplied },
      held: { quanta: held.quanta, applied: held.commandsApplied },
      armed, onset, end, written, ...hashes,
    };
  });
  const kinds = past.written.map((r) => (r.type === 16 ? `on${r.key}` : r.type === 17 ? `off#${r.noteId}` : r.type)).join(' ');
  check(past.written.length === 8 && past.written.every((r) => r.ok),
        `8 past messages wrote ${past.written.length} commands: ${kinds}`);
  const [on60, on64, off60, on67, off64, on72, off67, on60b] = past.written;
  checkNoteOn(on60, 60, 100, 'past 1'); checkNoteOn(on64, 64, 100, 'past 2');
  checkNoteOff(off60, on60.noteId, 'past 3'); checkNoteOn(on67, 67, 100, 'past 4');
  checkNoteOff(off64, on64.noteId, 'past 5'); checkNoteOn(on72, 72, 100, 'past 6');
  checkNoteOff(off67, on67.noteId, 'past 7'); checkNoteOn(on60b, 60, 80, 'past 8');
  for (let i = 1; i < past.written.length; i++)
    check(past.written[i].time > past.written[i - 1].time,
          `past messages 5 ms apart got times ${past.written.map((r) => r.time).join(', ')} (expected increasing)`);
  check(past.written.every((r) => r.time < past.s0.frames),
        `past messages got times ${past.written.map((r) => r.time).join(', ')}, not before the engine's clock ${past.s0.frames}`);
  check(past.held.quanta === past.s0.quanta && past.held.applied === past.s0.applied,
        'the engine ran while its context was suspended');
  check(past.armed && past.armed.at <= past.s0.frames, `the tap was armed at frame ${past.armed?.at}`);
  check(past.onset && past.onset.onset === past.s0.frames + latency,
        `after resume at frame ${past.s0.frames} the past notes sound from frame ${past.onset?.onset} ` +
        `(expected the quantum's first frame + ${latency}, as a note-on at its frame)`);
  check(past.end.applied === past.s0.applied + 8 && past.end.pending === 0,
        `after resume ${past.end.applied - past.s0.applied} of 8 applied (pending ${past.end.pending})`);
  check(past.engineHash === past.hash, 'past messages: the engine applied them in another order than played');
  await ends(page, 'the past notes, released');
  t.log(`8 messages stamped 400..365 ms ago (context suspended): times ${past.written[0].time}..` +
        `${past.written[7].time} < engine clock ${past.s0.frames}; sound from frame ${past.onset.onset} ` +
        `(the first frame after resume + ${latency}); all 8 applied, in order (hashes equal)`);

  // 3b. Timestamps that go backwards (two inputs, or the output timestamp
  // wobbling between calls) never reorder messages: each is stamped no
  // earlier than the one before, so the engine applies them as they came.
  const back = await page.evaluate(async () => {
    const client = globalThis.amp.debug().session.client;
    const log = globalThis.ampRingLog;
    const from = log.length;
    const now = performance.now();
    globalThis.ampMidiStub.input('stub-1').fire([0x90, 62, 90], now + 30);
    globalThis.ampMidiStub.input('stub-1').fire([0x80, 62, 0], now + 10);
    globalThis.ampMidiStub.input('stub-1').fire([0x90, 65, 90], now);
    globalThis.ampMidiStub.input('stub-1').fire([0x80, 65, 0], now - 20);
    const written = log.slice(from);
    const due = written.reduce((t, r) => Math.max(t, r.time), 0);
    let s = client.snapshot();
    for (const end = performance.now() + 2000; (s.frames <= due || s.commandsApplied < client.commands.sent) &&
         performance.now() < end;) {
      await new Promise((r) => setTimeout(r, 5));
      s = client.snapshot();
    }
    return { written, hash: client.commands.hash, engineHash: s.commandHash };
  });
  check(back.written.length === 4 && back.written.every((r) => r.ok), `4 messages wrote ${back.written.length} commands`);
  const times = back.written.map((r) => r.time);
  check(times.every((t, i) => i === 0 || t === times[0]),
        `messages stamped 30, 10, 0, -20 ms from now got frames ${times.join(', ')} (expected all equal to the first)`);
  check(back.engineHash === back.hash, 'messages with backward timestamps: the engine applied them in another order');
  await ends(page, 'notes 62 and 65');
  t.log(`messages stamped 30, 10, 0, -20 ms from now: all at frame ${times[0]}, applied in arrival order (hashes equal)`);

  // 4. Non-note messages change nothing, even with a note held.
  w = await play(page, 'stub-1', [[0x90, 64, 100]]);
  checkNoteOn(w[0], 64, 100, 'note-on 64');
  const id64 = w[0].noteId;
  await sounds(page, 'MIDI note-on 64');
  const others = [
    [0xb0, 7, 100], [0xb0, 64, 127], [0xb0, 123, 0], [0xc0, 5], [0xd0, 40], [0xa0, 64, 50],
    [0xe0, 0, 64], [0xf0, 0x7e, 0x7f, 0x06, 0x01, 0xf7], [0xf0, 0x43, 0x10, 0x4c, 0x00, 0x00, 0x7e, 0x00, 0xf7],
    [0xfe], [0xf8], [0xfa], [0xfc], [0xff], [0xf2, 0, 0], [0xf1, 0x20], [0xf6],
    [0x90, 64], [0x80, 64], [0x90], [],
  ];
  const quiet = await page.evaluate(async (others) => {
    const client = globalThis.amp.debug().session.client;
    const sent = client.commands.sent;
    const log = globalThis.ampRingLog;
    const from = log.length;
    const input = globalThis.ampMidiStub.input('stub-1');
    for (const m of others) input.fire(m, performance.now());
    await new Promise((r) => setTimeout(r, 150));
    const s = client.snapshot();
    return { sent: client.commands.sent - sent, written: log.slice(from), voices: s.voices, pending: s.pending,
             recent: log.slice(-12), frames: s.frames,
             applied: s.commandsApplied, rejected: s.commandsRejected, refused: s.commandsRefused };
  }, others);
  check(quiet.sent === 0 && quiet.written.length === 0,
        `non-note messages wrote ${quiet.written.length} commands: ${JSON.stringify(quiet.written)}`);
  check(quiet.voices === 1, `the held note 64 has ${quiet.voices} voices after the non-note messages ` +
        `(engine at ${quiet.frames}, ${quiet.pending} pending; last commands ${JSON.stringify(quiet.recent)})`);
  check(await lit(page, 64) === true, 'the held key 64 no longer shows as held');
  w = await play(page, 'stub-1', [[0x80, 64, 0]]);
  checkNoteOff(w[0], id64, 'note-off 64');
  await ends(page, 'note 64');
  check(quiet.rejected === 0 && quiet.refused === 0,
        `the engine rejected ${quiet.rejected} and refused ${quiet.refused} commands`);
  t.log(`${others.length} non-note messages (CC, program change, pressure, pitch bend, sysex, active sensing, ` +
        'clock, reset, truncated notes): nothing written, the held note unaffected');

  // A second keyboard plugged in later.
  await page.evaluate(() => { globalThis.ampMidiStub.plug('stub-2', 'Stub Keyboard 2'); });
  const second = await page.evaluate(() => {
    const p = globalThis.ampMidiStub.input('stub-2');
    return typeof p.onmidimessage === 'function' || p.listeners > 0;
  });
  check(second, 'a keyboard plugged in after start is not listened to');
  w = await play(page, 'stub-2', [[0x9f, 69, 127]]);
  checkNoteOn(w[0], 69, 127, 'note-on 0x9f 69 127 on the second input');
  const id69 = w[0].noteId;
  await sounds(page, 'a note from the second input');
  w = await play(page, 'stub-2', [[0x8f, 69, 0]]);
  checkNoteOff(w[0], id69, 'note-off 0x8f 69 on the second input');
  await ends(page, 'the note from the second input');
  w = await play(page, 'stub-1', [[0x90, 48, 64]]);
  checkNoteOn(w[0], 48, 64, 'note-on 48 on the first input, after the second was plugged in');
  await sounds(page, 'note 48 from the first input');
  const id48 = w[0].noteId;
  w = await play(page, 'stub-1', [[0x80, 48, 64]]);
  checkNoteOff(w[0], id48, 'note-off 48 on the first input');
  await ends(page, 'note 48');
  t.log('a second input plugged in later (statechange) plays too; the first still does');

  const final = await page.evaluate(async () => {
    const client = globalThis.amp.debug().session.client;
    let s = client.snapshot();
    for (const end = performance.now() + 2000; s.commandsApplied < client.commands.sent && performance.now() < end;) {
      await new Promise((r) => setTimeout(r, 10));
      s = client.snapshot();
    }
    return { sent: client.commands.sent, applied: s.commandsApplied, hash: client.commands.hash,
             engineHash: s.commandHash, rejected: s.commandsRejected, ringErrors: s.ringErrors,
             fired: globalThis.ampMidiStub.fired };
  });
  check(final.applied === final.sent && final.engineHash === final.hash && final.rejected === 0 && final.ringErrors === 0,
        `at the end: ${final.applied} of ${final.sent} commands applied, rejected ${final.rejected}, ` +
        `ring errors ${final.ringErrors}, hashes ${final.engineHash === final.hash ? 'equal' : 'differ'}`);
  t.log(`${final.fired} MIDI messages in all; the engine applied all ${final.sent} commands the page wrote, in order`);
  check(page.errors.length === 0, `page errors: ${page.errors.join('; ')}`);
}
