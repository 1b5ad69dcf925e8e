// meter.ts — the master meter (peak bars with a falling display, RMS in
// dB) and the CPU-load readout, drawn from the engine's state region on
// every animation frame.
//
// The element also carries the raw numbers as data attributes (data-peak,
// data-rms, data-voices, data-frames), for people poking at the page and
// for the end-to-end tests.

import type { EngineSnapshot } from '../engine/layout';

const FLOOR_DB = -60;
const FALL_DB_PER_SECOND = 24;

function toDb(x: number): number {
  return x > 0 ? 20 * Math.log10(x) : -Infinity;
}

function fraction(db: number): number {
  return Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
}

export class Meter {
  readonly element: HTMLElement;
  private readonly bars: HTMLElement[] = [];
  private readonly text: HTMLElement;
  private readonly cpu: HTMLElement;
  private readonly shown = [FLOOR_DB, FLOOR_DB];
  private lastMs = 0;

  constructor(cpu: HTMLElement) {
    this.cpu = cpu;
    this.element = document.createElement('div');
    this.element.id = 'meter';
    this.element.className = 'meter';
    this.element.setAttribute('role', 'meter');
    this.element.setAttribute('aria-label', 'Master level');
    for (const side of ['L', 'R']) {
      const row = document.createElement('div');
      row.className = 'meter-row';
      const label = document.createElement('span');
      label.textContent = side;
      const track = document.createElement('div');
      track.className = 'meter-track';
      // The track is the lit scale; the cover hides what is above the level.
      const bar = document.createElement('div');
      bar.className = 'meter-cover';
      track.appendChild(bar);
      row.append(label, track);
      this.element.appendChild(row);
      this.bars.push(bar);
    }
    this.text = document.createElement('div');
    this.text.className = 'meter-text';
    this.element.appendChild(this.text);
    this.update(null, 0);
  }

  update(s: EngineSnapshot | null, nowMs: number): void {
    const dt = this.lastMs ? (nowMs - this.lastMs) / 1000 : 0;
    this.lastMs = nowMs;
    const peak = s ? s.peak : [0, 0];
    for (let c = 0; c < 2; c++) {
      const db = toDb(peak[c] ?? 0);
      const fallen = (this.shown[c] ?? FLOOR_DB) - FALL_DB_PER_SECOND * dt;
      this.shown[c] = Math.max(db, fallen, FLOOR_DB);
      const bar = this.bars[c];
      if (bar) {
        bar.style.width = `${((1 - fraction(this.shown[c] ?? FLOOR_DB)) * 100).toFixed(1)}%`;
        bar.parentElement?.classList.toggle('hot', db > -1);
      }
    }
    const maxPeak = Math.max(peak[0] ?? 0, peak[1] ?? 0);
    const rms = s ? Math.max(s.rms[0], s.rms[1]) : 0;
    const peakDb = toDb(maxPeak);
    this.text.textContent = s
      ? `peak ${Number.isFinite(peakDb) ? peakDb.toFixed(1) : '-inf'} dB, ` +
        `${s.voices} voice${s.voices === 1 ? '' : 's'}, engine time ${(s.frames / (s.sampleRate || 1)).toFixed(1)} s`
      : 'no engine';
    this.element.dataset['peak'] = String(maxPeak);
    this.element.dataset['rms'] = String(rms);
    this.element.dataset['voices'] = String(s?.voices ?? 0);
    this.element.dataset['frames'] = String(s?.frames ?? 0);
    this.element.setAttribute('aria-valuenow', Number.isFinite(peakDb) ? peakDb.toFixed(0) : String(FLOOR_DB));
    const load = s ? s.cpuLoad : 0;
    this.cpu.textContent = `CPU ${(load * 100).toFixed(1)}%`;
    this.cpu.dataset['load'] = String(load);
  }
}
