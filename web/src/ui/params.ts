// params.ts — one slider per param of the playing patch, built from the
// patch's JSON metadata (min, max, step, unit, default).
//
// Frequencies and times that span a decade or more move logarithmically,
// so the low end is not crammed into the first pixels; everything else is
// linear. Double-click a slider to go back to the default.

import type { ParamInfo } from '../engine/layout';

const POSITIONS = 1000;

export type ParamListener = (index: number, value: number) => void;

function isLog(p: ParamInfo): boolean {
  return (p.unit === 'Hz' || p.unit === 's') && p.min > 0 && p.max / p.min >= 10;
}

function toValue(p: ParamInfo, position: number): number {
  const t = position / POSITIONS;
  let v = isLog(p) ? p.min * Math.pow(p.max / p.min, t) : p.min + t * (p.max - p.min);
  if (p.step > 0) v = p.min + Math.round((v - p.min) / p.step) * p.step;
  return Math.min(p.max, Math.max(p.min, v));
}

function toPosition(p: ParamInfo, value: number): number {
  const v = Math.min(p.max, Math.max(p.min, value));
  const t = isLog(p) ? Math.log(v / p.min) / Math.log(p.max / p.min)
    : p.max > p.min ? (v - p.min) / (p.max - p.min) : 0;
  return Math.round(t * POSITIONS);
}

export function formatValue(p: ParamInfo, v: number): string {
  switch (p.unit) {
    case 'Hz': return v >= 1000 ? `${(v / 1000).toFixed(2)} kHz` : `${v.toFixed(v < 100 ? 1 : 0)} Hz`;
    case 's': return v < 1 ? `${(v * 1000).toFixed(v < 0.01 ? 1 : 0)} ms` : `${v.toFixed(2)} s`;
    case 'dB': return `${v.toFixed(1)} dB`;
    default: return p.step >= 1 ? String(Math.round(v)) : v.toFixed(2);
  }
}

export class ParamPanel {
  readonly element: HTMLElement;
  private readonly values: number[];

  constructor(params: ParamInfo[], start: number[], onChange: ParamListener) {
    this.values = params.map((p, i) => start[i] ?? p.default);
    this.element = document.createElement('div');
    this.element.className = 'params';
    if (params.length === 0) {
      this.element.textContent = 'This patch has no params.';
      return;
    }
    params.forEach((p, i) => this.element.appendChild(this.control(p, i, onChange)));
  }

  /** The values the sliders show, by param index. */
  current(): number[] {
    return [...this.values];
  }

  private control(p: ParamInfo, i: number, onChange: ParamListener): HTMLElement {
    const row = document.createElement('label');
    row.className = 'param';
    const name = document.createElement('span');
    name.className = 'param-name';
    name.textContent = p.name;
    const slider = document.createElement('input');
    slider.type = 'range';
    slider.min = '0';
    slider.max = String(POSITIONS);
    slider.step = '1';
    slider.name = p.name;
    slider.dataset['param'] = String(p.index);
    slider.value = String(toPosition(p, this.values[i] ?? p.default));
    const shown = document.createElement('output');
    shown.className = 'param-value';
    const show = (v: number): void => {
      shown.textContent = formatValue(p, v);
      slider.setAttribute('aria-valuetext', shown.textContent);
    };
    show(this.values[i] ?? p.default);
    const set = (v: number): void => {
      this.values[i] = v;
      show(v);
      onChange(p.index, v);
    };
    slider.addEventListener('input', () => set(toValue(p, Number(slider.value))));
    slider.addEventListener('dblclick', () => {
      slider.value = String(toPosition(p, p.default));
      set(p.default);
    });
    row.append(name, slider, shown);
    return row;
  }
}
