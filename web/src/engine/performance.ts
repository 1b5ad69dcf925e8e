// performance.ts — a recorded performance and the events it becomes.
//
// A performance is what the player did, in sample frames from its start:
// notes (key, start, end, velocity), param changes, and the param values it
// started from. The export worker renders it with the engine; the native
// `amp render` renders the same notes from the command line that
// nativeCommand() prints, and the two give the same bits, because both
// order the events the same way: performanceEvents() sorts exactly as
// runtime/notes.c (notes_to_events) does — by frame, note-offs before
// note-ons at the same frame, then by note id (the note's index in the
// list) — and a note at least one frame long.

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
  /** Params set before the first frame (index -> value), as `--param`. */
  startParams: { param: number; name: string; value: number }[];
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
 *  second, as `amp render` does without --seconds. */
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

/** The `amp render` command line that renders the same notes natively
 *  (param changes during the performance have no command-line form). */
export function nativeCommand(p: Performance): string {
  const notes = p.notes.map((n) =>
    `${n.key}@${seconds(n.start, p.sampleRate)}:${seconds(n.end <= n.start ? n.start + 1 : n.end, p.sampleRate)}` +
    `/${Math.fround(n.velocity).toPrecision(9)}`).join(' ');
  const params = p.startParams.map((s) => ` --param ${s.name}=${String(s.value)}`).join('');
  return `build/amp render ${p.source} --notes '${notes}'${params}` +
    ` --seconds ${seconds(p.frames, p.sampleRate)} --rate ${p.sampleRate} --format f32 -o ${p.patchName}.wav`;
}
