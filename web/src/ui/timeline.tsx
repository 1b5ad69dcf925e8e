// timeline.tsx — the arrangement, drawn on one <canvas>: the ruler (bars
// and beats, time-signature and tempo changes, the loop region), one lane
// per track with its clips and their notes in miniature, and the playhead.
//
// Pointer gestures: the ruler seeks on click and sets the loop region on a
// drag; on a lane, a clip moves (to another instrument track too), resizes
// by either edge, loops by the handle at its top-right corner, splits with
// the split tool; a double click on an empty instrument lane makes a
// one-bar clip, on a clip opens it in the piano roll. Every change is one
// transaction (a drag coalesces into one undo step). The canvas redraws on
// animation frames while something changed or the transport runs; nothing
// here re-renders React.

import { useEffect, useRef } from 'react';
import type { Clip, ProjectDoc, TrackDoc } from '../doc/project';
import type { Ctx } from './context';
import { barsOf, clipRange, findClip, tempoAt, type BarLine } from './song';
import { LANE_HEIGHT, RULER_HEIGHT, THEME, cssSize, fitCanvas, snapBeats, snapDown, snapTo, type ViewState } from './view';

const EDGE = 6;          // px: the resize zone at each clip edge
const HANDLE = 9;        // px: the loop handle's square
const CLIP_HEADER = 15;  // px: the clip's name strip

type Hit =
  | { kind: 'ruler' }
  | { kind: 'empty'; track: TrackDoc | null; beat: number }
  | { kind: 'clip'; track: TrackDoc; clip: Clip; part: 'body' | 'left' | 'right' | 'loop' };

interface ArrangeDrag {
  kind: 'move' | 'left' | 'right' | 'loop' | 'ruler' | 'split';
  x0: number;
  y0: number;
  beat0: number;
  clipId?: string;
  trackId?: number;
  base?: ProjectDoc;
  moved: boolean;
  pointer: number;
}

export function Timeline({ ctx }: { ctx: Ctx }): React.JSX.Element {
  const canvasRef = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    let raf = 0;
    let dirty = true;
    let stale = true;   // the scene (all but the playhead) must be drawn again
    const mark = (): void => { dirty = true; stale = true; };
    const unsubs = [ctx.store.subscribe(mark), ctx.view.subscribe(mark)];
    const resize = new ResizeObserver(mark);
    resize.observe(canvas);
    let lastBeat = -1;
    const frame = (): void => {
      raf = requestAnimationFrame(frame);
      const beat = ctx.audio.positionBeat();
      if (beat !== lastBeat) {
        lastBeat = beat;
        dirty = true;
        followPlayhead(ctx, canvas, beat);
      }
      if (!dirty) return;
      dirty = false;
      draw(canvas, ctx, beat, stale);
      stale = false;
    };
    raf = requestAnimationFrame(frame);
    const off = attachPointer(canvas, ctx);
    return () => {
      cancelAnimationFrame(raf);
      resize.disconnect();
      off();
      for (const u of unsubs) u();
    };
  }, [ctx]);

  return <canvas ref={canvasRef} className="timeline-canvas" data-testid="timeline" tabIndex={0} />;
}

// ---- geometry --------------------------------------------------------------

function beatToX(v: ViewState, beat: number): number {
  return (beat - v.scrollBeat) * v.pxPerBeat;
}
function xToBeat(v: ViewState, x: number): number {
  return v.scrollBeat + x / v.pxPerBeat;
}
function laneTop(v: ViewState, index: number): number {
  return RULER_HEIGHT + index * LANE_HEIGHT - v.scrollY;
}
function trackAtY(doc: ProjectDoc, v: ViewState, y: number): TrackDoc | null {
  if (y < RULER_HEIGHT) return null;
  const i = Math.floor((y - RULER_HEIGHT + v.scrollY) / LANE_HEIGHT);
  return doc.tracks[i] ?? null;
}

