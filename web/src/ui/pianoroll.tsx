// pianoroll.tsx — the notes of one clip on a <canvas>: a vertical keyboard
// on the left (the whole MIDI range, 0..127, scrolled with the wheel; it
// plays when clicked), the note grid, and the velocity lane below.
//
// Gestures: a click or drag on empty grid draws a note (it sounds while the
// button is held); a click selects a note (Shift adds), Ctrl/Shift + drag on
// empty grid selects with a rubber band; dragging a note moves the selection
// (time and key), dragging its right edge resizes it; in the velocity lane a
// drag paints velocities. Keys (app.tsx): Delete, Q, arrows.

import { useEffect, useRef } from 'react';
import type { Clip, NoteDoc, ProjectDoc, TrackDoc } from '../doc/project';
import type { Ctx } from './context';
import { barsOf, findClip } from './song';
import { withAlpha } from './timeline';
import {
  KEYBOARD_WIDTH, THEME, VELOCITY_HEIGHT, cssSize, fitCanvas, isBlackKey, keyName, snapBeats, snapDown, snapTo, type ViewState,
} from './view';

const RULER = 22;
const EDGE = 6;

/** The built-in drum kit's keys (nodes/drums.amp: General MIDI), named in
 *  the grid and on its notes; any other key is a tom. */
const DRUM_KEYS: Readonly<Record<number, string>> = { 36: 'Kick', 38: 'Snare', 42: 'Hat cl.', 46: 'Hat op.' };

function isDrumKit(track: TrackDoc | undefined): boolean {
  const p = track?.patch;
  const file = typeof p === 'string' ? p : p && 'builtin' in p ? p.builtin : p && 'file' in p ? p.file : '';
  return /(^|\/)drums\.amp$/.test(file);
}

function noteLabel(key: number, drums: boolean): string {
  return drums ? DRUM_KEYS[key] ?? keyName(key) : keyName(key);
}

interface Layout { w: number; h: number; gridTop: number; gridBottom: number; velTop: number }

type RollDrag =
  | { kind: 'keys'; key: number; pointer: number }
  | { kind: 'draw'; base: ProjectDoc; note: NoteDoc; clipId: string; trackId: number; x0: number; pointer: number }
  | { kind: 'move'; base: ProjectDoc; clipId: string; trackId: number; indices: number[]; beat0: number; key0: number;
      start0: number; lastKey: number; moved: boolean; pointer: number }
  | { kind: 'resize'; base: ProjectDoc; clipId: string; indices: number[]; beat0: number; end0: number; pointer: number }
  | { kind: 'band'; x0: number; y0: number; x1: number; y1: number; add: readonly number[]; pointer: number }
  | { kind: 'velocity'; clipId: string; pointer: number };

export function PianoRoll({ ctx }: { ctx: Ctx }): React.JSX.Element {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    let raf = 0, dirty = true, last = -1;
    const band = { current: null as RollDrag | null };
    const mark = (): void => { dirty = true; };
    const unsubs = [ctx.store.subscribe(mark), ctx.view.subscribe(mark)];
    const ro = new ResizeObserver(mark);
    ro.observe(canvas);
    const frame = (): void => {
      raf = requestAnimationFrame(frame);
      const beat = ctx.audio.positionBeat();
      if (beat !== last) { last = beat; dirty = true; }
      const held = [...ctx.heldKeys()].sort((a, b) => a - b).join(' ');
      if (held !== canvas.dataset['held']) { canvas.dataset['held'] = held; dirty = true; }
      if (!dirty) return;
      dirty = false;
      draw(canvas, ctx, beat, band.current);
    };
    raf = requestAnimationFrame(frame);
    const off = attach(canvas, ctx, band, mark);
    return () => { cancelAnimationFrame(raf); ro.disconnect(); off(); for (const u of unsubs) u(); };
  }, [ctx]);
  return <canvas ref={canvasRef} className="roll-canvas" data-testid="pianoroll" tabIndex={0} />;
}

function layoutOf(canvas: HTMLCanvasElement): Layout {
  const { w, h } = cssSize(canvas);
  const velTop = h - VELOCITY_HEIGHT;
  return { w, h, gridTop: RULER, gridBottom: velTop - 4, velTop };
}

