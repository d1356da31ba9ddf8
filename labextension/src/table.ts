import { ModelPage, ModelRow } from './api';
import { fmtCount, fmtMBNumber, fmtPercent, h } from './dom';

/** Row heights: two lines (name, then facts) in a narrow side bar; one line of columns when wide. */
export const ROW_HEIGHT = { compact: 40, wide: 26 };
/** Wider than this (px), the table shows columns instead of two-line rows. */
export const WIDE_AT = 480;
const PAGE = 200;
const OVERSCAN = 10;

export interface Column {
  key: string; // order field of the query language
  title: string;
  cell: (m: ModelRow) => string;
  numeric?: boolean;
}

export const COLUMNS: Column[] = [
  { key: 'name', title: 'Model', cell: m => `${m.name}:v${m.version}` },
  { key: 'family', title: 'Family', cell: m => m.family || '–' },
  { key: 'domain', title: 'Domain', cell: m => m.domain || '–' },
  { key: 'params', title: 'Params', cell: m => fmtCount(m.params), numeric: true },
  { key: 'size', title: 'MB', cell: m => (m.size_mb === null ? '–' : fmtMBNumber(m.size_mb)), numeric: true },
  { key: 'top1', title: 'Top-1', cell: m => fmtPercent(m.top1), numeric: true }
];
/** What the narrow layout can sort by (its header is a row of sort buttons). */
const COMPACT_SORT = ['name', 'params', 'size', 'top1'];

/** The key facts of a model on one short line: "4.3M params · 17 MB · top-1 71.8% · mobilenet · natural". */
export function facts(m: ModelRow): string {
  const parts = [m.params !== null ? `${fmtCount(m.params)} params` : null,
    m.size_mb !== null ? `${COLUMNS[4].cell(m)} MB` : null,
    m.top1 !== null ? `top-1 ${fmtPercent(m.top1)}` : null, m.family, m.domain];
  return parts.filter(p => p).join(' · ') || m.source_kind;
}

/**
 * A virtualised results table: only the rows in view (plus a margin) exist in the DOM, and rows are
 * fetched in pages of 200 as they scroll into view, so 10,000 models cost the same as 20.
 * Narrow (a side bar): two-line rows, sort buttons on top. Wide: one line of columns, sortable headers.
 * Rows and headers are buttons for the keyboard (Tab, Enter; arrows move between rows).
 */
export class ResultsTable {
  readonly node: HTMLDivElement;
  private readonly header: HTMLDivElement;
  private readonly viewport: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private pages = new Map<number, ModelRow[]>();
  private pending = new Map<number, Promise<void>>();
  private total = 0;
  private generation = 0;
  private wide = false;
  order = '-top1';

  constructor(
    private readonly fetchPage: (offset: number, limit: number, order: string) => Promise<ModelPage>,
    private readonly onOpen: (row: ModelRow) => void,
    private readonly onOrder: (order: string) => void,
    private readonly onTotal: (total: number) => void
  ) {
    this.header = h('div', { class: 'fmc-row fmc-head', role: 'row' });
    this.viewport = h('div', { class: 'fmc-viewport', role: 'rowgroup' });
    this.spacer = h('div', { class: 'fmc-spacer' });
    this.viewport.appendChild(this.spacer);
    this.node = h('div', { class: 'fmc-results', role: 'table', 'aria-label': 'models' }, this.header, this.viewport);
    this.viewport.addEventListener('scroll', () => this.render());
    this.viewport.addEventListener('keydown', event => this.onKey(event));
    this.renderHeader();
  }

  get rowHeight(): number {
    return this.wide ? ROW_HEIGHT.wide : ROW_HEIGHT.compact;
  }

  /** Empty the table (after a bad query): no rows, no total. */
  clear(): void {
    this.generation += 1;
    this.pages.clear();
    this.pending.clear();
    this.total = 0;
    this.spacer.style.height = '0px';
    this.spacer.replaceChildren();
  }

  private sortBy(key: string, numeric: boolean): void {
    if (numeric) {
      this.order = this.order === `-${key}` ? key : `-${key}`;
    } else {
      this.order = this.order === key ? `-${key}` : key;
    }
    this.renderHeader();
    this.onOrder(this.order);
  }

  private renderHeader(): void {
    const arrow = (key: string) => (this.order === key ? ' ▲' : this.order === `-${key}` ? ' ▼' : '');
    const cols = this.wide ? COLUMNS : COLUMNS.filter(c => COMPACT_SORT.includes(c.key));
    this.header.classList.toggle('fmc-sortbar', !this.wide);
    this.header.replaceChildren(
      ...(this.wide ? [] : [h('span', { class: 'fmc-muted fmc-sort-label' }, 'sort')]),
      ...cols.map(col => {
        const sorted = this.order === col.key || this.order === `-${col.key}`;
        const cell = h('button', {
          type: 'button', class: `fmc-cell fmc-sort fmc-col-${col.key}${col.numeric && this.wide ? ' fmc-num' : ''}${sorted ? ' fmc-sorted' : ''}`,
          role: 'columnheader', title: `order by ${col.key}`,
          'aria-sort': this.order === col.key ? 'ascending' : this.order === `-${col.key}` ? 'descending' : 'none'
        }, (this.wide ? col.title : col.title.replace('Model', 'Name')) + arrow(col.key));
        cell.addEventListener('click', () => this.sortBy(col.key, !!col.numeric));
        return cell;
      })
    );
  }

