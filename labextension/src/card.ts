import { CommentRow, ModelRecord, RankingRow, RunRow, VersionRow } from './api';
import { accuracyChart } from './chart';
import { fmtParams, fmtPercent, fmtValue, h, kvTable } from './dom';
import { ApiError, refPath, requestAPI } from './handler';

export interface CardHost {
  user: string;
  insertCode(code: string): string | null; // returns an error message, or null when inserted
  back(): void;
}

/** Magic lines the "Insert code" button can put into the active notebook cell. */
export function codeFor(kind: string, ref: string): string {
  const quoted = JSON.stringify(ref);
  switch (kind) {
    case 'finetune':
      return `%findcnn finetune ${quoted} x_train y_train --epochs 5   # x_train (N, H, W, C) images, y_train (N,) labels`;
    case 'rank':
      return `%findcnn rank x_train y_train --models ${JSON.stringify('name=' + ref.split(':')[0])}`;
    case 'runs':
      return `%findcnn runs ${JSON.stringify(ref.split(':')[0])}`;
    default:
      return `%findcnn show ${quoted}`;
  }
}

/**
 * The model card: metadata, lineage of versions (choose two to diff), training runs with a small
 * accuracy chart each, and the rankings the model appears in. Everything from the registry is text.
 */
export class ModelCard {
  readonly node: HTMLDivElement;
  private chosen: number[] = [];
  private diffOut = h('div', { class: 'fmc-diff' });
  private status = h('div', { class: 'fmc-status', role: 'status' });
  private draft = ''; // the comment being typed survives a reload of the card (the registry changed)
  private commentProblem = ''; // and so does the last error of the comment box

  constructor(
    private readonly host: CardHost,
    readonly modelId: number
  ) {
    this.node = h('div', { class: 'fmc-card' }, h('div', { class: 'fmc-muted' }, 'Loading…'));
  }

  async load(): Promise<void> {
    const ref = refPath(this.modelId);
    try {
      const [model, versions, runs, rankings, comments] = await Promise.all([
        requestAPI<ModelRecord>(`models/${ref}`),
        requestAPI<VersionRow[]>(`models/${ref}/versions`),
        requestAPI<RunRow[]>(`models/${ref}/runs`),
        requestAPI<RankingRow[]>(`models/${ref}/rankings`),
        requestAPI<CommentRow[]>(`models/${ref}/comments`)
      ]);
      this.render(model, versions, runs, rankings, comments);
    } catch (error) {
      const message = error instanceof ApiError ? error.message : String(error);
      this.node.replaceChildren(this.backButton(), h('div', { class: 'fmc-error' }, message));
    }
  }

  private backButton(): HTMLButtonElement {
    const back = h('button', { class: 'jp-Button jp-mod-minimal fmc-back', title: 'back to the results' }, '← Results');
    back.addEventListener('click', () => this.host.back());
    return back;
  }

  private render(model: ModelRecord, versions: VersionRow[], runs: RunRow[], rankings: RankingRow[], comments: CommentRow[]): void {
    const title = h('h3', { class: 'fmc-title' }, `${model.ref}`, h('span', { class: 'fmc-muted' }, `  id ${model.id}`));
    const description = model.description ? h('p', { class: 'fmc-description' }, model.description) : null;
    const meta = kvTable([
      ['family', fmtValue(model.family)],
      ['architecture', fmtValue(model.architecture)],
      ['domain', fmtValue(model.domain)],
      ['task', fmtValue(model.task)],
      ['source', fmtValue(model.source_kind)],
      ['input', model.input_size ? `${model.input_size}px` : '–'],
      ['params', fmtParams(model.params)],
      ['size', model.size_mb === null ? '–' : `${model.size_mb.toFixed(1)} MB`],
      ['top-1 / top-5', `${fmtPercent(model.top1)} / ${fmtPercent(model.top5)}`],
      ['pretrained on', fmtValue(model.pretrained_on)],
      ['classes', fmtValue(model.num_classes)],
      ['license', fmtValue(model.license)],
      ['owner', `${model.owner} (${model.visibility})`],
      ['tags', fmtValue(model.tags)],
      ['created', fmtValue(model.created_at)]
    ]);
    this.node.replaceChildren(
      ...([this.backButton(), title, description] as (HTMLElement | null)[]).filter((n): n is HTMLElement => n !== null),
      this.actions(model),
      this.status,
      meta,
      this.versionsSection(versions),
      this.diffOut,
      this.runsSection(runs),
      this.rankingsSection(rankings),
      this.commentsSection(comments)
    );
  }