function beatToX(v: ViewState, beat: number): number {
  return KEYBOARD_WIDTH + (beat - v.rollScrollBeat) * v.rollPxPerBeat;
}
function xToBeat(v: ViewState, x: number): number {
  return v.rollScrollBeat + (x - KEYBOARD_WIDTH) / v.rollPxPerBeat;
}
function keyToY(v: ViewState, key: number): number {
  return RULER + (v.rollTopKey - key) * v.rollKeyHeight;
}
function yToKey(v: ViewState, y: number): number {
  return Math.max(0, Math.min(127, v.rollTopKey - Math.floor((y - RULER) / v.rollKeyHeight)));
}

/** The open clip and its track, if it still exists. */
function openClip(ctx: Ctx): { clip: Clip; track: TrackDoc; id: string } | null {
  const id = ctx.view.get().openClip;
  if (!id) return null;
  const found = findClip(ctx.store.doc, id);
  return found ? { clip: found.clip, track: found.track, id } : null;
}

/** Clamp the top key so the grid never scrolls past key 127 or 0. */
export function clampTopKey(v: ViewState, gridHeight: number, top: number): number {
  const visible = Math.floor(gridHeight / v.rollKeyHeight);
  return Math.max(Math.min(127, visible - 1), Math.min(127, Math.round(top)));
}

function noteAt(ctx: Ctx, clip: Clip, x: number, y: number): { index: number; edge: boolean } | null {
  const v = ctx.view.get();
  const key = yToKey(v, y);
  for (let i = clip.notes.length - 1; i >= 0; i--) {
    const n = clip.notes[i];
    if (!n || n.key !== key) continue;
    const x0 = beatToX(v, clip.start_beat + n.start_beat);
    const x1 = beatToX(v, clip.start_beat + n.start_beat + n.length_beats);
    if (x >= x0 && x <= x1 + 1) return { index: i, edge: x1 - x <= Math.min(EDGE, (x1 - x0) / 3) };
  }
  return null;
}

