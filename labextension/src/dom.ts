/**
 * Tiny DOM helpers. Registry text only ever goes into `textContent` or attributes, never `innerHTML`.
 */

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') {
      el.className = value;
    } else {
      el.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

export function fmtPercent(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : `${(value * 100).toFixed(1)}%`;
}

/** A count the way people say it: 950, 12K, 350K, 4.3M, 1.2B (3 significant digits at most). */
export function fmtCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '–';
  }
  const abs = Math.abs(value);
  for (const [scale, unit] of [[1e9, 'B'], [1e6, 'M'], [1e3, 'K']] as [number, string][]) {
    if (abs >= scale * 0.9995) {
      const n = value / scale;
      return `${Number(n.toPrecision(abs / scale >= 100 ? 3 : 2))}${unit}`;
    }
  }
  return String(Math.round(value));
}

export const fmtParams = fmtCount;

/** Megabytes: 0.9 MB, 14 MB, 528 MB. */
export function fmtMB(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '–';
  }
  return `${fmtMBNumber(value)} MB`;
}

/** The number part of `fmtMB`: <0.01, 0.47, 3.5, 17, 528. */
export function fmtMBNumber(value: number): string {
  if (value < 0.01) {
    return value > 0 ? '<0.01' : '0';
  }
  return value < 10 ? String(Number(value.toPrecision(2))) : String(Math.round(value));
}

/** The date part of an ISO timestamp (or '–'). */
export function fmtDate(value: string | null | undefined): string {
  return value ? value.slice(0, 10) : '–';
}

export function fmtValue(value: unknown): string {
  if (value === null || value === undefined || value === '') {
    return '–';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  if (typeof value === 'object') {
    const text = JSON.stringify(value);
    return text.length > 160 ? text.slice(0, 157) + '...' : text;
  }
  return String(value);
}

/** A two-column key/value table of plain text. */
export function kvTable(pairs: [string, string][]): HTMLTableElement {
  return h('table', { class: 'fmc-kv' }, ...pairs.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))));
}