/** Keep the playhead in view while the transport runs. */
function followPlayhead(ctx: Ctx, canvas: HTMLCanvasElement, beat: number): void {
  const v = ctx.view.get();
  if (!v.follow || !ctx.audio.playing()) return;
  const width = cssSize(canvas).w / v.pxPerBeat;
  if (beat < v.scrollBeat || beat > v.scrollBeat + width * 0.9)
    ctx.view.set({ scrollBeat: Math.max(0, beat - width * 0.1) });
}

function hitTest(ctx: Ctx, x: number, y: number): Hit {
  if (y < RULER_HEIGHT) return { kind: 'ruler' };
  const doc = ctx.store.doc, v = ctx.view.get();
  const track = trackAtY(doc, v, y);
  const beat = xToBeat(v, x);
  if (!track) return { kind: 'empty', track: null, beat };
  const top = laneTop(v, doc.tracks.indexOf(track));
  // The last clip drawn is on top: search backwards.
  const clips = track.clips ?? [];
  for (let i = clips.length - 1; i >= 0; i--) {
    const clip = clips[i];
    if (!clip) continue;
    const x0 = beatToX(v, clip.start_beat), x1 = beatToX(v, clip.start_beat + clip.length_beats);
    if (x < x0 - 1 || x > x1 + 1) continue;
    if (y - top < CLIP_HEADER && x >= x1 - HANDLE - 2) return { kind: 'clip', track, clip, part: 'loop' };
    if (x - x0 <= EDGE && x1 - x0 > 3 * EDGE) return { kind: 'clip', track, clip, part: 'left' };
    if (x1 - x <= EDGE) return { kind: 'clip', track, clip, part: 'right' };
    return { kind: 'clip', track, clip, part: 'body' };
  }
  return { kind: 'empty', track, beat };
}

// ---- pointer ---------------------------------------------------------------

