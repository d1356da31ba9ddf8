import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { FacetCounts, Fields, ModelRow } from './api';
import { ModelHost, ModelView } from './card';
import { DatasetsView } from './datasets';
import { h } from './dom';
import { ApiError, client } from './handler';
import { ResultsTable } from './table';

const POLL_MS = 4000;

/** Quick filters from the facet counts: [filter name, query field, label of "any"]. */
type FacetName = Exclude<keyof FacetCounts, 'total'>;
const FACETS: [FacetName, string, string][] = [
  ['task', 'task', 'any task'], ['domain', 'domain', 'any domain'], ['license', 'license', 'any license'],
  ['source', 'source', 'any source'], ['family', 'family', 'any family']
];
/** Range filters: each adds one clause of the query language (the same text a user could type). */
const RANGES: [string, [string, string][]][] = [
  ['params', [['', 'any params'], ['params<5M', '< 5M params'], ['params<25M', '< 25M params'], ['params>=25M', '≥ 25M params']]],
  ['size', [['', 'any size'], ['size<20MB', '< 20 MB'], ['size<100MB', '< 100 MB']]],
  ['top1', [['', 'any top-1'], ['top1>=70%', 'top-1 ≥ 70%'], ['top1>=80%', 'top-1 ≥ 80%']]]
];

/** What the panel asks of the application (index.ts): notebook cells and main-area views. */
export interface PanelActions {
  insertCell(code: string): string | null;
  openPage(id: number): void;
  openDiff(a: number, b: number): void;
  /** the registry changed: reload whatever else shows registry data */
  changed(): void;
}

