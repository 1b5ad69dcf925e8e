// limits.ts — what the page's engine is sized for, and the memory that
// takes.
//
// The engine allocates everything once, when it starts (amp_init_sized in
// runtime/wasm/wasm_main.c): its tables (tracks, clip ids, placements per
// track, sample ids, regions and automation lanes per track, patch
// instances) and its pools (clip notes, samples, breakpoints, patch
// states, the command ring). A full pool refuses, it never grows. So the
// page picks the limits when it opens a project (limitsFor: the project's
// counts with headroom), makes a memory of memoryPagesFor(limits) pages,
// and shows the limits (describeLimits) rather than failing silently.
//
// No C struct size is typed here: every byte count comes from the memory
// model the build measures on engine.wasm and writes into engine.json
// (web/memory_model.mjs).

/** amp_init_sized's limits (the names of its JSON). */
export interface EngineLimits {
  /** Track ids 0..tracks-1 (the engine's most is 64). */
  tracks: number;
  /** Clip ids: one per clip loaded into the engine. */
  clips: number;
  /** Clip placements on one track's timeline. */
  placementsPerTrack: number;
  /** Sample ids: one per audio file loaded. */
  samples: number;
  /** Audio regions on one track. */
  regionsPerTrack: number;
  /** Automation lanes on one track. */
  lanesPerTrack: number;
  /** Patch instances alive at once: instruments, inserts, the ready stock
   *  of every patch, and the ones being replaced. */
  nodes: number;
  /** Bytes of the pools: clips' notes, samples (at the engine's rate),
   *  breakpoints, patch states, the command ring (a power of two). */
  clipBytes: number;
  sampleBytes: number;
  laneBytes: number;
  stateBytes: number;
  ringBytes: number;
}

/** engine.json's "memory" (web/memory_model.mjs). */
export interface EngineMemoryModel {
  pageBytes: number;
  fixedBytes: number;
  perTrack: number;
  perPlacement: number;
  perRegion: number;
  perLane: number;
  perClip: number;
  perSample: number;
  perNode: number;
  slackBytes: number;
  slackPerTrack: number;
  clipBlock: { base: number; perNote: number };
  laneBlock: { base: number; perPoint: number };
  sampleBlock: { base: number; perChannel: number; perFrame: number };
}

/** The parts of engine.json this module reads. */
export interface SizedManifest {
  minimumPages: number;
  maximumPages: number;
  memory: EngineMemoryModel;
  patches: { index: number; builtin?: string; unit: string; default?: boolean; stateBytes: number }[];
}

/** What a project holds, counted by projectStats (or by the document). */
export interface ProjectStats {
  tracks: number;
  /** Note clips, and the notes in all of them. */
  clips: number;
  notes: number;
  maxClipsPerTrack: number;
  regions: number;
  maxRegionsPerTrack: number;
  /** The audio files, at the engine's rate. */
  samples: { channels: number; frames: number }[];
  lanes: number;
  maxLanesPerTrack: number;
  points: number;
  /** The registry index of every instrument and insert. */
  nodes: number[];
}

/** The engine's most tracks (ENGINE_MAX_TRACKS; the state region has a
 *  slot for each). */
export const MAX_TRACKS = 64;
/** The smallest sizes limitsFor gives, whatever the project: a real song. */
export const SONG_MINIMUM = { clips: 2000, placementsPerTrack: 2048, samples: 256, regionsPerTrack: 512,
                              lanesPerTrack: 32, notes: 200_000, points: 100_000,
                              sampleSeconds: 120, ringBytes: 1 << 18 } as const;
/** Ready nodes the engine keeps of every patch (wasm_main.c NODE_STOCK). */
const STOCK = 2;

const ceilPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Limits that hold `stats` with `headroom` (1.5: half again of every
 *  count, for the edits to come), never below SONG_MINIMUM (samples of
 *  `sampleRate`: SONG_MINIMUM.sampleSeconds of stereo). */
