// performance.ts — a recorded performance and the events it becomes.
//
// A performance is what the player did, in sample frames from its start:
// notes (key, start, end, velocity), param changes, and the param values it
// started from. The export worker renders it with the engine (render.ts);
// the native `amp render` renders the same performance as a project
// (runtime/formats/PROJECT.md) that performanceProject() writes and nativeScript()
// prints: one instrument track with the patch, its start values as
// "params", the notes as one clip, param changes as automation steps, and
// the fader at the engine's unity gain — the same engine, fed the same way
// the page feeds it. The events are ordered as the engine orders them:
// performanceEvents() sorts by frame, note-offs before note-ons at the
// same frame, then by note id (the note's index in the list), with a note
// at least one frame long.
//
// Exact times: the project's tempo is chosen so that every frame is an
// exact binary fraction of a beat, 2^k frames a beat (the smallest power of
// two that keeps the tempo at most 1000 bpm: 4096 at 44.1 or 48 kHz, so
// 645.99609375 or 703.125 bpm). A note at frame f is at beat f / 2^k, its
// length (end - start) / 2^k beats; the engine's beat of sample s, s * bpm
// / (60 * rate), is then exactly s / 2^k, so every note starts and ends on
// its frame (engine.h: "something placed at beat x happens at the first
// sample s whose beat(s) >= x").

export interface PerformedNote {
  key: number;
  /** Frames from the start of the performance. */
  start: number;
  end: number;
  /** 0..1, as a 32-bit float. */
  velocity: number;
}

export interface ParamChange {
  frame: number;
  param: number;
  value: number;
}

export interface Performance {
  patch: number;          // registry index
  patchName: string;
  source: string;         // the .amp file, for the native command
  sampleRate: number;
  /** Params set before the first frame (index -> value): the project's
   *  "params". */
  startParams: { param: number; name: string; value: number }[];
  /** Every param's name and default, by index. */
  paramNames: string[];
  paramDefaults: number[];
  notes: PerformedNote[];
  changes: ParamChange[];
  /** Frames to render. */
  frames: number;
}

export type PerformanceEvent =
  | { frame: number; kind: 'off'; noteId: number }
  | { frame: number; kind: 'on'; noteId: number; key: number; velocity: number }
  | { frame: number; kind: 'param'; param: number; value: number };

/** Frames a performance renders by default: the last note's end plus one
 *  second (for the releases). */
export function defaultFrames(notes: PerformedNote[], changes: ParamChange[], sampleRate: number): number {
  let end = 0;
  for (const n of notes) end = Math.max(end, n.end);
  for (const c of changes) end = Math.max(end, c.frame);
  return end + sampleRate;
}

/** The events of a performance, in the order the native render applies
 *  them. Param changes come after note events at the same frame. */
export function performanceEvents(p: Performance): PerformanceEvent[] {
  const events: PerformanceEvent[] = [];
  p.notes.forEach((n, id) => {
    const end = n.end <= n.start ? n.start + 1 : n.end;
    events.push({ frame: n.start, kind: 'on', noteId: id, key: n.key, velocity: Math.fround(n.velocity) });
    events.push({ frame: end, kind: 'off', noteId: id });
  });
  const rank = (e: PerformanceEvent): number => (e.kind === 'off' ? 0 : e.kind === 'on' ? 1 : 2);
  const id = (e: PerformanceEvent): number => (e.kind === 'param' ? 0 : e.noteId);
  events.sort((a, b) => a.frame - b.frame || rank(a) - rank(b) || id(a) - id(b));
  // Param changes keep their recorded order among themselves (sort is stable).
  const changes = [...p.changes].sort((a, b) => a.frame - b.frame);
  const merged: PerformanceEvent[] = [];
  let c = 0;
  for (const e of events) {
    while (c < changes.length && (changes[c]?.frame ?? Infinity) < e.frame) merged.push(paramEvent(changes[c++]));
    merged.push(e);
  }
  while (c < changes.length) merged.push(paramEvent(changes[c++]));
  return merged;
}