  private actions(model: ModelRecord): HTMLElement {
    const kind = h('select', { class: 'fmc-insert-kind', title: 'which line to insert' },
      h('option', { value: 'show' }, '%findcnn show'),
      h('option', { value: 'finetune' }, '%findcnn finetune'),
      h('option', { value: 'rank' }, '%findcnn rank'),
      h('option', { value: 'runs' }, '%findcnn runs'));
    const insert = h('button', { class: 'jp-Button jp-mod-styled jp-mod-accept fmc-insert' }, 'Insert code');
    insert.addEventListener('click', () => {
      const problem = this.host.insertCode(codeFor(kind.value, model.ref));
      this.status.textContent = problem || 'Inserted into the active notebook cell.';
      this.status.classList.toggle('fmc-error', !!problem);
    });
    const box = h('div', { class: 'fmc-actions' }, kind, insert);
    if (model.owner === this.host.user) {
      const action = model.visibility === 'public' ? 'unpublish' : 'publish';
      const button = h('button', { class: 'jp-Button jp-mod-styled fmc-publish' }, action === 'publish' ? 'Publish' : 'Make private');
      button.addEventListener('click', async () => {
        try {
          await requestAPI(`models/${refPath(model.id)}/${action}`, {}, { method: 'POST' });
          await this.load();
        } catch (error) {
          this.status.textContent = error instanceof Error ? error.message : String(error);
          this.status.classList.add('fmc-error');
        }
      });
      box.appendChild(button);
    }
    return box;
  }

  private versionsSection(versions: VersionRow[]): HTMLElement {
    const compare = h('button', { class: 'jp-Button jp-mod-styled fmc-compare', disabled: 'true' }, 'Diff two versions');
    compare.addEventListener('click', () => void this.diff());
    const byId = new Map(versions.map(v => [v.id, v]));
    const rows = versions.map(v => {
      const check = h('input', { type: 'checkbox', class: 'fmc-pick', title: 'choose two versions to diff' });
      check.addEventListener('change', () => {
        this.chosen = check.checked ? [...this.chosen, v.id].slice(-2) : this.chosen.filter(id => id !== v.id);
        for (const box of Array.from(this.node.querySelectorAll<HTMLInputElement>('.fmc-pick'))) {
          box.checked = this.chosen.includes(Number(box.dataset.id));
        }
        compare.disabled = this.chosen.length !== 2;
      });
      check.dataset.id = String(v.id);
      const parent = v.parent_id !== null && byId.has(v.parent_id) ? `from v${byId.get(v.parent_id)!.version}` : v.parent_id ? `from #${v.parent_id}` : 'root';
      return h('tr', { class: v.id === this.modelId ? 'fmc-current' : '' },
        h('td', {}, check), h('td', {}, `v${v.version}`), h('td', { class: 'fmc-muted' }, parent),
        h('td', { class: 'fmc-num' }, fmtPercent(v.top1)), h('td', {}, v.owner, v.visibility === 'private' ? h('span', { class: 'fmc-badge', title: 'private' }, 'private') : null),
        h('td', { class: 'fmc-muted' }, (v.created_at || '').slice(0, 10)));
    });
    return h('section', { class: 'fmc-section fmc-versions' }, h('h4', {}, `Versions (${versions.length})`),
      h('table', { class: 'fmc-list' }, ...rows), versions.length > 1 ? compare : null);
  }

  private async diff(): Promise<void> {
    const [a, b] = [...this.chosen].sort((x, y) => x - y);
    this.diffOut.replaceChildren(h('div', { class: 'fmc-muted' }, 'Comparing…'));
    try {
      const result = await requestAPI<Record<string, unknown>>('diff', { a, b });
      this.diffOut.replaceChildren(h('h4', {}, 'Diff'), renderValue(result, 0));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.diffOut.replaceChildren(h('div', { class: 'fmc-error fmc-diff-unavailable' }, message));
    }
  }