function attachPointer(canvas: HTMLCanvasElement, ctx: Ctx): () => void {
  let drag: ArrangeDrag | null = null;
  const local = (e: MouseEvent): { x: number; y: number } => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  const grid = (e: MouseEvent): number => {
    if (e.altKey) return 0;
    return snapBeats(ctx.view.get().snap, barsOf(ctx.store.doc).beatsPerBarAt(0));
  };

  const down = (e: PointerEvent): void => {
    if (e.button !== 0) return;
    canvas.focus();
    const { x, y } = local(e);
    const hit = hitTest(ctx, x, y);
    const v = ctx.view.get();
    const beat0 = xToBeat(v, x);
    ctx.audio.start();
    if (hit.kind === 'ruler') {
      drag = { kind: 'ruler', x0: x, y0: y, beat0, moved: false, pointer: e.pointerId };
    } else if (hit.kind === 'empty') {
      ctx.view.set({ selectedClips: e.shiftKey ? v.selectedClips : [],
                     selectedTrack: hit.track?.id ?? v.selectedTrack });
      return;
    } else {
      const id = hit.clip.ui?.id ?? '';
      const selected = e.shiftKey
        ? (v.selectedClips.includes(id) ? v.selectedClips.filter((c) => c !== id) : [...v.selectedClips, id])
        : (v.selectedClips.includes(id) ? v.selectedClips : [id]);
      ctx.view.set({ selectedClips: selected, selectedTrack: hit.track.id });
      if (ctx.tool() === 'split') {
        const at = snapTo(beat0, grid(e));
        ctx.act.splitClip(id, at);
        return;
      }
      const kind = hit.part === 'body' ? 'move' : hit.part;
      drag = { kind, x0: x, y0: y, beat0, clipId: id, trackId: hit.track.id, base: ctx.store.doc,
               moved: false, pointer: e.pointerId };
    }
    canvas.setPointerCapture(e.pointerId);
  };

  const move = (e: PointerEvent): void => {
    const { x, y } = local(e);
    if (!drag) {
      canvas.style.cursor = cursorFor(hitTest(ctx, x, y), ctx.tool());
      return;
    }
    if (!drag.moved && Math.abs(x - drag.x0) < 3 && Math.abs(y - drag.y0) < 3) return;
    drag.moved = true;
    const v = ctx.view.get();
    const g = grid(e);
    const beat = xToBeat(v, x);
    if (drag.kind === 'ruler') {
      const a = snapTo(Math.max(0, Math.min(drag.beat0, beat)), g || 0.25);
      const b = snapTo(Math.max(drag.beat0, beat), g || 0.25);
      if (b > a) ctx.act.setLoop({ enabled: true, start_beat: a, end_beat: b }, 'loop-drag');
      return;
    }
    const base = drag.base;
    const id = drag.clipId;
    if (!base || !id) return;
    const found = findClip(base, id);
    if (!found) return;
    const { clip } = found;
    const delta = beat - drag.beat0;
    if (drag.kind === 'move') {
      const start = Math.max(0, snapTo(clip.start_beat + delta, g));
      const over = trackAtY(ctx.store.doc, v, y);
      const target = over && over.kind === 'instrument' ? over.id : found.track.id;
      ctx.act.moveClips(base, ctx.view.get().selectedClips.includes(id) ? ctx.view.get().selectedClips : [id],
                        id, start - clip.start_beat, target, `clip-move-${drag.pointer}`);
    } else if (drag.kind === 'left') {
      const end = clip.start_beat + clip.length_beats;
      const start = Math.min(end - Math.max(g, 0.0625), Math.max(0, snapTo(clip.start_beat + delta, g)));
      ctx.act.resizeClip(base, id, start, end - start, `clip-resize-${drag.pointer}`);
    } else if (drag.kind === 'right') {
      const end = Math.max(clip.start_beat + Math.max(g, 0.0625), snapTo(clip.start_beat + clip.length_beats + delta, g));
      ctx.act.resizeClip(base, id, clip.start_beat, end - clip.start_beat, `clip-resize-${drag.pointer}`);
    } else if (drag.kind === 'loop') {
      const end = Math.max(clip.start_beat + Math.max(g, 0.0625), snapTo(clip.start_beat + clip.length_beats + delta, g));
      ctx.act.loopClip(base, id, end - clip.start_beat, `clip-loop-${drag.pointer}`);
    }
  };

  const up = (e: PointerEvent): void => {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (canvas.hasPointerCapture(e.pointerId)) canvas.releasePointerCapture(e.pointerId);
    ctx.store.endCoalesce();
    if (d.kind === 'ruler' && !d.moved) {
      const beat = Math.max(0, snapTo(xToBeat(ctx.view.get(), local(e).x), grid(e)));
      ctx.audio.seek(beat);
    }
  };

  const dbl = (e: MouseEvent): void => {
    const { x, y } = local(e);
    const hit = hitTest(ctx, x, y);
    if (hit.kind === 'clip') {
      const id = hit.clip.ui?.id ?? null;
      ctx.view.set({ openClip: id, selectedNotes: [], dock: 'roll', selectedTrack: hit.track.id,
                     rollScrollBeat: Math.max(0, hit.clip.start_beat - 0.5) });
      ctx.focusRoll(hit.clip);
      return;
    }
    if (hit.kind === 'empty' && hit.track && hit.track.kind === 'instrument') {
      const bars = barsOf(ctx.store.doc);
      const start = Math.max(0, snapDown(hit.beat, bars.beatsPerBarAt(hit.beat)));
      const id = ctx.act.addClip(hit.track.id, start, bars.beatsPerBarAt(start));
      if (id) ctx.view.set({ selectedClips: [id], selectedTrack: hit.track.id, openClip: id, selectedNotes: [],
                             dock: 'roll', rollScrollBeat: Math.max(0, start - 0.5) });
    }
  };

  const wheel = (e: WheelEvent): void => {
    e.preventDefault();
    const v = ctx.view.get();
    if (e.ctrlKey || e.metaKey) {
      const { x } = local(e);
      const at = xToBeat(v, x);
      const px = Math.min(400, Math.max(2, v.pxPerBeat * Math.exp(-e.deltaY * 0.002)));
      ctx.view.set({ pxPerBeat: px, scrollBeat: Math.max(0, at - x / px) });
      return;
    }
    const dx = e.shiftKey ? e.deltaY : e.deltaX;
    const dy = e.shiftKey ? 0 : e.deltaY;
    const maxY = Math.max(0, ctx.store.doc.tracks.length * LANE_HEIGHT - (canvas.clientHeight - RULER_HEIGHT) + 40);
    ctx.view.set({ scrollBeat: Math.max(0, v.scrollBeat + dx / v.pxPerBeat),
                   scrollY: Math.min(maxY, Math.max(0, v.scrollY + dy)) });
  };

  // A right click on the ruler: tempo and time-signature changes at the
  // nearest bar line.
  const menu = (e: MouseEvent): void => {
    const { x, y } = local(e);
    if (y >= RULER_HEIGHT) return;
    e.preventDefault();
    const bars = barsOf(ctx.store.doc);
    const beat = xToBeat(ctx.view.get(), x);
    const bar = bars.position(Math.max(0, beat)).bar;
    const a = bars.barStart(bar), b = bars.barStart(bar + 1);
    ctx.markerMenu(beat - a <= b - beat ? a : b, e.clientX, e.clientY);
  };

  canvas.addEventListener('pointerdown', down);
  canvas.addEventListener('pointermove', move);
  canvas.addEventListener('pointerup', up);
  canvas.addEventListener('pointercancel', up);
  canvas.addEventListener('dblclick', dbl);
  canvas.addEventListener('contextmenu', menu);
  canvas.addEventListener('wheel', wheel, { passive: false });
  return () => {
    canvas.removeEventListener('contextmenu', menu);
    canvas.removeEventListener('pointerdown', down);
    canvas.removeEventListener('pointermove', move);
    canvas.removeEventListener('pointerup', up);
    canvas.removeEventListener('pointercancel', up);
    canvas.removeEventListener('dblclick', dbl);
    canvas.removeEventListener('wheel', wheel);
  };
}

