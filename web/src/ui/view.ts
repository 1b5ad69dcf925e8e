// view.ts — what the views share that is not the document: the colours of
// the theme (canvas draws with these, style.css has the same ones), the
// geometry of the arrangement, and the view state (zoom, scroll, selection,
// snap) that the top bar, the timeline and the piano roll all read.
//
// The view state is not part of the project (undo does not touch it); it
// lives in a tiny store of its own so the canvases can subscribe without
// re-rendering React components.

export const THEME = {
  bg: '#15171c',
  panel: '#1c1f26',
  panel2: '#232731',
  lane: '#1a1d23',
  laneAlt: '#1d2027',
  line: '#2c313c',
  lineStrong: '#3a4150',
  text: '#d9dee7',
  textDim: '#8a93a3',
  accent: '#4cc2ff',
  playhead: '#ff5d5d',
  loop: 'rgba(76, 194, 255, 0.16)',
  loopEdge: '#4cc2ff',
  select: '#ffffff',
  record: '#ff4d4d',
  white: '#e9edf3',
  black: '#2a2f39',
} as const;

/** Track colours offered in the track list (and given to new tracks in turn). */
export const TRACK_COLORS = ['#4cc2ff', '#ff8a4c', '#7bd88f', '#c58cff', '#ffd24c', '#ff6b9a', '#4ce0c8', '#a0a8ff'];

export const RULER_HEIGHT = 34;
export const LANE_HEIGHT = 64;
export const HEADER_WIDTH = 256;
export const KEYBOARD_WIDTH = 56;
export const VELOCITY_HEIGHT = 52;

export type SnapName = 'bar' | 'beat' | '1/8' | '1/16' | 'off';
export const SNAPS: readonly SnapName[] = ['bar', 'beat', '1/8', '1/16', 'off'];

/** The snap grid in beats (quarter notes); 0 is off. */
export function snapBeats(snap: SnapName, beatsPerBar: number): number {
  switch (snap) {
    case 'bar': return beatsPerBar;
    case 'beat': return 1;
    case '1/8': return 0.5;
    case '1/16': return 0.25;
    case 'off': return 0;
  }
}

/** `beat` on the grid (nearest line); the grid 0 leaves it. */
export function snapTo(beat: number, grid: number): number {
  return grid > 0 ? Math.round(beat / grid) * grid : beat;
}

/** `beat` down to the grid line at or before it. */
export function snapDown(beat: number, grid: number): number {
  return grid > 0 ? Math.floor(beat / grid + 1e-9) * grid : beat;
}

export interface ViewState {
  /** Timeline: pixels per beat, first beat shown, first pixel row shown. */
  pxPerBeat: number;
  scrollBeat: number;
  scrollY: number;
  /** Piano roll: its own zoom and scroll. */
  rollPxPerBeat: number;
  rollScrollBeat: number;
  /** The key at the top of the piano roll, and pixels per key. */
  rollTopKey: number;
  rollKeyHeight: number;
  snap: SnapName;
  selectedTrack: number | null;
  /** clip.ui.id of the selected clips. */
  selectedClips: readonly string[];
  /** The clip open in the piano roll. */
  openClip: string | null;
  /** Indices of the selected notes of the open clip. */
  selectedNotes: readonly number[];
  dock: 'roll' | 'mixer' | 'instrument';
  follow: boolean;
}

export const INITIAL_VIEW: ViewState = {
  pxPerBeat: 28,
  scrollBeat: 0,
  scrollY: 0,
  rollPxPerBeat: 64,
  rollScrollBeat: 0,
  rollTopKey: 76,
  rollKeyHeight: 12,
  snap: '1/16',
  selectedTrack: null,
  selectedClips: [],
  openClip: null,
  selectedNotes: [],
  dock: 'roll',
  follow: true,
};

/** A minimal observable value: React reads it with useSyncExternalStore,
 *  canvases subscribe and redraw. */
export class ValueStore<T> {
  private value: T;
  private readonly listeners = new Set<() => void>();

  constructor(value: T) {
    this.value = value;
  }

  get = (): T => this.value;

  set(patch: Partial<T>): void {
    this.value = { ...this.value, ...patch };
    for (const fn of [...this.listeners]) fn();
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  };
}

// A canvas's CSS size, kept by a ResizeObserver: reading clientWidth on
// every animation frame forces a layout whenever React changed the page in
// that frame (the benchmark's scrolling showed it as the top JavaScript
// cost).
const sizes = new WeakMap<Element, { w: number; h: number }>();
let sizer: ResizeObserver | null = null;

export function cssSize(canvas: HTMLCanvasElement): { w: number; h: number } {
  let s = sizes.get(canvas);
  if (!s) {
    s = { w: canvas.clientWidth, h: canvas.clientHeight };
    sizes.set(canvas, s);
    sizer ??= new ResizeObserver((entries) => {
      for (const e of entries) {
        const box = e.contentBoxSize?.[0];
        sizes.set(e.target, box ? { w: Math.round(box.inlineSize), h: Math.round(box.blockSize) }
                                : { w: (e.target as HTMLElement).clientWidth, h: (e.target as HTMLElement).clientHeight });
      }
    });
    sizer.observe(canvas);
  }
  return s;
}

/** A canvas sized to its element in device pixels; returns the 2D context
 *  scaled so that drawing is in CSS pixels, and the CSS size. */
export function fitCanvas(canvas: HTMLCanvasElement): { g: CanvasRenderingContext2D; w: number; h: number } | null {
  const g = canvas.getContext('2d');
  if (!g) return null;
  const ratio = window.devicePixelRatio || 1;
  const { w, h } = cssSize(canvas);
  const pw = Math.max(1, Math.round(w * ratio)), ph = Math.max(1, Math.round(h * ratio));
  if (canvas.width !== pw || canvas.height !== ph) {
    canvas.width = pw;
    canvas.height = ph;
  }
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { g, w, h };
}

const NOTE_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
export function keyName(key: number): string {
  return `${NOTE_NAMES[key % 12] ?? '?'}${Math.floor(key / 12) - 1}`;
}
export function isBlackKey(key: number): boolean {
  return [1, 3, 6, 8, 10].includes(key % 12);
}

/** A new id for a clip or a note's ui. */
export function newId(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}
