import { DiffLayer, DiffResult, FoldedLayers } from './api';
import { fmtCount, fmtValue, h } from './dom';
import { client } from './handler';

const COUNT_KEYS = new Set(['params', 'weights', 'params_a', 'params_b']);

function metaCell(key: string, value: unknown): string {
  if (typeof value === 'number' && COUNT_KEYS.has(key)) {
    return fmtCount(value);
  }
  if (typeof value === 'number' && (key === 'top1' || key === 'top5' || key.endsWith('accuracy'))) {
    return `${(value * 100).toFixed(1)}%`;
  }
  return fmtValue(value);
}

const STATUS_TEXT: Record<string, string> = {
  same: 'identical', frozen: 'frozen, weights identical', unfrozen: 'unfrozen, weights identical'
};

function layerName(l: DiffLayer): string {
  return l.name_a && l.name_b && l.name_a !== l.name_b ? `${l.name_a} → ${l.name_b}` : l.name_b || l.name_a || '?';
}

function layerRow(l: DiffLayer): HTMLTableRowElement {
  const params = l.params_a === l.params_b ? fmtCount(l.params_b) : `${fmtCount(l.params_a)} → ${fmtCount(l.params_b)}`;
  const type = l.type_a && l.type_b && l.type_a !== l.type_b ? `${l.type_a} → ${l.type_b}` : l.type_b || l.type_a || '';
  return h('tr', { class: `fmc-layer fmc-status-${l.status}` },
    h('td', { class: 'fmc-num fmc-muted' }, String(l.position + 1)),
    h('td', {}, h('span', { class: 'fmc-status-chip' }, l.status)),
    h('td', { class: 'fmc-layer-name' }, layerName(l)),
    h('td', {}, type),
    h('td', { class: 'fmc-num' }, params),
    h('td', { class: 'fmc-num' }, l.relative_change === null ? '–' : Number(l.relative_change.toPrecision(3)).toString()),
    h('td', { class: 'fmc-changes' }, l.changes || ''));
}

/**
 * The diff of two model versions (computed by the server in a child process, so no TensorFlow in the server):
 * the two versions' metadata side by side with the differing rows highlighted, then the layer table folded to
 * what changed: each run of identical layers is one row with its count, which opens on click.
 */
export class DiffView {
  readonly node: HTMLDivElement;

  constructor(readonly a: number | string, readonly b: number | string) {
    this.node = h('div', { class: 'fmc-diff-view' }, h('div', { class: 'fmc-muted' }, `Comparing ${a} and ${b}…`));
  }

  async load(): Promise<void> {
    try {
      this.render(await client().diffView(this.a, this.b));
    } catch (error) {
      this.node.replaceChildren(h('div', { class: 'fmc-error fmc-diff-unavailable' }, error instanceof Error ? error.message : String(error)));
    }
  }

  render(d: DiffResult): void {
    const keys = Array.from(new Set([...Object.keys(d.metadata.a), ...Object.keys(d.metadata.b)]));
    const same = (k: string) => JSON.stringify(d.metadata.a[k] ?? null) === JSON.stringify(d.metadata.b[k] ?? null);
    const differing = keys.filter(k => !same(k));
    const meta = h('table', { class: 'fmc-list fmc-meta-diff' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, d.a), h('th', {}, d.b))),
      h('tbody', {}, ...keys.map(k => h('tr', { class: same(k) ? 'fmc-same' : 'fmc-differs' },
        h('th', {}, k), h('td', {}, metaCell(k, d.metadata.a[k])), h('td', {}, metaCell(k, d.metadata.b[k]))))));
    const showSame = h('label', { class: 'fmc-toggle' }, h('input', { type: 'checkbox', class: 'fmc-show-same' }), ' show identical fields');
    const check = showSame.querySelector('input')!;
    meta.classList.add('fmc-hide-same');
    check.addEventListener('change', () => meta.classList.toggle('fmc-hide-same', !check.checked));

    const rows = d.folded ?? d.layers;
    const body = h('tbody', {});
    for (const row of rows) {
      if (row.status === 'folded') {
        const fold = row as FoldedLayers;
        const hidden = d.layers.filter(l => l.position >= fold.first && l.position <= fold.last);
        const toggle = h('button', { type: 'button', class: 'fmc-fold', 'aria-expanded': 'false' },
          `▸ ${fold.count} layers ${STATUS_TEXT[fold.folded_status] || fold.folded_status} (#${fold.first + 1}–#${fold.last + 1})`);
        const tr = h('tr', { class: 'fmc-folded' }, h('td', { colspan: '7' }, toggle));
        toggle.addEventListener('click', () => {
          const rowsNow = hidden.map(layerRow);
          tr.replaceWith(...rowsNow);
        });
        body.appendChild(tr);
      } else {
        body.appendChild(layerRow(row as DiffLayer));
      }
    }
    const changed = d.layers.filter(l => l.status !== 'same').length;
    const layers = h('table', { class: 'fmc-list fmc-layer-diff' },
      h('thead', {}, h('tr', {}, ...['#', 'status', 'layer', 'type', 'params', 'rel. change', 'what changed'].map(t => h('th', {}, t)))), body);
    const parts: (HTMLElement | null)[] = [
      h('h2', { class: 'fmc-diff-title' }, h('span', { class: 'fmc-nowrap' }, d.a), ' → ', h('span', { class: 'fmc-nowrap' }, d.b)),
      h('p', { class: 'fmc-diff-summary' }, h('strong', {}, d.summary)),
      d.relation ? h('p', { class: 'fmc-muted' }, d.relation) : null,
      ...d.notes.map(n => h('p', { class: 'fmc-note' }, n)),
      h('section', { class: 'fmc-section' }, h('h4', {}, `Metadata (${differing.length} of ${keys.length} fields differ)`), showSame, meta),
      h('section', { class: 'fmc-section' }, h('h4', {}, `Layers (${changed} of ${d.layers.length} differ)`), h('div', { class: 'fmc-scroll-x' }, layers))];
    this.node.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
  }
}