function cursorFor(hit: Hit, tool: string): string {
  if (hit.kind === 'ruler') return 'text';
  if (hit.kind !== 'clip') return 'default';
  if (tool === 'split') return 'crosshair';
  if (hit.part === 'left' || hit.part === 'right') return 'ew-resize';
  if (hit.part === 'loop') return 'alias';
  return 'grab';
}

// ---- drawing ---------------------------------------------------------------

// While only the playhead moves (playing, nothing edited or scrolled), a
// frame is the scene drawn last time (kept in an offscreen canvas) and the
// playhead over it.
const scenes = new WeakMap<HTMLCanvasElement, { canvas: HTMLCanvasElement; w: number; h: number }>();

function draw(canvas: HTMLCanvasElement, ctx: Ctx, playhead: number, stale: boolean): void {
  const fit = fitCanvas(canvas);
  if (!fit) return;
  const { g, w, h } = fit;
  let scene = scenes.get(canvas);
  if (stale || ctx.recording() || !scene || scene.w !== canvas.width || scene.h !== canvas.height) {
    const layer = scene?.canvas ?? document.createElement('canvas');
    if (layer.width !== canvas.width || layer.height !== canvas.height) {
      layer.width = canvas.width;
      layer.height = canvas.height;
    }
    const lg = layer.getContext('2d');
    if (!lg) return;
    lg.setTransform(canvas.width / w, 0, 0, canvas.height / h, 0, 0);
    drawScene(lg, ctx, playhead, w, h);
    scene = { canvas: layer, w: canvas.width, h: canvas.height };
    scenes.set(canvas, scene);
  }
  g.save();
  g.setTransform(1, 0, 0, 1, 0, 0);
  g.drawImage(scene.canvas, 0, 0);
  g.restore();
  drawPlayhead(g, ctx, playhead, w, h);
}

