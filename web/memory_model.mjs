// memory_model.mjs — measure engine.wasm's memory and write it into
// engine.json, so that the page sizes the engine's memory without knowing
// a C struct (web/src/engine/limits.ts, memoryPagesFor).
//
//   node web/memory_model.mjs ENGINE.wasm GEN/engine.json MIN_PAGES MAX_PAGES > OUT/engine.json
//
// Adds to gen_patches.sh's engine.json:
//   "minimumPages", "maximumPages"   the memory the module imports (web.mk)
//   "memory": { ... }                the bytes amp_init_sized takes, as
//       fixedBytes + tracks * (perTrack + placementsPerTrack * perPlacement
//       + regionsPerTrack * perRegion + lanesPerTrack * perLane)
//       + clips * perClip + samples * perSample + nodes * perNode
//       + clipBytes + sampleBytes + laneBytes + stateBytes + ringBytes,
//     measured here: the module instantiated over a fresh memory, the heap's
//     end (amp_heap_end) read after amp_init_sized at a small base and with
//     each count raised by a multiple of 64 (so every 64-byte rounding of
//     the engine's layout grows exactly with it); plus the blocks of the
//     engine's heaps (clip, lane, sample: amp_*_block_bytes) as base +
//     per item, rounded up
//   each patch's "stateBytes"        its state's block in the state heap
// Output depends only on the module: no dates, no paths.

import { readFileSync } from 'node:fs';

const [wasmFile, manifestFile, minPages, maxPages] = process.argv.slice(2);
if (!maxPages) {
  console.error('usage: node web/memory_model.mjs ENGINE.wasm GEN/engine.json MIN_PAGES MAX_PAGES');
  process.exit(2);
}
const module = new WebAssembly.Module(readFileSync(wasmFile));
const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
const minimumPages = Number(minPages);
const maximumPages = Number(maxPages);

function instantiate() {
  const memory = new WebAssembly.Memory({ initial: minimumPages, maximum: maximumPages, shared: true });
  const imports = { env: { memory, emscripten_notify_memory_growth: () => {} } };
  const engine = new WebAssembly.Instance(module, imports).exports;
  engine._initialize?.();
  return { engine, memory };
}

function cString(memory, at) {
  const bytes = new Uint8Array(memory.buffer);
  let s = '';
  while (bytes[at]) s += String.fromCharCode(bytes[at++]);
  return s;
}

/** The heap's end (every byte below it is in use: data, stack, heap)
 *  after amp_init_sized(limits) in a fresh instance. */
function measure(limits) {
  const { engine, memory } = instantiate();
  const text = JSON.stringify(limits);
  const at = engine.amp_alloc(text.length);
  new Uint8Array(memory.buffer).set(Buffer.from(text, 'latin1'), at);
  if (engine.amp_init_sized(48000, at, text.length) !== 0)
    throw new Error(`amp_init_sized(${text}): ${cString(memory, engine.amp_error())}`);
  return engine.amp_heap_end();
}

const { engine } = instantiate();
const patches = manifest.patches.map((p) => ({ ...p, stateBytes: engine.amp_state_block_bytes(p.index) }));
const stockBytes = 2 * patches.reduce((sum, p) => sum + p.stateBytes, 0);

const base = {
  tracks: 1, clips: 64, placementsPerTrack: 64, samples: 64, regionsPerTrack: 64, lanesPerTrack: 64,
  nodes: 64, clipBytes: 0, sampleBytes: 0, laneBytes: 0, stateBytes: stockBytes + 65536, ringBytes: 1024,
};
const atBase = measure(base);
const slope = (name, delta) => Math.ceil((measure({ ...base, [name]: base[name] + delta }) - atBase) / delta);
const perPlacement = slope('placementsPerTrack', 4096);
const perRegion = slope('regionsPerTrack', 4096);
const perLane = slope('lanesPerTrack', 2048);
const perClip = slope('clips', 65536);
const perSample = slope('samples', 65536);
const perNode = slope('nodes', 4096);
// A track's own tables, with one placement, region and lane slot of each.
const perTrack = Math.ceil((measure({ ...base, tracks: 64 }) - atBase) / 63)
  - base.placementsPerTrack * perPlacement - base.regionsPerTrack * perRegion - base.lanesPerTrack * perLane;
// Each pool is its size in the engine's one block (checked: one byte each).
for (const pool of ['clipBytes', 'sampleBytes', 'laneBytes', 'stateBytes']) {
  const d = 1 << 24;
  const got = measure({ ...base, [pool]: base[pool] + d }) - atBase;
  if (got < d || got > d + 4096) throw new Error(`memory_model: ${pool} + ${d} took ${got} bytes`);
}
const variable = base.tracks * (perTrack + base.placementsPerTrack * perPlacement + base.regionsPerTrack * perRegion
  + base.lanesPerTrack * perLane) + base.clips * perClip + base.samples * perSample + base.nodes * perNode
  + base.stateBytes + base.ringBytes;
const fixedBytes = atBase - variable;

/** base + per item, an upper bound of f(n) for every n (f rounds up to 64 bytes). */
function block(f, n) {
  const b = f(0);
  return { base: b + 63, perItem: (f(n) - b) / n };
}
const clip = block((n) => engine.amp_clip_block_bytes(n), 1 << 16);
const lane = block((n) => engine.amp_lane_block_bytes(n), 1 << 16);
const sampleBase = engine.amp_sample_block_bytes(1, 0);
const sample = {
  base: sampleBase + 63,
  perChannel: engine.amp_sample_block_bytes(2, 0) - sampleBase + 63,
  perFrame: (engine.amp_sample_block_bytes(1, 1 << 20) - sampleBase) / (1 << 20),
};

const out = {
  memoryPages: manifest.memoryPages,
  minimumPages,
  maximumPages,
  memory: {
    pageBytes: 65536,
    fixedBytes, perTrack, perPlacement, perRegion, perLane, perClip, perSample, perNode,
    // Headroom for what the measure cannot see (malloc's bookkeeping,
    // roundings at other sizes): a megabyte and a kilobyte per track.
    slackBytes: 1 << 20, slackPerTrack: 1024,
    clipBlock: { base: clip.base, perNote: clip.perItem },
    laneBlock: { base: lane.base, perPoint: lane.perItem },
    sampleBlock: sample,
  },
  patches,
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