function attach(canvas: HTMLCanvasElement, ctx: Ctx, band: { current: RollDrag | null }, redraw: () => void): () => void {
  let drag: RollDrag | null = null;
  let lastLength = 0;
  const local = (e: MouseEvent): { x: number; y: number } => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  const grid = (e: MouseEvent): number =>
    e.altKey ? 0 : snapBeats(ctx.view.get().snap, barsOf(ctx.store.doc).beatsPerBarAt(0));

  const down = (e: PointerEvent): void => {
    if (e.button !== 0) return;
    canvas.focus();
    ctx.audio.start();
    const { x, y } = local(e);
    const L = layoutOf(canvas);
    const v = ctx.view.get();
    const open = openClip(ctx);
    if (x < KEYBOARD_WIDTH && y >= L.gridTop && y < L.gridBottom) {
      const key = yToKey(v, y);
      const track = open?.track.id ?? v.selectedTrack;
      if (track !== null) ctx.audio.noteOn(track, key, 0.8);
      drag = { kind: 'keys', key, pointer: e.pointerId };
      ctx.view.set({ selectedTrack: track });
      canvas.setPointerCapture(e.pointerId);
      return;
    }
    if (!open || x < KEYBOARD_WIDTH) return;
    const { clip, track, id } = open;
    if (y >= L.velTop) {
      drag = { kind: 'velocity', clipId: id, pointer: e.pointerId };
      paintVelocity(ctx, clip, id, x, y, L);
      canvas.setPointerCapture(e.pointerId);
      return;
    }
    if (y < L.gridTop || y >= L.gridBottom) return;
    const hit = noteAt(ctx, clip, x, y);
    const beat = xToBeat(v, x);
    if (hit) {
      const sel = v.selectedNotes;
      const selected = e.shiftKey
        ? (sel.includes(hit.index) ? sel.filter((i) => i !== hit.index) : [...sel, hit.index])
        : (sel.includes(hit.index) ? sel : [hit.index]);
      ctx.view.set({ selectedNotes: selected });
      const n = clip.notes[hit.index] as NoteDoc;
      if (hit.edge) {
        drag = { kind: 'resize', base: ctx.store.doc, clipId: id, indices: selected.includes(hit.index) ? selected.slice() : [hit.index],
                 beat0: beat, end0: clip.start_beat + n.start_beat + n.length_beats, pointer: e.pointerId };
      } else {
        ctx.audio.noteOn(track.id, n.key, n.velocity ?? 0.8);
        drag = { kind: 'move', base: ctx.store.doc, clipId: id, trackId: track.id,
                 indices: selected.includes(hit.index) ? selected.slice() : [hit.index], beat0: beat, key0: n.key,
                 start0: clip.start_beat + n.start_beat, lastKey: n.key, moved: false, pointer: e.pointerId };
      }
      canvas.setPointerCapture(e.pointerId);
      return;
    }
    if (e.shiftKey || e.ctrlKey || e.metaKey) {
      drag = { kind: 'band', x0: x, y0: y, x1: x, y1: y, add: e.shiftKey ? v.selectedNotes : [], pointer: e.pointerId };
      band.current = drag;
      canvas.setPointerCapture(e.pointerId);
      return;
    }
    // Draw a note (inside the clip: the engine plays nothing past its end).
    if (beat < clip.start_beat || beat >= clip.start_beat + (clip.loop_beats ?? clip.length_beats)) {
      ctx.view.set({ selectedNotes: [] });
      return;
    }
    const g = grid(e);
    const key = yToKey(v, y);
    const start = Math.max(clip.start_beat, snapDown(beat, g));
    const length = lastLength > 0 ? lastLength : (g || 0.25);
    const note: NoteDoc = { key, start_beat: start - clip.start_beat, length_beats: length, velocity: 0.8 };
    const base = ctx.store.doc;
    const coalesce = `draw-${e.pointerId}-${e.timeStamp}`;
    ctx.act.drawNoteLength(base, id, note, coalesce);
    ctx.view.set({ selectedNotes: [clip.notes.length] });
    ctx.audio.noteOn(track.id, key, 0.8);
    drag = { kind: 'draw', base, note, clipId: id, trackId: track.id, x0: x, pointer: e.pointerId };
    canvas.setPointerCapture(e.pointerId);
    (drag as { coalesce?: string }).coalesce = coalesce;
  };

  const move = (e: PointerEvent): void => {
    const { x, y } = local(e);
    const v = ctx.view.get();
    const L = layoutOf(canvas);
    if (!drag) {
      const open = openClip(ctx);
      const hit = open && y >= L.gridTop && y < L.gridBottom && x > KEYBOARD_WIDTH ? noteAt(ctx, open.clip, x, y) : null;
      canvas.style.cursor = x < KEYBOARD_WIDTH ? 'pointer' : hit ? (hit.edge ? 'ew-resize' : 'grab') : y >= L.velTop ? 'ns-resize' : 'crosshair';
      return;
    }
    const g = grid(e);
    const open = openClip(ctx);
    switch (drag.kind) {
      case 'keys': {
        const key = yToKey(v, y);
        if (key === drag.key) return;
        const track = open?.track.id ?? v.selectedTrack;
        if (track !== null) {
          ctx.audio.noteOff(track, drag.key);
          ctx.audio.noteOn(track, key, 0.8);
        }
        drag.key = key;
        return;
      }
      case 'draw': {
        const found = findClip(drag.base, drag.clipId);
        if (!found) return;
        const start = found.clip.start_beat + drag.note.start_beat;
        const end = Math.max(start + (g || 1 / 64), snapTo(xToBeat(v, x), g));
        const length = end - start;
        if (x - drag.x0 < 4) return;
        lastLength = length;
        ctx.act.drawNoteLength(drag.base, drag.clipId, { ...drag.note, length_beats: length },
                               (drag as { coalesce?: string }).coalesce ?? 'draw');
        return;
      }
      case 'move': {
        const beat = xToBeat(v, x);
        const key = yToKey(v, y);
        const newStart = Math.max(0, snapTo(drag.start0 + (beat - drag.beat0), g));
        const dbeat = newStart - drag.start0;
        const dkey = key - drag.key0;
        if (!drag.moved && Math.abs(dbeat) < 1e-9 && dkey === 0) return;
        drag.moved = true;
        ctx.act.moveNotes(drag.base, drag.clipId, drag.indices, dbeat, dkey, `note-move-${drag.pointer}`);
        if (key !== drag.lastKey) {
          ctx.audio.noteOff(drag.trackId, drag.lastKey);
          ctx.audio.noteOn(drag.trackId, Math.max(0, Math.min(127, key)), 0.8);
          drag.lastKey = key;
        }
        return;
      }
      case 'resize': {
        const beat = xToBeat(v, x);
        const end = snapTo(drag.end0 + (beat - drag.beat0), g);
        ctx.act.resizeNotes(drag.base, drag.clipId, drag.indices, end - drag.end0, `note-resize-${drag.pointer}`);
        return;
      }
      case 'band': {
        drag.x1 = x;
        drag.y1 = y;
        if (open) ctx.view.set({ selectedNotes: bandSelection(ctx, open.clip, drag) });
        redraw();
        return;
      }
      case 'velocity': {
        const o = openClip(ctx);
        if (o) paintVelocity(ctx, o.clip, o.id, x, y, L);
        return;
      }
    }
  };

  const up = (e: PointerEvent): void => {
    const d = drag;
    if (!d) return;
    drag = null;
    band.current = null;
    if (canvas.hasPointerCapture(e.pointerId)) canvas.releasePointerCapture(e.pointerId);
    ctx.store.endCoalesce();
    const open = openClip(ctx);
    const v = ctx.view.get();
    if (d.kind === 'keys') {
      const track = open?.track.id ?? v.selectedTrack;
      if (track !== null) ctx.audio.noteOff(track, d.key);
    } else if (d.kind === 'draw') {
      ctx.audio.noteOff(d.trackId, d.note.key);
    } else if (d.kind === 'move') {
      ctx.audio.noteOff(d.trackId, d.lastKey);
      ctx.audio.noteOff(d.trackId, d.key0);
    }
    redraw();
  };

  const wheel = (e: WheelEvent): void => {
    e.preventDefault();
    const v = ctx.view.get();
    const L = layoutOf(canvas);
    if (e.ctrlKey || e.metaKey) {
      const { x } = local(e);
      const at = xToBeat(v, x);
      const px = Math.min(800, Math.max(8, v.rollPxPerBeat * Math.exp(-e.deltaY * 0.002)));
      ctx.view.set({ rollPxPerBeat: px, rollScrollBeat: Math.max(0, at - (x - KEYBOARD_WIDTH) / px) });
      return;
    }
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      const dx = e.shiftKey ? e.deltaY : e.deltaX;
      ctx.view.set({ rollScrollBeat: Math.max(0, v.rollScrollBeat + dx / v.rollPxPerBeat) });
      return;
    }
    const keys = Math.sign(e.deltaY) * Math.max(1, Math.round(Math.abs(e.deltaY) / 20));
    ctx.view.set({ rollTopKey: clampTopKey(v, L.gridBottom - L.gridTop, v.rollTopKey - keys) });
  };

  canvas.addEventListener('pointerdown', down);
  canvas.addEventListener('pointermove', move);
  canvas.addEventListener('pointerup', up);
  canvas.addEventListener('pointercancel', up);
  canvas.addEventListener('wheel', wheel, { passive: false });
  return () => {
    canvas.removeEventListener('pointerdown', down);
    canvas.removeEventListener('pointermove', move);
    canvas.removeEventListener('pointerup', up);
    canvas.removeEventListener('pointercancel', up);
    canvas.removeEventListener('wheel', wheel);
  };
}