function drawScene(g: CanvasRenderingContext2D, ctx: Ctx, playhead: number, w: number, h: number): void {
  const doc = ctx.store.doc, v = ctx.view.get();
  const bars = barsOf(doc);
  const firstBeat = v.scrollBeat, lastBeat = xToBeat(v, w);
  const lines = bars.lines(firstBeat, lastBeat);

  g.fillStyle = THEME.bg;
  g.fillRect(0, 0, w, h);

  // Lanes.
  doc.tracks.forEach((track, i) => {
    const top = laneTop(v, i);
    if (top > h || top + LANE_HEIGHT < RULER_HEIGHT) return;
    g.fillStyle = track.id === v.selectedTrack ? '#20242d' : (i % 2 ? THEME.laneAlt : THEME.lane);
    g.fillRect(0, top, w, LANE_HEIGHT);
    g.fillStyle = THEME.line;
    g.fillRect(0, top + LANE_HEIGHT - 1, w, 1);
  });
  drawGrid(g, v, lines, RULER_HEIGHT, h, w);

  // The loop region over the lanes.
  const loop = doc.loop;
  if (loop) {
    const x0 = beatToX(v, loop.start_beat), x1 = beatToX(v, loop.end_beat);
    g.fillStyle = loop.enabled ? 'rgba(76, 194, 255, 0.05)' : 'rgba(255,255,255,0.02)';
    g.fillRect(x0, RULER_HEIGHT, x1 - x0, h - RULER_HEIGHT);
  }

  // Clips.
  g.save();
  g.beginPath();
  g.rect(0, RULER_HEIGHT, w, h - RULER_HEIGHT);
  g.clip();
  doc.tracks.forEach((track, i) => {
    const top = laneTop(v, i);
    if (top > h || top + LANE_HEIGHT < RULER_HEIGHT) return;
    for (const clip of track.clips ?? []) {
      const x0 = beatToX(v, clip.start_beat), x1 = beatToX(v, clip.start_beat + clip.length_beats);
      if (x1 < 0 || x0 > w) continue;
      drawClip(g, track, clip, x0, x1, top + 2, LANE_HEIGHT - 5, v.selectedClips.includes(clip.ui?.id ?? '\0'),
               clip.ui?.id === v.openClip);
    }
  });
  // Audio regions: their length in seconds through the tempo at their start.
  doc.tracks.forEach((track, i) => {
    const top = laneTop(v, i);
    if (!track.regions?.length || top > h || top + LANE_HEIGHT < RULER_HEIGHT) return;
    for (const r of track.regions) {
      const beats = ((r.length_seconds ?? 4) * tempoAt(doc, r.start_beat)) / 60;
      const x0 = beatToX(v, r.start_beat), x1 = beatToX(v, r.start_beat + beats);
      if (x1 < 0 || x0 > w) continue;
      const color = r.ui?.color ?? track.ui?.color ?? '#4cc2ff';
      roundRect(g, x0 + 0.5, top + 2.5, Math.max(2, x1 - x0 - 1), LANE_HEIGHT - 6, 4);
      g.fillStyle = withAlpha(color, 0.3);
      g.fill();
      g.strokeStyle = withAlpha(color, 0.9);
      g.stroke();
      g.fillStyle = THEME.text;
      g.font = '600 10px system-ui, sans-serif';
      g.fillText(r.ui?.name ?? r.file ?? 'Audio', x0 + 5, top + 14, Math.max(0, x1 - x0 - 10));
    }
  });
  const live = ctx.recording();
  if (live) {
    const i = doc.tracks.findIndex((t) => t.id === live.trackId);
    if (i >= 0) {
      const x0 = beatToX(v, live.startBeat), x1 = beatToX(v, Math.max(live.startBeat, playhead));
      const top = laneTop(v, i) + 2;
      g.fillStyle = 'rgba(255, 77, 77, 0.25)';
      g.fillRect(x0, top, x1 - x0, LANE_HEIGHT - 5);
      g.fillStyle = THEME.record;
      for (const n of live.notes) {
        const nx = beatToX(v, n.beat), nw = Math.max(2, ((n.end ?? playhead) - n.beat) * v.pxPerBeat);
        const ny = top + CLIP_HEADER + (1 - (n.key - 24) / 84) * (LANE_HEIGHT - CLIP_HEADER - 8);
        g.fillRect(nx, ny, nw, 2);
      }
    }
  }
  g.restore();

  drawRuler(g, ctx, v, bars, lines, w);
  if (doc.tracks.length === 0) drawStart(g, w);
}

function drawPlayhead(g: CanvasRenderingContext2D, ctx: Ctx, playhead: number, w: number, h: number): void {
  const v = ctx.view.get();
  const px = Math.round(beatToX(v, playhead)) + 0.5;
  if (px >= 0 && px <= w) {
    g.strokeStyle = THEME.playhead;
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(px, 0);
    g.lineTo(px, h);
    g.stroke();
    g.fillStyle = THEME.playhead;
    g.beginPath();
    g.moveTo(px - 6, 0);
    g.lineTo(px + 6, 0);
    g.lineTo(px, 8);
    g.closePath();
    g.fill();
  }
}