export function limitsFor(stats: ProjectStats, manifest: SizedManifest, sampleRate = 48000,
                          headroom = 1.5): EngineLimits {
  const m = manifest.memory;
  const grow = (n: number, floor: number): number => Math.max(floor, Math.ceil(n * headroom));
  const stateOf = (index: number): number => manifest.patches[index]?.stateBytes ?? 0;
  // Every patch's stock, and each node of the project twice (a node being
  // replaced lives until the engine hands it back), with headroom.
  const stock = STOCK * manifest.patches.reduce((sum, p) => sum + p.stateBytes, 0);
  const used = stats.nodes.reduce((sum, index) => sum + 2 * stateOf(index), 0);
  const largest = Math.max(0, ...manifest.patches.map((p) => p.stateBytes));
  const clips = grow(stats.clips, SONG_MINIMUM.clips);
  const notes = grow(stats.notes, SONG_MINIMUM.notes);
  const samples = grow(stats.samples.length, SONG_MINIMUM.samples);
  const sampleFloor = sampleBytesOf([{ channels: 2, frames: SONG_MINIMUM.sampleSeconds * sampleRate }], m);
  const lanes = grow(stats.lanes, MAX_TRACKS * SONG_MINIMUM.lanesPerTrack);
  const points = grow(stats.points, SONG_MINIMUM.points);
  return {
    tracks: MAX_TRACKS,
    clips,
    placementsPerTrack: grow(stats.maxClipsPerTrack, SONG_MINIMUM.placementsPerTrack),
    samples,
    regionsPerTrack: grow(stats.maxRegionsPerTrack, SONG_MINIMUM.regionsPerTrack),
    lanesPerTrack: Math.min(4096, grow(stats.maxLanesPerTrack, SONG_MINIMUM.lanesPerTrack)),
    nodes: manifest.patches.length * STOCK + grow(2 * stats.nodes.length, 2 * MAX_TRACKS),
    clipBytes: Math.ceil(clips * m.clipBlock.base + notes * m.clipBlock.perNote),
    sampleBytes: Math.max(sampleFloor, Math.ceil(sampleBytesOf(stats.samples, m) * headroom)),
    laneBytes: Math.ceil(lanes * m.laneBlock.base + points * m.laneBlock.perPoint),
    stateBytes: Math.ceil(stock + used * headroom + 4 * largest + 65536),
    ringBytes: ceilPow2(Math.min(1 << 22, Math.max(SONG_MINIMUM.ringBytes, stats.notes * 32))),
  };
}

/** Bytes of the sample pool that holds these samples. */
export function sampleBytesOf(samples: ProjectStats['samples'], m: EngineMemoryModel): number {
  const b = m.sampleBlock;
  return samples.reduce((sum, s) => sum + b.base + s.channels * (b.perChannel + s.frames * b.perFrame), 0);
}

/** Bytes of memory amp_init_sized(limits) takes, everything included
 *  (the module's data and stack, the heap, the engine). */
export function memoryBytesFor(limits: EngineLimits, manifest: Pick<SizedManifest, 'memory'>): number {
  const m = manifest.memory;
  const perTrack = m.perTrack + m.slackPerTrack + limits.placementsPerTrack * m.perPlacement
    + limits.regionsPerTrack * m.perRegion + limits.lanesPerTrack * m.perLane;
  return m.fixedBytes + m.slackBytes + limits.tracks * perTrack + limits.clips * m.perClip
    + limits.samples * m.perSample + limits.nodes * m.perNode + limits.clipBytes + limits.sampleBytes
    + limits.laneBytes + limits.stateBytes + limits.ringBytes;
}

/** Pages (64 KiB) of the memory to create for the engine with `limits`;
 *  throws when that is more than the module takes. */
export function memoryPagesFor(limits: EngineLimits, manifest: Pick<SizedManifest, 'memory' | 'minimumPages'
                                                                    | 'maximumPages'>): number {
  const pages = Math.max(manifest.minimumPages,
                         Math.ceil(memoryBytesFor(limits, manifest) / manifest.memory.pageBytes));
  if (pages > manifest.maximumPages)
    throw new Error(`these limits need ${(pages * manifest.memory.pageBytes / 2 ** 20).toFixed(0)} MiB of memory; ` +
                    `the engine takes at most ${(manifest.maximumPages * manifest.memory.pageBytes / 2 ** 30).toFixed(0)} GiB`);
  return pages;
}

/** The JSON amp_init_sized reads. */
export function limitsJson(limits: EngineLimits): string {
  const fields: (keyof EngineLimits)[] = ['tracks', 'clips', 'placementsPerTrack', 'samples', 'regionsPerTrack',
    'lanesPerTrack', 'nodes', 'clipBytes', 'sampleBytes', 'laneBytes', 'stateBytes', 'ringBytes'];
  return `{${fields.map((f) => `"${f}": ${Math.round(limits[f])}`).join(', ')}}`;
}