function bandSelection(ctx: Ctx, clip: Clip, d: Extract<RollDrag, { kind: 'band' }>): number[] {
  const v = ctx.view.get();
  const b0 = xToBeat(v, Math.min(d.x0, d.x1)), b1 = xToBeat(v, Math.max(d.x0, d.x1));
  const kTop = yToKey(v, Math.min(d.y0, d.y1)), kBottom = yToKey(v, Math.max(d.y0, d.y1));
  const out = new Set(d.add);
  clip.notes.forEach((n, i) => {
    const s = clip.start_beat + n.start_beat, e = s + n.length_beats;
    if (e > b0 && s < b1 && n.key <= kTop && n.key >= kBottom) out.add(i);
  });
  return [...out].sort((a, b) => a - b);
}

function paintVelocity(ctx: Ctx, clip: Clip, clipId: string, x: number, y: number, L: Layout): void {
  const v = ctx.view.get();
  const value = Math.max(0.01, Math.min(1, 1 - (y - L.velTop - 6) / (L.h - L.velTop - 12)));
  const hits: number[] = [];
  clip.notes.forEach((n, i) => {
    const nx = beatToX(v, clip.start_beat + n.start_beat);
    if (Math.abs(nx - x) <= 5) hits.push(i);
  });
  if (!hits.length) return;
  const targets = hits.some((i) => v.selectedNotes.includes(i)) && v.selectedNotes.length > 1 ? v.selectedNotes : hits;
  ctx.act.setVelocity(clipId, targets, Math.round(value * 127) / 127, 'velocity');
}