  private runsSection(runs: RunRow[]): HTMLElement {
    const items = runs.map(run => h('div', { class: 'fmc-run' },
      h('div', {}, h('strong', {}, `run ${run.id}`), ` ${run.kind} · ${run.status}${run.outcome ? ' · ' + run.outcome : ''}`),
      h('div', { class: 'fmc-muted' }, `${run.optimizer || '?'} lr ${fmtValue(run.learning_rate)} · ${run.epochs ?? '?'} epochs · best val ${fmtPercent(run.best_val_accuracy)}`),
      run.history && run.history.length ? accuracyChart(run.history) : h('div', { class: 'fmc-muted' }, 'no epochs recorded')));
    return h('section', { class: 'fmc-section fmc-runs' }, h('h4', {}, `Training runs (${runs.length})`),
      items.length ? h('div', {}, ...items) : h('div', { class: 'fmc-muted' }, 'No training runs yet.'));
  }

  /** Comments on this version (author, time, text: all plain text) and a box to add one. */
  private commentsSection(comments: CommentRow[]): HTMLElement {
    const heading = h('h4', {}, `Comments (${comments.length})`);
    const list = h('div', { class: 'fmc-comment-list' });
    const fill = (rows: CommentRow[]): void => {
      heading.textContent = `Comments (${rows.length})`;
      list.replaceChildren(...(rows.length
        ? rows.map(c => h('div', { class: 'fmc-comment' },
          h('div', { class: 'fmc-comment-meta' }, h('strong', {}, c.author), ` · ${(c.created_at || '').slice(0, 16).replace('T', ' ')}`),
          h('div', { class: 'fmc-comment-text' }, c.text)))
        : [h('div', { class: 'fmc-muted' }, 'No comments yet.')]));
    };
    fill(comments);
    const text = h('textarea', { class: 'fmc-comment-input', rows: '2', placeholder: 'Add a comment…', 'aria-label': 'comment text' });
    text.value = this.draft;
    text.addEventListener('input', () => {
      this.draft = text.value;
    });
    const button = h('button', { class: 'jp-Button jp-mod-styled jp-mod-accept fmc-comment-add' }, 'Comment');
    const problem = h('div', { class: 'fmc-error', role: 'alert' }, this.commentProblem);
    // a reload may have replaced this section while the request was out: speak through the live one
    const say = (message: string): void => {
      this.commentProblem = message;
      (this.node.querySelector<HTMLElement>('.fmc-comments .fmc-error') ?? problem).textContent = message;
    };
    button.addEventListener('click', async () => {
      say('');
      button.disabled = true;
      const ref = refPath(this.modelId);
      try {
        await requestAPI(`models/${ref}/comments`, {}, { method: 'POST', body: JSON.stringify({ text: text.value }) });
        text.value = this.draft = '';
        fill(await requestAPI<CommentRow[]>(`models/${ref}/comments`));
      } catch (error) {
        say(error instanceof Error ? error.message : String(error));
      } finally {
        button.disabled = false;
      }
    });
    return h('section', { class: 'fmc-section fmc-comments' }, heading, list,
      h('div', { class: 'fmc-comment-form' }, text, button), problem);
  }

  private rankingsSection(rankings: RankingRow[]): HTMLElement {
    const rows = rankings.map(r => h('tr', {}, h('td', {}, r.dataset || '–'), h('td', {}, r.method),
      h('td', { class: 'fmc-num' }, r.rank === null ? '–' : `#${r.rank}`), h('td', { class: 'fmc-num' }, fmtValue(r.score)),
      h('td', { class: 'fmc-muted' }, (r.created_at || '').slice(0, 10))));
    return h('section', { class: 'fmc-section fmc-rankings' }, h('h4', {}, `Rankings (${rankings.length})`),
      rows.length ? h('table', { class: 'fmc-list' }, ...rows) : h('div', { class: 'fmc-muted' }, 'Not ranked yet.'));
  }
}

/** Any JSON value as nested text tables (used for the diff, whose shape belongs to fmc_jupyter.modeldiff). */
export function renderValue(value: unknown, depth: number): HTMLElement {
  if (value !== null && typeof value === 'object' && depth < 4) {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as [string, unknown]) : Object.entries(value);
    return h('table', { class: 'fmc-kv' }, ...entries.slice(0, 200).map(([k, v]) =>
      h('tr', {}, h('th', {}, k), h('td', {}, renderValue(v, depth + 1)))));
  }
  return h('span', {}, fmtValue(value));
}
