import { DatasetRow, LeaderboardRow, RankingRow } from './api';
import { fmtCount, fmtDate, fmtPercent, fmtValue, h } from './dom';
import { client } from './handler';

/**
 * The datasets view of the side panel: every dataset (they are public), and for the chosen one its leaderboard
 * (every model you can see that was evaluated on it, best first) and your rankings on it.
 */
export class DatasetsView {
  readonly node: HTMLDivElement;
  private readonly list = h('div', { class: 'fmc-dataset-list' });
  private readonly detail = h('div', { class: 'fmc-dataset-detail' });
  chosen: string | null = null;

  constructor(private readonly openModel: (id: number) => void) {
    this.node = h('div', { class: 'fmc-datasets-view' }, this.list, this.detail);
  }

  async load(): Promise<void> {
    try {
      this.fill(await client().datasets());
      if (this.chosen) {
        await this.open(this.chosen);
      }
    } catch (error) {
      this.list.replaceChildren(h('div', { class: 'fmc-error' }, error instanceof Error ? error.message : String(error)));
    }
  }

  private fill(rows: DatasetRow[]): void {
    if (!rows.length) {
      this.list.replaceChildren(h('div', { class: 'fmc-muted fmc-empty' },
        'No datasets yet. They are recorded when you rank, fine-tune or evaluate on your images (or reg.add_dataset).'));
      return;
    }
    this.list.replaceChildren(h('div', { class: 'fmc-summary fmc-muted' }, `${rows.length} dataset${rows.length === 1 ? '' : 's'}`),
      ...rows.map(d => {
        const item = h('button', { type: 'button', class: `fmc-dataset${d.name === this.chosen ? ' fmc-chosen' : ''}`, 'data-name': d.name },
          h('div', { class: 'fmc-name' }, d.name),
          h('div', { class: 'fmc-muted' }, [`${fmtCount(d.num_examples)} images`, `${fmtValue(d.num_classes)} classes`, d.source, fmtDate(d.created_at)].filter(Boolean).join(' · ')));
        item.addEventListener('click', () => void this.open(d.name));
        return item;
      }));
  }

  async open(name: string): Promise<void> {
    this.chosen = name;
    for (const item of Array.from(this.list.querySelectorAll<HTMLElement>('.fmc-dataset'))) {
      item.classList.toggle('fmc-chosen', item.dataset.name === name);
    }
    this.detail.replaceChildren(h('div', { class: 'fmc-muted' }, 'Loading…'));
    try {
      const [board, rankings] = await Promise.all([client().leaderboard(name), client().datasetRankings(name)]);
      this.detail.replaceChildren(h('h4', {}, `Leaderboard of ${name}`), this.board(board), h('h4', {}, `Your rankings on ${name}`), this.rankings(rankings));
    } catch (error) {
      this.detail.replaceChildren(h('div', { class: 'fmc-error' }, error instanceof Error ? error.message : String(error)));
    }
  }

  private board(rows: LeaderboardRow[]): HTMLElement {
    if (!rows.length) {
      return h('div', { class: 'fmc-muted' }, 'No model evaluated on it yet (fmc.evaluate or %findcnn evaluate).');
    }
    return h('table', { class: 'fmc-list fmc-leaderboard' },
      h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'model'), h('th', { class: 'fmc-num' }, 'accuracy'), h('th', { class: 'fmc-num' }, 'evals'))),
      h('tbody', {}, ...rows.map((r, i) => {
        const link = h('button', { type: 'button', class: 'fmc-link', title: 'open its model page' }, `${r.name}:v${r.version}`);
        link.addEventListener('click', () => this.openModel(r.model_id));
        return h('tr', {}, h('td', { class: 'fmc-num' }, String(i + 1)), h('td', {}, link),
          h('td', { class: 'fmc-num' }, fmtPercent(r.accuracy)), h('td', { class: 'fmc-num' }, String(r.evaluations)));
      })));
  }

  private rankings(rows: RankingRow[]): HTMLElement {
    if (!rows.length) {
      return h('div', { class: 'fmc-muted' }, 'You have not ranked models on it.');
    }
    return h('table', { class: 'fmc-list' }, h('tbody', {}, ...rows.slice(0, 50).map(r => h('tr', {},
      h('td', { class: 'fmc-num' }, r.rank === null ? '–' : `#${r.rank}`), h('td', {}, `${(r as any).model}:v${(r as any).version}`),
      h('td', {}, r.method), h('td', { class: 'fmc-num' }, fmtValue(r.score))))));
  }
}
