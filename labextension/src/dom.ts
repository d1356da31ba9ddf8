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

export function fmtParams(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '–';
  }
  return value >= 1e5 ? `${(value / 1e6).toFixed(2)}M` : `${Math.round(value).toLocaleString()}`;
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
