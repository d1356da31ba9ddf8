import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { Facets, Fields, ModelPage, ModelRow, VersionInfo } from './api';
import { CardHost, ModelCard } from './card';
import { h } from './dom';
import { ApiError, requestAPI } from './handler';
import { ResultsTable } from './table';

const POLL_MS = 4000;

/** Quick filters: each adds one clause of the query language (the same text a user could type). */
const SIZE_FILTERS: [string, string][] = [
  ['', 'any params'], ['params<5M', '< 5M params'], ['params<25M', '< 25M params'], ['params>=25M', '≥ 25M params']
];
const MB_FILTERS: [string, string][] = [['', 'any size'], ['size<20MB', '< 20 MB'], ['size<100MB', '< 100 MB']];
const TOP1_FILTERS: [string, string][] = [['', 'any top-1'], ['top1>=70%', 'top-1 ≥ 70%'], ['top1>=80%', 'top-1 ≥ 80%']];

/**
 * The "Find My CNN" side panel: query box with field hints, quick filters, a virtualised results table,
 * and the model card. It polls `/fmc/api/version` and reloads when the registry file changes.
 */
export class FmcPanel extends Widget implements CardHost {
  user = '';
  private readonly input: HTMLInputElement;
  private readonly hints: HTMLDivElement;
  private readonly error: HTMLDivElement;
  private readonly summary: HTMLDivElement;
  private readonly filters: Record<string, HTMLSelectElement> = {};
  private readonly table: ResultsTable;
  private readonly listView: HTMLDivElement;
  private readonly cardView: HTMLDivElement;
  private card: ModelCard | null = null;
  private fields: Fields = { fields: [], aliases: {} };
  private stamp = '';
  private timer = 0;
  private debounce = 0;
  private started = false;
  /** ms from the panel being shown to its first rows in the DOM (read by benchmarks/panel.py). */
  firstRowsMs = -1;

