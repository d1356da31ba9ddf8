import { EpochRow } from './api';

const SVG = 'http://www.w3.org/2000/svg';

export interface Series {
  label: string;
  /** `[epoch, value]` points; epochs count from 1. */
  points: [number, number][];
  /** colour index (0..7, theme-aware classes `fmc-c0`..`fmc-c7`) */
  color: number;
  dashed?: boolean;
}

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** About `count` round tick values covering `[lo, hi]`. */
export function niceTicks(lo: number, hi: number, count = 4): number[] {
  if (!(hi > lo)) {
    return [lo];
  }
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(6)));
  }
  return ticks;
}

/**
 * A line chart in SVG with axes, tick labels, axis titles and a legend: x is the epoch (integer ticks, from 1),
 * y the metric. Colours come from theme-aware CSS classes, so it reads in light and dark themes.
 */
export function lineChart(series: Series[], opts: { title: string; yLabel: string; percent?: boolean; width?: number; height?: number }): SVGSVGElement {
  const width = opts.width ?? 360;
  const height = opts.height ?? 200;
  const left = 42, right = 8, top = 18, bottom = 30;
  const shown = series.filter(s => s.points.length > 0);
  const legendRows = Math.ceil(shown.length / 2);
  const legendH = legendRows * 14 + 4;
  const svg = el('svg', { class: 'fmc-chart', width, height: height + legendH, viewBox: `0 0 ${width} ${height + legendH}`, role: 'img' });
  svg.appendChild(el('title', {}, `${opts.title}: ${shown.map(s => s.label).join(', ') || 'no data'}`));
  svg.appendChild(el('text', { x: left, y: 12, class: 'fmc-chart-title' }, opts.title));
  const xs = shown.flatMap(s => s.points.map(p => p[0]));
  const ys = shown.flatMap(s => s.points.map(p => p[1])).filter(v => Number.isFinite(v));
  const x0 = xs.length ? Math.min(...xs) : 1;
  const x1 = xs.length ? Math.max(...xs, x0 + 1) : 2;
  let y0 = ys.length ? Math.min(...ys) : 0;
  let y1 = ys.length ? Math.max(...ys) : 1;
  if (opts.percent) {
    y0 = Math.max(0, Math.floor(y0 * 10) / 10);
    y1 = Math.min(1, Math.ceil(y1 * 10) / 10);
  } else {
    y0 = Math.min(0, y0);
  }
  if (y1 <= y0) {
    y1 = y0 + 1;
  }
  const X = (v: number) => left + ((v - x0) / (x1 - x0)) * (width - left - right);
  const Y = (v: number) => top + (1 - (v - y0) / (y1 - y0)) * (height - top - bottom);
  const axes = el('g', { class: 'fmc-chart-axes' });
  axes.appendChild(el('line', { x1: left, y1: Y(y0), x2: width - right, y2: Y(y0) }));
  axes.appendChild(el('line', { x1: left, y1: top, x2: left, y2: Y(y0) }));
  const step = Math.max(1, Math.ceil((x1 - x0) / 8));
  for (let e = Math.ceil(x0); e <= x1; e += step) {
    axes.appendChild(el('line', { x1: X(e), y1: Y(y0), x2: X(e), y2: Y(y0) + 3 }));
    axes.appendChild(el('text', { x: X(e), y: Y(y0) + 13, 'text-anchor': 'middle' }, String(e)));
  }
  for (const t of niceTicks(y0, y1)) {
    axes.appendChild(el('line', { x1: left, y1: Y(t), x2: width - right, y2: Y(t), class: 'fmc-chart-grid' }));
    axes.appendChild(el('text', { x: left - 4, y: Y(t) + 3, 'text-anchor': 'end' }, opts.percent ? `${Math.round(t * 100)}%` : String(Number(t.toPrecision(3)))));
  }
  axes.appendChild(el('text', { x: (left + width - right) / 2, y: height - 4, 'text-anchor': 'middle', class: 'fmc-chart-label' }, 'epoch'));
  axes.appendChild(el('text', { x: 10, y: (top + height - bottom) / 2, 'text-anchor': 'middle', class: 'fmc-chart-label',
    transform: `rotate(-90 10 ${(top + height - bottom) / 2})` }, opts.yLabel));
  svg.appendChild(axes);
  for (const s of shown) {
    const cls = `fmc-line fmc-c${s.color % 8}${s.dashed ? ' fmc-dashed' : ''}`;
    if (s.points.length === 1) {
      svg.appendChild(el('circle', { cx: X(s.points[0][0]), cy: Y(s.points[0][1]), r: 3, class: cls }));
    } else {
      svg.appendChild(el('polyline', { points: s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' '), class: cls }));
    }
  }
  shown.forEach((s, i) => {
    const lx = 8 + (i % 2) * (width / 2);
    const ly = height + 10 + Math.floor(i / 2) * 14;
    const g = el('g', { class: 'fmc-legend-item' });
    g.appendChild(el('line', { x1: lx, y1: ly - 3, x2: lx + 16, y2: ly - 3, class: `fmc-line fmc-c${s.color % 8}${s.dashed ? ' fmc-dashed' : ''}` }));
    g.appendChild(el('text', { x: lx + 20, y: ly }, s.label));
    svg.appendChild(g);
  });
  return svg;
}

/** Series of one metric (`loss` or `accuracy`) of a run's history: training solid, validation dashed. */
export function runSeries(history: EpochRow[], metric: 'loss' | 'accuracy', label: string, color: number): Series[] {
  const pick = (key: keyof EpochRow): [number, number][] =>
    history.filter(e => e[key] !== null && e[key] !== undefined).map(e => [Number(e.epoch) + 1, Number(e[key])]);
  return [
    { label: `${label} train`, points: pick(metric), color },
    { label: `${label} val`, points: pick(`val_${metric}` as keyof EpochRow), color, dashed: true }
  ];
}