// ---- drawing ---------------------------------------------------------------

function draw(canvas: HTMLCanvasElement, ctx: Ctx, playhead: number, band: RollDrag | null): void {
  const fit = fitCanvas(canvas);
  if (!fit) return;
  const { g, w, h } = fit;
  const L = layoutOf(canvas);
  const v = ctx.view.get();
  const doc = ctx.store.doc;
  const open = openClip(ctx);
  g.fillStyle = THEME.bg;
  g.fillRect(0, 0, w, h);

  // Key rows.
  g.save();
  g.beginPath();
  g.rect(0, L.gridTop, w, L.gridBottom - L.gridTop);
  g.clip();
  for (let key = 127; key >= 0; key--) {
    const y = keyToY(v, key);
    if (y > L.gridBottom || y + v.rollKeyHeight < L.gridTop) continue;
    g.fillStyle = isBlackKey(key) ? '#181b21' : '#1e2129';
    g.fillRect(KEYBOARD_WIDTH, y, w - KEYBOARD_WIDTH, v.rollKeyHeight);
    if (key % 12 === 0) {
      g.fillStyle = THEME.lineStrong;
      g.fillRect(KEYBOARD_WIDTH, y + v.rollKeyHeight - 1, w - KEYBOARD_WIDTH, 1);
    }
  }
  // Beat lines.
  const bars = barsOf(doc);
  const from = xToBeat(v, KEYBOARD_WIDTH), to = xToBeat(v, w);
  const grid = snapBeats(v.snap, bars.beatsPerBarAt(from));
  if (grid > 0 && grid * v.rollPxPerBeat >= 8) {
    g.fillStyle = 'rgba(255,255,255,0.035)';
    for (let b = Math.ceil(from / grid) * grid; b <= to; b += grid) g.fillRect(Math.round(beatToX(v, b)), L.gridTop, 1, L.gridBottom - L.gridTop);
  }
  for (const line of bars.lines(from, to)) {
    g.fillStyle = line.bar ? THEME.lineStrong : THEME.line;
    g.fillRect(Math.round(beatToX(v, line.beat)), L.gridTop, 1, L.gridBottom - L.gridTop);
  }

  if (open) {
    const { clip, track } = open;
    const color = clip.ui?.color ?? track.ui?.color ?? THEME.accent;
    const cx0 = beatToX(v, clip.start_beat), cx1 = beatToX(v, clip.start_beat + clip.length_beats);
    // Outside the clip: shaded.
    g.fillStyle = 'rgba(0,0,0,0.35)';
    if (cx0 > KEYBOARD_WIDTH) g.fillRect(KEYBOARD_WIDTH, L.gridTop, cx0 - KEYBOARD_WIDTH, L.gridBottom - L.gridTop);
    if (cx1 < w) g.fillRect(cx1, L.gridTop, w - cx1, L.gridBottom - L.gridTop);
    // Loop repeats, faint.
    if (clip.loop_beats !== undefined) {
      const loop = clip.loop_beats;
      g.fillStyle = withAlpha(color, 0.25);
      for (let off = loop; off < clip.length_beats; off += loop) {
        for (const n of clip.notes) {
          if (n.start_beat >= loop) continue;
          const s = off + n.start_beat;
          if (s >= clip.length_beats) continue;
          const x0 = beatToX(v, clip.start_beat + s);
          const x1 = beatToX(v, clip.start_beat + Math.min(clip.length_beats, s + n.length_beats));
          g.fillRect(x0, keyToY(v, n.key) + 1, Math.max(2, x1 - x0 - 1), v.rollKeyHeight - 2);
        }
      }
      g.fillStyle = withAlpha(color, 0.6);
      g.fillRect(beatToX(v, clip.start_beat + loop), L.gridTop, 1, L.gridBottom - L.gridTop);
    }
    const drums = isDrumKit(track);
    clip.notes.forEach((n, i) => {
      const x0 = beatToX(v, clip.start_beat + n.start_beat);
      const x1 = beatToX(v, clip.start_beat + n.start_beat + n.length_beats);
      if (x1 < KEYBOARD_WIDTH || x0 > w) return;
      const y = keyToY(v, n.key);
      const sel = v.selectedNotes.includes(i);
      const vel = n.velocity ?? 0.8;
      g.fillStyle = sel ? '#ffffff' : withAlpha(color, 0.55 + 0.45 * vel);
      g.fillRect(x0 + 0.5, y + 1, Math.max(3, x1 - x0 - 1), v.rollKeyHeight - 2);
      g.strokeStyle = sel ? color : 'rgba(0,0,0,0.5)';
      g.lineWidth = 1;
      g.strokeRect(x0 + 0.5, y + 1.5, Math.max(3, x1 - x0 - 1), v.rollKeyHeight - 3);
      if (x1 - x0 > 28 && v.rollKeyHeight >= 11) {
        g.fillStyle = sel ? '#111' : 'rgba(0,0,0,0.7)';
        g.font = '9px system-ui, sans-serif';
        g.fillText(noteLabel(n.key, drums), x0 + 3, y + v.rollKeyHeight - 3);
      }
    });
  }
  // Playhead.
  const px = beatToX(v, playhead);
  if (px >= KEYBOARD_WIDTH) {
    g.fillStyle = THEME.playhead;
    g.fillRect(Math.round(px), L.gridTop, 1, L.gridBottom - L.gridTop);
  }
  if (band && band.kind === 'band') {
    g.fillStyle = 'rgba(76,194,255,0.12)';
    g.strokeStyle = THEME.accent;
    const x = Math.min(band.x0, band.x1), y = Math.min(band.y0, band.y1);
    g.fillRect(x, y, Math.abs(band.x1 - band.x0), Math.abs(band.y1 - band.y0));
    g.strokeRect(x + 0.5, y + 0.5, Math.abs(band.x1 - band.x0), Math.abs(band.y1 - band.y0));
  }
  g.restore();

  drawKeyboard(g, v, L, ctx);
  drawRuler(g, v, w, doc);
  drawVelocity(g, v, L, open);

  if (!open) {
    g.fillStyle = THEME.textDim;
    g.font = '13px system-ui, sans-serif';
    g.textAlign = 'center';
    g.fillText('Double-click a clip above to edit its notes here (double-click an empty instrument lane to make one).', KEYBOARD_WIDTH + (w - KEYBOARD_WIDTH) / 2,
               L.gridTop + (L.gridBottom - L.gridTop) / 2);
    g.textAlign = 'left';
  }
}