/** The limits as the engine reports them (amp_limits_json). */
export function parseLimits(json: string): EngineLimits {
  return JSON.parse(json) as EngineLimits;
}

/** One line per limit for the page: "clips 120 / 2,000". `stats` gives
 *  the project's use; pools are shown in MiB. */
export function describeLimits(limits: EngineLimits, stats?: ProjectStats,
                               model?: EngineMemoryModel): string[] {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const mib = (x: number): string => `${(x / 2 ** 20).toFixed(1)} MiB`;
  const use = (x: number | undefined, max: number, show = n): string =>
    x === undefined ? show(max) : `${show(x)} / ${show(max)}`;
  return [
    `tracks ${use(stats?.tracks, limits.tracks)}`,
    `clips ${use(stats?.clips, limits.clips)}`,
    `clips on one track ${use(stats?.maxClipsPerTrack, limits.placementsPerTrack)}`,
    `audio files ${use(stats?.samples.length, limits.samples)}`,
    `audio ${use(stats && model ? sampleBytesOf(stats.samples, model) : undefined, limits.sampleBytes, mib)}`,
    `automation lanes on one track ${use(stats?.maxLanesPerTrack, limits.lanesPerTrack)}`,
    `notes ${model ? use(stats?.notes, Math.floor(limits.clipBytes / model.clipBlock.perNote)) : mib(limits.clipBytes)}`,
  ];
}

/** A project document (runtime/formats/PROJECT.md) counted: the parts
 *  limitsFor needs. Patches name registry entries by {"builtin", "unit"};
 *  others count as the largest patch. `sampleFrames(region)` gives a
 *  region's audio length at the engine's rate (the caller decoded it);
 *  each distinct file or asset (of a region or a sample slot) is one
 *  sample. */
export function projectStats(doc: unknown, manifest: SizedManifest,
                             sampleOf: (region: Record<string, unknown>) => { key: string; channels: number;
                                                                              frames: number } | null): ProjectStats {
  const stats: ProjectStats = { tracks: 0, clips: 0, notes: 0, maxClipsPerTrack: 0, regions: 0, maxRegionsPerTrack: 0,
                                samples: [], lanes: 0, maxLanesPerTrack: 0, points: 0, nodes: [] };
  const list = (x: unknown): Record<string, unknown>[] =>
    Array.isArray(x) ? x.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null) : [];
  const largest = manifest.patches.reduce((best, p) => (p.stateBytes > (manifest.patches[best]?.stateBytes ?? 0)
    ? p.index : best), 0);
  const patchIndex = (patch: unknown): number => {
    if (typeof patch === 'object' && patch !== null) {
      const p = patch as Record<string, unknown>;
      const hit = manifest.patches.find((e) => e.builtin === p['builtin']
        && (typeof p['unit'] === 'string' ? e.unit === p['unit'] : e.default));
      if (hit) return hit.index;
    }
    return largest;
  };
  const seen = new Set<string>();
  const tracks = list((doc as Record<string, unknown> | null)?.['tracks']);
  stats.tracks = tracks.length;
  for (const t of tracks) {
    const clips = list(t['clips']);
    stats.clips += clips.length;
    stats.maxClipsPerTrack = Math.max(stats.maxClipsPerTrack, clips.length);
    for (const c of clips) stats.notes += list(c['notes']).length;
    const regions = list(t['regions']);
    stats.regions += regions.length;
    stats.maxRegionsPerTrack = Math.max(stats.maxRegionsPerTrack, regions.length);
    // An instrument's sample slots ("samples": slot -> {"file"} or
    // {"asset"}) take samples of the same pool, shared with regions.
    const slots = typeof t['samples'] === 'object' && t['samples'] !== null && !Array.isArray(t['samples'])
      ? list(Object.values(t['samples'] as Record<string, unknown>)) : [];
    for (const r of [...regions, ...slots]) {
      const s = sampleOf(r);
      if (s && !seen.has(s.key)) {
        seen.add(s.key);
        stats.samples.push({ channels: s.channels, frames: s.frames });
      }
    }
    const lanes = list(t['automation']);
    stats.lanes += lanes.length;
    stats.maxLanesPerTrack = Math.max(stats.maxLanesPerTrack, lanes.length);
    for (const l of lanes) stats.points += list(l['points']).length;
    if (t['kind'] === 'instrument') stats.nodes.push(patchIndex(t['patch']));
    for (const i of list(t['inserts'])) stats.nodes.push(patchIndex(i['patch']));
  }
  return stats;
}