/** The word being typed at the caret if it stands where a field name goes (not a value), else ''. */
export function fieldWordAt(value: string, caret: number): string {
  const before = value.slice(0, caret);
  const m = /(^|[\s(])([A-Za-z_][A-Za-z_0-9]*)$/.exec(before);
  if (!m) {
    return '';
  }
  const rest = before.slice(0, before.length - m[2].length).trimEnd();
  if (/[=<>~!]$/.test(rest)) {
    return ''; // a value after an operator
  }
  // after a complete `field op value` clause a bare word is and/or/not or a search word: still offer fields
  return m[2].toLowerCase();
}

/**
 * The "Find My CNN" side panel: query box with field hints (an overlay that never moves the list), compact
 * filters with counts, a virtualised results table that reads at 250 px, the model card, and the datasets view
 * with leaderboards. It polls `/fmc/api/version` and reloads when the registry changes.
 */
export class FmcPanel extends Widget implements ModelHost {
  user = '';
  private readonly input: HTMLInputElement;
  private readonly hints: HTMLDivElement;
  private readonly error: HTMLDivElement;
  private readonly banner: HTMLDivElement;
  private readonly summary: HTMLDivElement;
  private readonly filters: Record<string, HTMLSelectElement> = {};
  private readonly mine: HTMLInputElement;
  private readonly filterToggle: HTMLButtonElement;
  private readonly filterBox: HTMLDivElement;
  private readonly table: ResultsTable;
  private readonly listView: HTMLDivElement;
  private readonly cardView: HTMLDivElement;
  private readonly datasets: DatasetsView;
  private readonly tabs: Record<'models' | 'datasets', HTMLButtonElement>;
  private card: ModelView | null = null;
  private fields: Fields = { fields: [], aliases: {} };
  private stamp = '';
  private timer = 0;
  private debounce = 0;
  private started = false;
  /** ms from the panel being shown to its first rows in the DOM (read by benchmarks/panel.py). */
  firstRowsMs = -1;

  constructor(private readonly actions: PanelActions) {
    super();
    this.id = 'fmc-jupyter-panel';
    this.addClass('fmc-lab');
    this.addClass('fmc-panel');
    this.title.caption = 'Find My CNN';
    this.input = h('input', { class: 'jp-mod-styled fmc-query', type: 'search', spellcheck: 'false',
      placeholder: 'domain=medical and params<5M', 'aria-label': 'model query',
      title: 'field op value, joined by and / or / not; bare words search names and descriptions' });
    this.hints = h('div', { class: 'fmc-hints', role: 'listbox', 'aria-label': 'query fields' });
    this.hints.hidden = true;
    this.error = h('div', { class: 'fmc-error fmc-query-error', role: 'alert' });
    this.banner = h('div', { class: 'fmc-banner', role: 'alert' });
    this.summary = h('div', { class: 'fmc-summary fmc-muted', 'aria-live': 'polite' });
    this.table = new ResultsTable(
      (offset, limit, order) => client().models(this.query(), order, offset, limit),
      row => this.openCard(row),
      () => void this.search(),
      total => this.showTotal(total)
    );
    this.mine = h('input', { type: 'checkbox', class: 'fmc-mine' });
    this.mine.addEventListener('change', () => void this.search());
    this.filterToggle = h('button', { type: 'button', class: 'fmc-filter-toggle', 'aria-expanded': 'false' }, 'Filters');
    this.filterBox = h('div', { class: 'fmc-filter-box' });
    this.filterBox.hidden = true;
    this.filterToggle.addEventListener('click', () => {
      this.filterBox.hidden = !this.filterBox.hidden;
      this.filterToggle.setAttribute('aria-expanded', String(!this.filterBox.hidden));
      this.table.render();
    });
    for (const [name, , any] of FACETS) {
      this.addFilter(name, [['', any]]);
    }
    for (const [name, options] of RANGES) {
      this.addFilter(name, options);
    }
    const bar = h('div', { class: 'fmc-filters' }, this.filterToggle,
      h('label', { class: 'fmc-mine-label', title: 'only models you registered' }, this.mine, ' mine'), this.summary);
    this.listView = h('div', { class: 'fmc-list-view' }, this.error, bar, this.filterBox, this.table.node);
    this.cardView = h('div', { class: 'fmc-card-view' });
    this.cardView.hidden = true;
    this.datasets = new DatasetsView(id => this.actions.openPage(id));
    this.datasets.node.hidden = true;
    this.tabs = {
      models: h('button', { type: 'button', class: 'fmc-tab fmc-tab-active', 'aria-pressed': 'true' }, 'Models'),
      datasets: h('button', { type: 'button', class: 'fmc-tab', 'aria-pressed': 'false' }, 'Datasets')
    };
    this.tabs.models.addEventListener('click', () => this.showView('models'));
    this.tabs.datasets.addEventListener('click', () => this.showView('datasets'));
    const queryBox = h('div', { class: 'fmc-query-box' }, this.input, this.hints);
    this.node.append(h('div', { class: 'fmc-header' },
      h('div', { class: 'fmc-brand-row' }, h('div', { class: 'fmc-brand' }, 'Find My CNN'), h('div', { class: 'fmc-tabs' }, this.tabs.models, this.tabs.datasets)),
      this.banner, queryBox), this.listView, this.cardView, this.datasets.node);
    this.input.addEventListener('input', () => {
      this.showHints();
      window.clearTimeout(this.debounce);
      this.debounce = window.setTimeout(() => void this.search(), 300);
    });
    this.input.addEventListener('click', () => this.showHints());
    this.input.addEventListener('blur', () => this.hideHints());
    this.input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        window.clearTimeout(this.debounce);
        this.hideHints();
        void this.search();
      } else if (event.key === 'Escape') {
        this.hideHints();
      }
    });
  }

  private addFilter(name: string, options: [string, string][]): void {
    const select = h('select', { class: `fmc-filter fmc-filter-${name}`, 'aria-label': name },
      ...options.map(([value, label]) => h('option', { value }, label)));
    select.addEventListener('change', () => void this.search());
    this.filters[name] = select;
    this.filterBox.appendChild(select);
  }

  private showView(view: 'models' | 'datasets'): void {
    for (const [name, tab] of Object.entries(this.tabs)) {
      tab.classList.toggle('fmc-tab-active', name === view);
      tab.setAttribute('aria-pressed', String(name === view));
    }
    const models = view === 'models';
    this.input.parentElement!.hidden = !models;
    this.listView.hidden = !models || !!this.card;
    this.cardView.hidden = !models || !this.card;
    this.datasets.node.hidden = models;
    if (!models) {
      void this.datasets.load();
    } else {
      this.table.render();
    }
  }

  /** The user's query joined with the quick filters, as one query-language string. */
  query(): string {
    const typed = this.input.value.trim();
    const clauses = typed ? [`(${typed})`] : [];
    for (const [name, select] of Object.entries(this.filters)) {
      if (!select.value) {
        continue;
      }
      const facet = FACETS.find(f => f[0] === name);
      clauses.push(facet ? `${facet[1]}=${JSON.stringify(select.value)}` : select.value);
    }
    if (this.mine.checked && this.user) {
      clauses.push(`owner=${JSON.stringify(this.user)}`);
    }
    return clauses.join(' and ');
  }

  private showTotal(total: number): void {
    this.summary.textContent = `${total.toLocaleString()} model${total === 1 ? '' : 's'}`;
    this.summary.classList.remove('fmc-stale');
    const active = Object.values(this.filters).filter(s => s.value).length;
    this.filterToggle.textContent = active ? `Filters (${active})` : 'Filters';
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
    const info = client().version();
    void client().fields().then(fields => (this.fields = fields)).catch(() => undefined);
    void client().versionProblem().then(problem => {
      this.banner.textContent = problem || '';
    }).catch(() => undefined);
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

  /** Options of the quick filters with their counts among the typed query's models. */
  private async refreshFacets(): Promise<void> {
    let counts: FacetCounts;
    try {
      counts = await client().facetCounts(this.input.value.trim());
    } catch {
      return;
    }
    for (const [name, , any] of FACETS) {
      const select = this.filters[name];
      const current = select.value;
      const values: [string, number][] = counts[name] || [];
      const options = [h('option', { value: '' }, any),
        ...values.map(([value, n]) => h('option', { value }, `${value} (${n.toLocaleString()})`))];
      if (current && !values.some(([v]) => v === current)) {
        options.push(h('option', { value: current }, `${current} (0)`));
      }
      select.replaceChildren(...options);
      select.value = current;
      select.disabled = values.length === 0 && !current;
    }
  }

  /** Reload when another kernel, user or process changed the registry. */
  private async poll(): Promise<void> {
    if (!this.isVisible) {
      return;
    }
    try {
      const version = await client().version();
      this.user = version.user;
      if (version.stamp !== this.stamp) {
        this.stamp = version.stamp;
        this.actions.changed();
        if (!this.input.classList.contains('fmc-invalid')) {
          await this.table.reload();
          void this.refreshFacets();
        }
        if (this.card && !this.cardView.hidden) {
          await this.card.load();
        }
        if (!this.datasets.node.hidden) {
          await this.datasets.load();
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
      this.input.removeAttribute('aria-invalid');
      void this.refreshFacets();
    } catch (error) {
      this.showError(error);
    }
  }

  /** A refused query: empty the list and its count, mark the box, say what is wrong and offer the fix. */
  private showError(error: unknown): void {
    this.table.clear();
    this.summary.textContent = 'no results: fix the query';
    this.summary.classList.add('fmc-stale');
    this.input.classList.add('fmc-invalid');
    this.input.setAttribute('aria-invalid', 'true');
    if (!(error instanceof ApiError)) {
      this.error.replaceChildren(String(error));
      return;
    }
    const body = error.body;
    const full = (body.message || error.message).split('\n')[0];
    const known = / Known fields: (.*)$/.exec(full);
    const message = full.replace(/ Known fields: .*$/, '').replace(/ Did you mean '[^']+'\?/, '');
    const parts: (Node | string)[] = [h('div', { class: 'fmc-error-message' }, message)];
    const unknown = /unknown field '([^']+)'/.exec(full)?.[1];
    const suggestion = /Did you mean '([^']+)'\?/.exec(full)?.[1];
    if (unknown && suggestion) {
      const fix = h('button', { type: 'button', class: 'fmc-did-you-mean', title: `replace ${unknown} with ${suggestion}` }, suggestion);
      fix.addEventListener('click', () => {
        const escaped = unknown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        this.input.value = this.input.value.replace(new RegExp(`\\b${escaped}\\b`), suggestion);
        void this.search();
      });
      parts.push(h('div', { class: 'fmc-suggest' }, 'Did you mean ', fix, '?'));
    }
    if (body.query && body.position !== null && body.position !== undefined) {
      // the error's position is in the combined query; show that query with a caret under the column
      parts.push(h('pre', { class: 'fmc-caret' }, `${body.query}\n${' '.repeat(body.position)}^`));
    }
    if (known) {
      const near = unknown ? known[1].split(', ').filter(f => f[0] === unknown[0].toLowerCase()) : [];
      if (near.length) {
        parts.push(h('div', { class: 'fmc-muted' }, `Fields starting with “${unknown![0]}”: ${near.join(', ')}`));
      }
      parts.push(h('details', { class: 'fmc-all-fields' }, h('summary', {}, 'all fields'), h('div', {}, known[1])));
    }
    this.error.replaceChildren(...parts);
  }

  private hideHints(): void {
    this.hints.hidden = true;
    this.hints.replaceChildren();
  }

  /** Field names (and aliases) starting with the word being typed, as clickable chips over the list. */
  private showHints(): void {
    const value = this.input.value;
    const caret = this.input.selectionStart ?? value.length;
    const word = fieldWordAt(value, caret);
    if (!word) {
      this.hideHints();
      return;
    }
    const matching = this.fields.fields.filter(f => f.name.startsWith(word) && f.name !== word);
    // an alias whose field is already offered adds nothing
    const shownFields = new Set(matching.map(f => f.name));
    const aliases = Object.entries(this.fields.aliases).filter(([a, target]) => a.startsWith(word) && a !== word && !shownFields.has(target));
    const chips = [
      ...matching.map(f => [f.name, `${f.name}: ${f.help}`]),
      ...aliases.map(([a, target]) => [a, `${a} means ${target}`])
    ].slice(0, 10);
    if (!chips.length) {
      this.hideHints();
      return;
    }
    this.hints.replaceChildren(...chips.map(([name, help]) => {
      const chip = h('button', { class: 'fmc-chip', title: help, type: 'button', role: 'option', tabindex: '-1' }, name);
      chip.addEventListener('mousedown', event => event.preventDefault()); // keep the focus in the query box
      chip.addEventListener('click', () => {
        const before = value.slice(0, caret - word.length);
        this.input.value = `${before}${name}${value.slice(caret)}`;
        this.input.focus();
        const at = before.length + name.length;
        this.input.setSelectionRange(at, at);
        this.hideHints();
      });
      return chip;
    }));
    this.hints.hidden = false;
  }

  openCard(row: ModelRow | number): void {
    this.card = new ModelView(this, typeof row === 'number' ? row : row.id, 'card');
    this.cardView.replaceChildren(this.card.node);
    this.listView.hidden = true;
    this.cardView.hidden = false;
    void this.card.load();
  }

  back(): void {
    this.card = null;
    this.cardView.hidden = true;
    this.listView.hidden = false;
    this.table.render();
  }

  insertCell(code: string): string | null {
    return this.actions.insertCell(code);
  }

  openPage(id: number): void {
    this.actions.openPage(id);
  }

  openDiff(a: number, b: number): void {
    this.actions.openDiff(a, b);
  }
}