/** The first screen of a new project: how to start, in three steps. */
function drawStart(g: CanvasRenderingContext2D, w: number): void {
  {
    const steps = [
      ['1', 'Add a track', 'with "+ Instrument" at the top left (choose its sound in the track\'s list).'],
      ['2', 'Draw notes', 'double-click the track\'s lane for a clip, then click in the piano roll below.'],
      ['3', 'Press Space', 'to play. ⌨ (or M) plays the selected track from the computer keyboard, R records.'],
    ];
    const x0 = Math.max(24, w / 2 - 300), y0 = RULER_HEIGHT + 60;
    g.textAlign = 'left';
    g.fillStyle = THEME.text;
    g.font = '600 16px system-ui, sans-serif';
    g.fillText('Start a song', x0, y0);
    steps.forEach(([n, head, rest], i) => {
      const y = y0 + 34 + i * 30;
      g.fillStyle = '#2b6cb0';
      g.beginPath();
      g.arc(x0 + 10, y - 5, 10, 0, Math.PI * 2);
      g.fill();
      g.fillStyle = '#ffffff';
      g.font = '600 12px system-ui, sans-serif';
      g.textAlign = 'center';
      g.fillText(n!, x0 + 10, y - 1);
      g.textAlign = 'left';
      g.fillStyle = THEME.text;
      g.font = '600 14px system-ui, sans-serif';
      g.fillText(head!, x0 + 30, y);
      const hw = g.measureText(head!).width;
      g.fillStyle = THEME.textDim;
      g.font = '14px system-ui, sans-serif';
      g.fillText(` — ${rest!}`, x0 + 30 + hw, y);
    });
  }
}

function drawGrid(g: CanvasRenderingContext2D, v: ViewState, lines: BarLine[], top: number, h: number, w: number): void {
  for (const line of lines) {
    const x = Math.round(beatToX(v, line.beat)) + 0.5;
    if (x < 0 || x > w) continue;
    if (line.bar) g.fillStyle = THEME.lineStrong;
    else if (v.pxPerBeat < 10) continue;
    else g.fillStyle = THEME.line;
    g.fillRect(x - 0.5, top, 1, h - top);
  }
}

function drawRuler(g: CanvasRenderingContext2D, ctx: Ctx, v: ViewState, bars: ReturnType<typeof barsOf>,
                   lines: BarLine[], w: number): void {
  const doc = ctx.store.doc;
  g.fillStyle = THEME.panel;
  g.fillRect(0, 0, w, RULER_HEIGHT);
  const loop = doc.loop;
  if (loop) {
    const x0 = beatToX(v, loop.start_beat), x1 = beatToX(v, loop.end_beat);
    g.fillStyle = loop.enabled ? 'rgba(76, 194, 255, 0.55)' : 'rgba(140, 150, 170, 0.3)';
    g.fillRect(x0, 0, x1 - x0, 5);
    g.fillStyle = loop.enabled ? THEME.loopEdge : THEME.textDim;
    g.fillRect(x0, 0, 1, RULER_HEIGHT);
    g.fillRect(x1 - 1, 0, 1, RULER_HEIGHT);
  }
  g.font = '11px system-ui, sans-serif';
  g.textBaseline = 'middle';
  // Label every bar, or every n-th when they crowd.
  const barPx = v.pxPerBeat * bars.beatsPerBarAt(v.scrollBeat);
  const every = barPx >= 36 ? 1 : barPx >= 18 ? 2 : barPx >= 9 ? 4 : 8;
  for (const line of lines) {
    const x = Math.round(beatToX(v, line.beat)) + 0.5;
    if (line.bar) {
      g.fillStyle = THEME.lineStrong;
      g.fillRect(x - 0.5, 18, 1, RULER_HEIGHT - 18);
      if ((line.barNumber - 1) % every === 0) {
        g.fillStyle = THEME.text;
        g.fillText(String(line.barNumber), x + 4, 25);
      }
    } else if (v.pxPerBeat >= 10) {
      g.fillStyle = THEME.line;
      g.fillRect(x - 0.5, 27, 1, RULER_HEIGHT - 27);
    }
  }
  // Time-signature and tempo changes, as small tags above the bar numbers.
  g.font = '10px system-ui, sans-serif';
  for (const ts of doc.time_signature_changes ?? []) {
    const x = beatToX(v, ts.beat);
    if (x < -40 || x > w) continue;
    tag(g, x + 2, 6, `${ts.num}/${ts.den}`, '#c58cff');
  }
  for (const t of doc.tempo_changes ?? []) {
    const x = beatToX(v, t.beat);
    if (x < -60 || x > w) continue;
    tag(g, x + 2, 6, `♩ ${fmtBpm(t.bpm)}`, '#ffb84c');
  }
  g.fillStyle = THEME.line;
  g.fillRect(0, RULER_HEIGHT - 1, w, 1);
  g.textBaseline = 'alphabetic';
}

