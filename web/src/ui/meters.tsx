// meters.tsx — level meters on <canvas>, redrawn every animation frame
// from the audio session's telemetry (never through React state). A meter
// shows both channels' peak (bright) over RMS (dim) on a dB scale, and the
// held clip light on top, which a click resets.

import { useEffect, useRef } from 'react';
import type { Ctx } from './context';
import { THEME, fitCanvas } from './view';

const FLOOR_DB = -60;
/** The master's safety limit (faults.tsx). */
const LIMIT_COLOR = '#ff9f1a';

function dbToUnit(v: number): number {
  if (!(v > 0)) return 0;
  const db = 20 * Math.log10(v);
  return Math.max(0, Math.min(1, (db - FLOOR_DB) / -FLOOR_DB));
}

function levelColor(u: number): string {
  return u > 0.95 ? '#ff4d4d' : u > 0.85 ? '#ffd24c' : '#4cd68a';
}

export function Meter({ ctx, target, horizontal = false, id }: {
  ctx: Ctx; target: number | 'master'; horizontal?: boolean; id?: string;
}): React.JSX.Element {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    let raf = 0;
    const frame = (): void => {
      raf = requestAnimationFrame(frame);
      const fit = fitCanvas(canvas);
      if (!fit) return;
      const { g, w: full, h } = fit;
      const m = ctx.audio.meter(target);
      // A horizontal meter keeps its right end for the held clip light.
      const w = horizontal ? full - 8 : full;
      g.fillStyle = '#0e1014';
      g.fillRect(0, 0, full, h);
      const peak = m?.peak ?? [0, 0], rms = m?.rms ?? [0, 0];
      const clipSize = horizontal ? 0 : 5;
      for (let c = 0; c < 2; c++) {
        const p = dbToUnit(peak[c] ?? 0), r = dbToUnit(rms[c] ?? 0);
        if (horizontal) {
          const bh = (h - 1) / 2, y = c * (bh + 1);
          g.fillStyle = 'rgba(76, 214, 138, 0.35)';
          g.fillRect(0, y, r * w, bh);
          g.fillStyle = levelColor(p);
          g.fillRect(Math.max(0, p * w - 2), y, 2, bh);
          g.fillStyle = 'rgba(76, 214, 138, 0.8)';
          g.fillRect(0, y, r * w, bh);
        } else {
          const bw = (w - 1) / 2, x = c * (bw + 1), span = h - clipSize - 1;
          g.fillStyle = 'rgba(76, 214, 138, 0.8)';
          g.fillRect(x, h - r * span, bw, r * span);
          g.fillStyle = levelColor(p);
          g.fillRect(x, h - p * span, bw, 2);
        }
      }
      if (m?.limited) {
        // The master's safety limit: an orange frame around the whole meter.
        g.strokeStyle = LIMIT_COLOR;
        g.lineWidth = 2;
        g.strokeRect(1, 1, full - 2, h - 2);
      }
      if (horizontal) {
        g.fillStyle = m?.limited ? LIMIT_COLOR : m?.clipped ? THEME.record : '#2a2f39';
        g.fillRect(full - 6, 0, 6, h);
      } else {
        g.fillStyle = m?.limited ? LIMIT_COLOR : m?.clipped ? THEME.record : '#2a2f39';
        g.fillRect(0, 0, w, clipSize);
        // 0, -12, -24, -48 dB ticks.
        g.fillStyle = 'rgba(255,255,255,0.12)';
        for (const db of [0, -12, -24, -48]) {
          const u = (db - FLOOR_DB) / -FLOOR_DB;
          g.fillRect(0, Math.round(h - u * (h - clipSize - 1)), w, 1);
        }
      }
      if (id) {
        const d = canvas.dataset;
        d['peak'] = String(Math.max(peak[0] ?? 0, peak[1] ?? 0));
        const cpu = ctx.audio.cpu();
        d['voices'] = String(cpu?.voices ?? 0);
        d['frames'] = String(ctx.audio.frames());
        d['clipped'] = m?.clipped ? '1' : '0';
        d['limited'] = m?.limited ? '1' : '0';
      }
    };
    raf = requestAnimationFrame(frame);
    return () => cancelAnimationFrame(raf);
  }, [ctx, target, horizontal, id]);
  return <canvas ref={ref} id={id} className={horizontal ? 'meter-h' : 'meter-v'} title={target === 'master' ? 'Click to reset the clip light and the limit warning' : 'Click to reset the clip light'}
                 onClick={() => ctx.audio.resetClip(target)} />;
}