function drawKeyboard(g: CanvasRenderingContext2D, v: ViewState, L: Layout, ctx: Ctx): void {
  g.save();
  g.beginPath();
  g.rect(0, L.gridTop, KEYBOARD_WIDTH, L.gridBottom - L.gridTop);
  g.clip();
  g.fillStyle = THEME.white;
  g.fillRect(0, L.gridTop, KEYBOARD_WIDTH, L.gridBottom - L.gridTop);
  const held = ctx.heldKeys();
  const drums = isDrumKit(openClip(ctx)?.track);
  for (let key = 127; key >= 0; key--) {
    const y = keyToY(v, key);
    if (y > L.gridBottom || y + v.rollKeyHeight < L.gridTop) continue;
    const black = isBlackKey(key);
    const down = held.has(key);
    if (black) {
      g.fillStyle = down ? THEME.accent : THEME.black;
      g.fillRect(0, y, KEYBOARD_WIDTH * 0.62, v.rollKeyHeight);
    } else if (down) {
      g.fillStyle = THEME.accent;
      g.fillRect(0, y, KEYBOARD_WIDTH, v.rollKeyHeight);
    }
    if (!black && (key % 12 === 0 || key % 12 === 5)) {
      g.fillStyle = '#b8bfca';
      g.fillRect(0, y + v.rollKeyHeight - 0.5, KEYBOARD_WIDTH, 1);
    }
    const drum = drums ? DRUM_KEYS[key] : undefined;
    if (drum !== undefined && v.rollKeyHeight >= 8) {
      g.fillStyle = black ? '#e9edf3' : '#3b4250';
      g.font = '600 9px system-ui, sans-serif';
      g.fillText(drum, 3, y + v.rollKeyHeight - 2);
    } else if (key % 12 === 0 && v.rollKeyHeight >= 8) {
      g.fillStyle = '#3b4250';
      g.font = '600 9px system-ui, sans-serif';
      g.fillText(keyName(key), KEYBOARD_WIDTH - 24, y + v.rollKeyHeight - 2);
    }
  }
  g.restore();
  g.fillStyle = THEME.lineStrong;
  g.fillRect(KEYBOARD_WIDTH - 1, L.gridTop, 1, L.gridBottom - L.gridTop);
}