function fmtBpm(bpm: number): string {
  return Number.isInteger(bpm) ? String(bpm) : bpm.toFixed(1);
}

function tag(g: CanvasRenderingContext2D, x: number, y: number, text: string, color: string): void {
  const tw = g.measureText(text).width + 6;
  g.fillStyle = color;
  g.globalAlpha = 0.85;
  g.fillRect(x, y, tw, 11);
  g.globalAlpha = 1;
  g.fillStyle = '#111';
  g.fillText(text, x + 3, y + 6);
}

// Each clip's picture (body, header, name, notes in miniature, loop
// handle) is drawn once into its own offscreen canvas and copied while it
// stays the same: same clip object (the document is immutable, so an edit
// makes a new one), width in whole pixels, height, track, selection. A
// scroll then copies bitmaps instead of drawing thousands of notes; a zoom
// redraws each visible clip once per step. Clips wider than MINI_MAX_PX
// (a long clip zoomed far in) are drawn directly.
const MINI_MAX_PX = 4096;
interface ClipPicture { key: string; want: string; canvas: HTMLCanvasElement | null }
const pictures = new WeakMap<Clip, ClipPicture>();

function drawClip(g: CanvasRenderingContext2D, track: TrackDoc, clip: Clip, x0: number, x1: number,
                  top: number, height: number, selected: boolean, open: boolean): void {
  const ratio = window.devicePixelRatio || 1;
  const pw = Math.max(2, Math.round(x1 - x0));
  if (pw * ratio > MINI_MAX_PX) {
    drawClipNow(g, track, clip, x0, x1, top, height, selected, open);
    return;
  }
  const key = `${pw}x${height}@${ratio} ${track.ui?.color ?? ''} ${track.name ?? ''} ${selected ? 's' : ''}${open ? 'o' : ''}`;
  let pic = pictures.get(clip);
  if (!pic || pic.key !== key) {
    // A key asked for the first time (a zoom step, a drag) is drawn
    // directly; a picture is made when the same key comes again, so a
    // zoom does not make and throw away a bitmap per clip per step.
    if (!pic || pic.want !== key) {
      if (pic) pic.want = key;
      else pictures.set(clip, { key: '', want: key, canvas: null });
      drawClipNow(g, track, clip, x0, x1, top, height, selected, open);
      return;
    }
    const canvas = pic.canvas ?? document.createElement('canvas');
    canvas.width = Math.ceil(pw * ratio) + 2;
    canvas.height = Math.ceil(height * ratio) + 2;
    const c = canvas.getContext('2d');
    if (!c) {
      drawClipNow(g, track, clip, x0, x1, top, height, selected, open);
      return;
    }
    c.setTransform(ratio, 0, 0, ratio, 0, 0);
    drawClipNow(c, track, clip, 0, pw, 0, height, selected, open);
    pic.key = key;
    pic.canvas = canvas;
  }
  if (!pic.canvas) return;
  g.drawImage(pic.canvas, 0, 0, pic.canvas.width, pic.canvas.height, x0, top,
              pic.canvas.width / ratio, pic.canvas.height / ratio);
}