function paramEvent(c: ParamChange | undefined): PerformanceEvent {
  if (!c) throw new Error('no param change');
  return { frame: c.frame, kind: 'param', param: c.param, value: c.value };
}

/** Seconds as text that `amp` reads back to the same frame:
 *  llround(seconds * rate) == frame. */
function seconds(frame: number, sampleRate: number): string {
  return String(frame / sampleRate);
}

/** Frames per beat in a performance's project: a power of two (see the
 *  top of this file). */
export function framesPerBeat(sampleRate: number): number {
  let n = 1;
  while ((60 * sampleRate) / n > 1000) n *= 2;
  return n;
}

/** What a project needs to know that a performance does not say. */
export interface ProjectOptions {
  /** Track 0's gain in the engine: EngineLayout.unityGainDb. */
  unityGainDb: number;
  /** The patch file as the project names it (relative to the project
   *  file); default: the performance's source, relative to the repository. */
  patchPath?: string;
}

/** The performance as a project document (runtime/formats/PROJECT.md). */
export function performanceProject(p: Performance, options: ProjectOptions): object {
  const perBeat = framesPerBeat(p.sampleRate);
  const beat = (frame: number): number => frame / perBeat;
  const params: Record<string, number> = {};
  for (const s of p.startParams) params[s.name] = s.value;
  const notes = p.notes
    .map((n, id) => ({ n, id }))
    .sort((a, b) => a.n.start - b.n.start || a.id - b.id)
    .map(({ n }) => ({
      key: n.key,
      start_beat: beat(n.start),
      length_beats: beat((n.end <= n.start ? n.start + 1 : n.end) - n.start),
      velocity: Math.fround(n.velocity),
    }));
  const track: Record<string, unknown> = {
    id: 1,
    name: p.patchName,
    kind: 'instrument',
    patch: { file: options.patchPath ?? p.source, unit: p.patchName },
    params,
    fader: { gain_db: options.unityGainDb },
    clips: [{ start_beat: 0, length_beats: beat(p.frames), notes }],
  };
  const lanes = automation(p, beat);
  if (lanes.length > 0) track['automation'] = lanes;
  return {
    version: 1,
    sample_rate: p.sampleRate,
    tempo: (60 * p.sampleRate) / perBeat,
    length_beats: beat(p.frames),
    tail_seconds: 0,
    tracks: [track],
    ui: { recorded: `a performance on the page: ${p.notes.length} notes of ${p.patchName}` },
  };
}

/** Param changes as automation lanes of steps: from the start value, at
 *  each change's beat a step (two points at one beat) to its value. */
function automation(p: Performance, beat: (frame: number) => number): object[] {
  const byParam = new Map<number, ParamChange[]>();
  for (const c of [...p.changes].sort((a, b) => a.frame - b.frame)) {
    const list = byParam.get(c.param) ?? [];
    list.push(c);
    byParam.set(c.param, list);
  }
  const lanes: object[] = [];
  for (const [param, changes] of byParam) {
    const name = p.paramNames[param];
    if (name === undefined) continue;
    let value = p.startParams.find((s) => s.param === param)?.value ?? p.paramDefaults[param] ?? 0;
    const points = [{ beat: 0, value }];
    for (const c of changes) {
      points.push({ beat: beat(c.frame), value }, { beat: beat(c.frame), value: c.value });
      value = c.value;
    }
    lanes.push({ target: { slot: 0, param: name }, points });
  }
  return lanes;
}

/** A shell script that renders the performance natively: the project
 *  written to NAME-performance.json (at the repository's top, where the
 *  patch path starts), then `amp render` of it. */
export function nativeScript(p: Performance, unityGainDb: number): string {
  const file = `${p.patchName}-performance.json`;
  const json = JSON.stringify(performanceProject(p, { unityGainDb }), null, 2);
  return `cat > ${file} <<'EOF'\n${json}\nEOF\n` +
    `build/amp render ${file} --seconds ${seconds(p.frames, p.sampleRate)} --format f32 -o ${p.patchName}.wav\n`;
}