  /** Forget every fetched page and load the first one again (new query, new order, or the registry changed). */
  async reload(): Promise<void> {
    this.generation += 1;
    this.pages.clear();
    this.pending.clear();
    await this.ensurePage(0);
    this.render();
  }

  private ensurePage(index: number): Promise<void> {
    if (this.pages.has(index)) {
      return Promise.resolve();
    }
    let promise = this.pending.get(index);
    if (!promise) {
      const generation = this.generation;
      promise = this.fetchPage(index * PAGE, PAGE, this.order).then(page => {
        if (generation !== this.generation) {
          return;
        }
        this.pages.set(index, page.models);
        this.pending.delete(index);
        if (page.total !== this.total || index === 0) {
          this.total = page.total;
          this.onTotal(this.total);
        }
      });
      promise.catch(() => this.pending.delete(index));
      this.pending.set(index, promise);
    }
    return promise;
  }

  /** Draw the rows in view; fetch the pages they live on if they are not here yet. */
  render(): void {
    const width = this.node.clientWidth;
    const wide = width >= WIDE_AT;
    if (width > 0 && wide !== this.wide) {
      const firstRow = Math.floor(this.viewport.scrollTop / this.rowHeight);
      this.wide = wide;
      this.node.classList.toggle('fmc-wide', wide);
      this.renderHeader();
      this.viewport.scrollTop = firstRow * this.rowHeight;
    }
    const rh = this.rowHeight;
    this.spacer.style.height = `${this.total * rh}px`;
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / rh) - OVERSCAN);
    const last = Math.min(this.total, Math.ceil((top + height) / rh) + OVERSCAN);
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.index;
    const rows: HTMLElement[] = [];
    const missing = new Set<number>();
    for (let i = first; i < last; i++) {
      const page = this.pages.get(Math.floor(i / PAGE));
      const model = page ? page[i % PAGE] : undefined;
      if (!page) {
        missing.add(Math.floor(i / PAGE));
      }
      rows.push(this.renderRow(i, model));
    }
    this.spacer.replaceChildren(...rows);
    if (focused !== undefined && this.node.contains(document.activeElement) === false) {
      this.spacer.querySelector<HTMLElement>(`[data-index="${focused}"]`)?.focus();
    }
    for (const index of missing) {
      void this.ensurePage(index).then(() => this.render());
    }
  }

  private renderRow(index: number, model: ModelRow | undefined): HTMLElement {
    const row = h('div', { class: 'fmc-row fmc-result', role: 'row' });
    row.style.top = `${index * this.rowHeight}px`;
    row.style.height = `${this.rowHeight}px`;
    row.dataset.index = String(index);
    if (!model) {
      row.classList.add('fmc-loading');
      row.appendChild(h('div', { class: 'fmc-cell' }, '…'));
      return row;
    }
    row.tabIndex = 0;
    row.dataset.modelId = String(model.id);
    const ref = `${model.name}:v${model.version}`;
    row.title = model.description ? `${ref}\n${model.description}` : ref;
    row.setAttribute('aria-label', `${ref}, ${facts(model)}${model.visibility === 'private' ? ', private' : ''}`);
    const privateMark = model.visibility === 'private'
      ? h('span', { class: 'fmc-private-mark', title: 'private: only you can see this model (publish it from its card)' }, 'private')
      : null;
    if (this.wide) {
      for (const col of COLUMNS) {
        const cell = h('div', { class: `fmc-cell fmc-col-${col.key}${col.numeric ? ' fmc-num' : ''}`, role: 'cell' }, col.cell(model));
        if (col.key === 'name' && privateMark) {
          cell.append(' ', privateMark);
        }
        row.appendChild(cell);
      }
    } else {
      row.append(
        h('div', { class: 'fmc-cell fmc-line1 fmc-col-name', role: 'cell' }, h('span', { class: 'fmc-name' }, ref), privateMark),
        h('div', { class: 'fmc-cell fmc-line2 fmc-muted', role: 'cell' }, facts(model)));
    }
    if (model.visibility === 'private') {
      row.classList.add('fmc-private');
    }
    row.addEventListener('click', () => this.onOpen(model));
    return row;
  }

  private onKey(event: KeyboardEvent): void {
    const row = (event.target as HTMLElement).closest<HTMLElement>('.fmc-result');
    if (!row || row.dataset.index === undefined) {
      return;
    }
    const index = Number(row.dataset.index);
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      row.click();
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = Math.max(0, Math.min(this.total - 1, index + (event.key === 'ArrowDown' ? 1 : -1)));
      const rh = this.rowHeight;
      if (next * rh < this.viewport.scrollTop) {
        this.viewport.scrollTop = next * rh;
      } else if ((next + 1) * rh > this.viewport.scrollTop + this.viewport.clientHeight) {
        this.viewport.scrollTop = (next + 1) * rh - this.viewport.clientHeight;
      }
      this.render();
      this.spacer.querySelector<HTMLElement>(`[data-index="${next}"]`)?.focus();
    }
  }
}