  constructor(private readonly insert: (code: string) => string | null) {
    super();
    this.id = 'fmc-jupyter-panel';
    this.addClass('fmc-panel');
    this.title.caption = 'Find My CNN';
    this.input = h('input', { class: 'jp-mod-styled fmc-query', type: 'search', spellcheck: 'false',
      placeholder: 'domain=medical and params<5M and top1>70%', 'aria-label': 'model query' });
    this.hints = h('div', { class: 'fmc-hints' });
    this.error = h('div', { class: 'fmc-error fmc-query-error', role: 'alert' });
    this.summary = h('div', { class: 'fmc-summary fmc-muted' });
    this.table = new ResultsTable(
      (offset, limit, order) => requestAPI<ModelPage>('models', { q: this.query(), order, offset, limit }),
      row => this.openCard(row),
      () => void this.search(),
      total => (this.summary.textContent = `${total.toLocaleString()} model${total === 1 ? '' : 's'}`)
    );
    const filterBar = h('div', { class: 'fmc-filters' });
    for (const [name, options] of [['domain', [['', 'any domain']]], ['family', [['', 'any family']]],
      ['params', SIZE_FILTERS], ['size', MB_FILTERS], ['top1', TOP1_FILTERS]] as [string, [string, string][]][]) {
      const select = h('select', { class: `fmc-filter fmc-filter-${name}`, 'aria-label': name },
        ...options.map(([value, label]) => h('option', { value }, label)));
      select.addEventListener('change', () => void this.search());
      this.filters[name] = select;
      filterBar.appendChild(select);
    }
    this.listView = h('div', { class: 'fmc-list-view' }, this.hints, this.error, filterBar, this.summary, this.table.node);
    this.cardView = h('div', { class: 'fmc-card-view' });
    this.cardView.hidden = true;
    this.node.append(h('div', { class: 'fmc-header' }, h('div', { class: 'fmc-brand' }, 'Find My CNN'), this.input),
      this.listView, this.cardView);
    this.input.addEventListener('input', () => {
      this.showHints();
      window.clearTimeout(this.debounce);
      this.debounce = window.setTimeout(() => void this.search(), 300);
    });
    this.input.addEventListener('focus', () => this.showHints());
    this.input.addEventListener('blur', () => this.hints.replaceChildren());
    this.input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        window.clearTimeout(this.debounce);
        void this.search();
      }
    });
  }

  /** The user's query joined with the quick filters, as one query-language string. */
  query(): string {
    const typed = this.input.value.trim();
    const clauses = typed ? [`(${typed})`] : [];
    for (const [name, select] of Object.entries(this.filters)) {
      if (!select.value) {
        continue;
      }
      clauses.push(name === 'domain' || name === 'family' ? `${name}=${JSON.stringify(select.value)}` : select.value);
    }
    return clauses.join(' and ');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this.started) {
      this.started = true;
      void this.start();
    } else {
      this.table.render();
    }
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this.table.render();
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  private async start(): Promise<void> {
    const shownAt = performance.now();
    const info = requestAPI<VersionInfo>('version');
    void requestAPI<Fields>('fields').then(fields => {
      this.fields = fields;
      this.showHints();
    });
    void requestAPI<Facets>('facets').then(facets => this.fillFacets(facets)).catch(() => undefined);
    await this.search();
    this.firstRowsMs = performance.now() - shownAt;
    this.node.dataset.firstRowsMs = this.firstRowsMs.toFixed(1);
    try {
      const version = await info;
      this.user = version.user;
      this.stamp = version.stamp;
    } catch {
      /* the poll below reports trouble */
    }
    this.timer = window.setInterval(() => void this.poll(), POLL_MS);
  }

  private fillFacets(facets: Facets): void {
    for (const name of ['domain', 'family'] as const) {
      const select = this.filters[name];
      for (const value of facets[name]) {
        select.appendChild(h('option', { value }, value));
      }
    }
  }

  /** Reload when another kernel, user or process changed the registry. */
  private async poll(): Promise<void> {
    if (!this.isVisible) {
      return;
    }
    try {
      const version = await requestAPI<VersionInfo>('version');
      this.user = version.user;
      if (version.stamp !== this.stamp) {
        this.stamp = version.stamp;
        await this.table.reload();
        if (this.card && !this.cardView.hidden) {
          await this.card.load();
        }
      }
    } catch {
      /* keep the last view; the next poll tries again */
    }
  }

  async search(): Promise<void> {
    try {
      await this.table.reload();
      this.error.replaceChildren();
      this.input.classList.remove('fmc-invalid');
    } catch (error) {
      this.showError(error);
    }
  }

  private showError(error: unknown): void {
    this.input.classList.add('fmc-invalid');
    if (!(error instanceof ApiError)) {
      this.error.replaceChildren(String(error));
      return;
    }
    const body = error.body;
    const parts: (Node | string)[] = [h('div', {}, body.message || error.message)];
    if (body.query && body.position !== null && body.position !== undefined) {
      // the error's position is in the combined query; show that query with a caret under the column
      parts.push(h('pre', { class: 'fmc-caret' }, `${body.query}\n${' '.repeat(body.position)}^`));
    }
    this.error.replaceChildren(...parts);
  }

  /** Field names (and aliases) starting with the word being typed, as clickable chips. */
  private showHints(): void {
    const value = this.input.value;
    const caret = this.input.selectionStart ?? value.length;
    const word = /[A-Za-z_0-9-]*$/.exec(value.slice(0, caret))?.[0].toLowerCase() || '';
    const matching = this.fields.fields.filter(f => f.name.startsWith(word));
    const aliases = word ? Object.entries(this.fields.aliases).filter(([a]) => a.startsWith(word) && a !== word) : [];
    const chips = [
      ...matching.map(f => [f.name, `${f.name}: ${f.help}`]),
      ...aliases.map(([a, target]) => [a, `${a} means ${target}`])
    ].slice(0, word ? 12 : 40);
    this.hints.replaceChildren(
      h('span', { class: 'fmc-muted' }, word && chips.length ? 'fields: ' : chips.length ? 'fields: ' : ''),
      ...chips.map(([name, help]) => {
        const chip = h('button', { class: 'fmc-chip', title: help, type: 'button' }, name);
        chip.addEventListener('mousedown', event => event.preventDefault()); // keep the focus in the query box
        chip.addEventListener('click', () => {
          const before = value.slice(0, caret - word.length);
          this.input.value = `${before}${name}${value.slice(caret)}`;
          this.input.focus();
          const at = before.length + name.length;
          this.input.setSelectionRange(at, at);
          this.showHints();
        });
        return chip;
      })
    );
  }

  openCard(row: ModelRow | number): void {
    this.card = new ModelCard(this, typeof row === 'number' ? row : row.id);
    this.cardView.replaceChildren(this.card.node);
    this.listView.hidden = true;
    this.cardView.hidden = false;
    void this.card.load();
  }

  back(): void {
    this.cardView.hidden = true;
    this.listView.hidden = false;
    this.table.render();
  }

  insertCode(code: string): string | null {
    return this.insert(code);
  }
}