function drawRuler(g: CanvasRenderingContext2D, v: ViewState, w: number, doc: ProjectDoc): void {
  g.fillStyle = THEME.panel;
  g.fillRect(0, 0, w, RULER);
  const bars = barsOf(doc);
  g.font = '10px system-ui, sans-serif';
  for (const line of bars.lines(xToBeat(v, KEYBOARD_WIDTH), xToBeat(v, w))) {
    const x = Math.round(beatToX(v, line.beat));
    if (x < KEYBOARD_WIDTH) continue;
    g.fillStyle = line.bar ? THEME.lineStrong : THEME.line;
    g.fillRect(x, line.bar ? 8 : 15, 1, RULER);
    if (line.bar) {
      g.fillStyle = THEME.text;
      g.fillText(String(line.barNumber), x + 3, 15);
    }
  }
  g.fillStyle = THEME.line;
  g.fillRect(0, RULER - 1, w, 1);
}

function drawVelocity(g: CanvasRenderingContext2D, v: ViewState, L: Layout,
                      open: { clip: Clip; track: TrackDoc } | null): void {
  g.fillStyle = THEME.panel;
  g.fillRect(0, L.velTop - 4, L.w, L.h - L.velTop + 4);
  g.fillStyle = THEME.line;
  g.fillRect(0, L.velTop - 4, L.w, 1);
  g.fillStyle = THEME.textDim;
  g.font = '10px system-ui, sans-serif';
  g.fillText('Velocity', 6, L.velTop + 14);
  if (!open) return;
  const { clip, track } = open;
  const color = clip.ui?.color ?? track.ui?.color ?? THEME.accent;
  const top = L.velTop + 6, height = L.h - L.velTop - 12;
  clip.notes.forEach((n, i) => {
    const x = beatToX(v, clip.start_beat + n.start_beat);
    if (x < KEYBOARD_WIDTH || x > L.w) return;
    const vel = n.velocity ?? 0.8;
    const bh = vel * height;
    g.fillStyle = v.selectedNotes.includes(i) ? '#ffffff' : color;
    g.fillRect(Math.round(x), top + height - bh, 3, bh);
    g.beginPath();
    g.arc(Math.round(x) + 1.5, top + height - bh, 3, 0, Math.PI * 2);
    g.fill();
  });
}
