import { EpochRow } from './api';

const SVG = 'http://www.w3.org/2000/svg';

/**
 * A small accuracy-per-epoch chart drawn by hand in SVG: `accuracy` (solid) and `val_accuracy` (dashed),
 * y from 0 to 1, x from the first to the last epoch. Colours come from JupyterLab's theme variables.
 */
export function accuracyChart(history: EpochRow[], width = 160, height = 44): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'fmc-chart');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  const frame = document.createElementNS(SVG, 'rect');
  frame.setAttribute('x', '0.5');
  frame.setAttribute('y', '0.5');
  frame.setAttribute('width', String(width - 1));
  frame.setAttribute('height', String(height - 1));
  frame.setAttribute('class', 'fmc-chart-frame');
  svg.appendChild(frame);
  const pad = 3;
  const n = history.length;
  const x = (i: number) => pad + (n <= 1 ? (width - 2 * pad) / 2 : (i * (width - 2 * pad)) / (n - 1));
  const y = (v: number) => height - pad - Math.max(0, Math.min(1, v)) * (height - 2 * pad);
  const series: [keyof EpochRow, string][] = [
    ['accuracy', 'fmc-chart-train'],
    ['val_accuracy', 'fmc-chart-val']
  ];
  const titles: string[] = [];
  for (const [key, cls] of series) {
    const points = history
      .map((e, i) => [i, e[key]] as [number, number | null])
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([i, v]) => `${x(i).toFixed(1)},${y(v as number).toFixed(1)}`);
    if (points.length === 0) {
      continue;
    }
    const line = document.createElementNS(SVG, points.length === 1 ? 'circle' : 'polyline');
    if (points.length === 1) {
      const [cx, cy] = points[0].split(',');
      line.setAttribute('cx', cx);
      line.setAttribute('cy', cy);
      line.setAttribute('r', '2');
    } else {
      line.setAttribute('points', points.join(' '));
    }
    line.setAttribute('class', cls);
    svg.appendChild(line);
    const last = history[history.length - 1][key];
    titles.push(`${key} ${last === null ? '–' : ((last as number) * 100).toFixed(1) + '%'}`);
  }
  const title = document.createElementNS(SVG, 'title');
  title.textContent = titles.join(', ') || 'no accuracy recorded';
  svg.appendChild(title);
  return svg;
}
