import { ModelPage, ModelRow } from './api';
import { fmtParams, fmtPercent, h } from './dom';

export const ROW_HEIGHT = 24;
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
  { key: 'params', title: 'Params', cell: m => fmtParams(m.params), numeric: true },
  { key: 'size', title: 'MB', cell: m => (m.size_mb === null ? '–' : m.size_mb.toFixed(1)), numeric: true },
  { key: 'top1', title: 'Top-1', cell: m => fmtPercent(m.top1), numeric: true }
];

/**
 * A virtualised results table: only the rows in view (plus a margin) exist in the DOM, and rows are
 * fetched in pages of 200 as they scroll into view, so 10,000 models cost the same as 20.
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
    this.node = h('div', { class: 'fmc-table', role: 'table' }, this.header, this.viewport);
    this.viewport.addEventListener('scroll', () => this.render());
    this.renderHeader();
  }

  private renderHeader(): void {
    this.header.replaceChildren(
      ...COLUMNS.map(col => {
        const arrow = this.order === col.key ? ' ▲' : this.order === `-${col.key}` ? ' ▼' : '';
        const cell = h('div', { class: `fmc-cell fmc-col-${col.key}${col.numeric ? ' fmc-num' : ''}`, role: 'columnheader',
          title: `order by ${col.key}` }, col.title + arrow);
        cell.addEventListener('click', () => {
          const next = this.order === `-${col.key}` ? col.key : `-${col.key}`;
          this.order = col.numeric ? next : this.order === col.key ? `-${col.key}` : col.key;
          this.renderHeader();
          this.onOrder(this.order);
        });
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
          this.spacer.style.height = `${this.total * ROW_HEIGHT}px`;
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
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.total, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
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
    for (const index of missing) {
      void this.ensurePage(index).then(() => this.render());
    }
  }

  private renderRow(index: number, model: ModelRow | undefined): HTMLElement {
    const row = h('div', { class: 'fmc-row fmc-result', role: 'row' });
    row.style.top = `${index * ROW_HEIGHT}px`;
    if (!model) {
      row.classList.add('fmc-loading');
      row.appendChild(h('div', { class: 'fmc-cell' }, '…'));
      return row;
    }
    row.dataset.modelId = String(model.id);
    row.title = model.description || `${model.name}:v${model.version}`;
    for (const col of COLUMNS) {
      row.appendChild(h('div', { class: `fmc-cell fmc-col-${col.key}${col.numeric ? ' fmc-num' : ''}`, role: 'cell' }, col.cell(model)));
    }
    if (model.visibility === 'private') {
      row.classList.add('fmc-private');
    }
    row.addEventListener('click', () => this.onOpen(model));
    return row;
  }
}