function drawClipNow(g: CanvasRenderingContext2D, track: TrackDoc, clip: Clip, x0: number, x1: number,
                     top: number, height: number, selected: boolean, open: boolean): void {
  const color = clip.ui?.color ?? track.ui?.color ?? '#4cc2ff';
  const w = Math.max(2, x1 - x0);
  roundRect(g, x0 + 0.5, top + 0.5, w - 1, height - 1, 4);
  g.fillStyle = withAlpha(color, 0.28);
  g.fill();
  g.lineWidth = selected ? 1.5 : 1;
  g.strokeStyle = selected ? THEME.select : withAlpha(color, 0.9);
  g.stroke();
  // Header strip.
  g.save();
  roundRect(g, x0 + 0.5, top + 0.5, w - 1, height - 1, 4);
  g.clip();
  g.fillStyle = withAlpha(color, open ? 0.95 : 0.7);
  g.fillRect(x0, top, w, CLIP_HEADER);
  g.fillStyle = '#0d0f12';
  g.font = '600 10px system-ui, sans-serif';
  g.textBaseline = 'middle';
  const name = clip.ui?.name ?? track.name ?? 'Clip';
  if (w > 30) g.fillText(name, x0 + 5, top + CLIP_HEADER / 2 + 1, Math.max(0, w - HANDLE - 10));
  g.textBaseline = 'alphabetic';

  // Notes in miniature, repeated by the loop.
  const { lo, hi } = clipRange(clip);
  const span = Math.max(12, hi - lo + 1);
  const mid = (lo + hi) / 2;
  const noteTop = top + CLIP_HEADER + 3, noteH = height - CLIP_HEADER - 6;
  const pxPerBeat = (x1 - x0) / clip.length_beats;
  const rowH = Math.max(1.5, Math.min(4, noteH / span));
  const loopLen = clip.loop_beats ?? clip.length_beats;
  g.fillStyle = withAlpha(lighten(color), 0.95);
  for (let offset = 0; offset < clip.length_beats; offset += loopLen) {
    for (const n of clip.notes) {
      if (clip.loop_beats !== undefined && n.start_beat >= clip.loop_beats) continue;
      const s = offset + n.start_beat;
      if (s >= clip.length_beats) continue;
      const e = Math.min(clip.length_beats, offset + n.start_beat + n.length_beats);
      const y = noteTop + noteH / 2 - ((n.key - mid) / span) * noteH - rowH / 2;
      g.fillRect(x0 + s * pxPerBeat, y, Math.max(1, (e - s) * pxPerBeat - 1), rowH);
    }
    if (clip.loop_beats === undefined) break;
    if (offset > 0) {
      g.fillStyle = withAlpha(color, 0.9);
      g.fillRect(x0 + offset * pxPerBeat, top + CLIP_HEADER, 1, height - CLIP_HEADER);
      g.fillStyle = withAlpha(lighten(color), 0.95);
    }
  }
  // The loop handle.
  g.fillStyle = clip.loop_beats !== undefined ? '#ffffff' : 'rgba(13, 15, 18, 0.55)';
  g.beginPath();
  g.moveTo(x1 - HANDLE - 2, top + 2);
  g.lineTo(x1 - 2, top + 2);
  g.lineTo(x1 - 2, top + HANDLE + 2);
  g.closePath();
  g.fill();
  g.restore();
}

function roundRect(g: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  const rr = Math.min(r, w / 2, h / 2);
  g.beginPath();
  g.moveTo(x + rr, y);
  g.arcTo(x + w, y, x + w, y + h, rr);
  g.arcTo(x + w, y + h, x, y + h, rr);
  g.arcTo(x, y + h, x, y, rr);
  g.arcTo(x, y, x + w, y, rr);
  g.closePath();
}

export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m || !m[1]) return hex;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function lighten(hex: string): string {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m || !m[1]) return hex;
  const n = parseInt(m[1], 16);
  const f = (c: number): number => Math.round(c + (255 - c) * 0.55);
  return `#${[(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => f(c).toString(16).padStart(2, '0')).join('')}`;
}
