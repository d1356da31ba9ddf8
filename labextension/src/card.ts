import { CommentRow, ModelPageData, ModelRecord, PageRun, PageVersion, RankingRow } from './api';
import { lineChart, runSeries, Series } from './chart';
import { fmtCount, fmtDate, fmtMB, fmtPercent, fmtValue, h, kvTable } from './dom';
import { ApiError, client } from './handler';
import { SNIPPETS, snippetFor } from './snippets';

/** What a model view needs from where it is shown (the side panel or a main-area page). */
export interface ModelHost {
  user: string;
  /** the side panel's current search (for "rank it against the current search") */
  query(): string;
  /** put code into a NEW cell below the active one; returns a problem, or null */
  insertCell(code: string): string | null;
  openPage(ref: number): void;
  openDiff(a: number, b: number): void;
  back?(): void;
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** `name:vN` as a title that never breaks inside the version. */
function titleOf(model: ModelRecord): HTMLElement {
  return h('h3', { class: 'fmc-title', title: model.ref }, h('span', { class: 'fmc-title-name' }, model.name),
    h('span', { class: 'fmc-title-version' }, `:v${model.version}`));
}

/**
 * A model: facts, "use this model" snippets, versions (with lineage and the run that made each; pick two to diff),
 * training runs, rankings and comments. `mode` `card` is the side panel's compact card; `page` is the main-area
 * model page, where runs are a table to pick from with their loss and accuracy curves overlaid, and the owner
 * edits the description and tags. Everything from the registry is shown as text.
 */
export class ModelView {
  readonly node: HTMLDivElement;
  private chosen: number[] = [];
  private pickedRuns = new Set<number>();
  private status = h('div', { class: 'fmc-status', role: 'status' });
  private draft = ''; // the comment being typed survives a reload (the registry changed)
  private editDraft: { description: string; tags: string } | null = null; // unsaved edits survive a reload too
  private commentProblem = '';
  data: ModelPageData | null = null;

  constructor(
    private readonly host: ModelHost,
    readonly modelId: number,
    readonly mode: 'card' | 'page'
  ) {
    this.node = h('div', { class: mode === 'card' ? 'fmc-card' : 'fmc-model-page' }, h('div', { class: 'fmc-muted' }, 'Loading…'));
  }

  async load(): Promise<void> {
    try {
      this.data = await client().modelPage(this.modelId);
      this.render(this.data);
    } catch (error) {
      const message = error instanceof ApiError ? error.message : String(error);
      this.node.replaceChildren(...this.nav(), h('div', { class: 'fmc-error' }, message));
    }
  }

  private nav(): HTMLElement[] {
    if (!this.host.back) {
      return [];
    }
    const back = h('button', { class: 'jp-Button jp-mod-minimal fmc-back', type: 'button', title: 'back to the results' }, '← Results');
    back.addEventListener('click', () => this.host.back?.());
    return [back];
  }

  private render(data: ModelPageData): void {
    const model = data.model;
    this.node.dataset.ref = model.ref;
    const parts: (HTMLElement | null)[] = [
      ...this.nav(),
      titleOf(model),
      h('div', { class: 'fmc-subtitle fmc-muted' },
        [model.family, model.domain, model.task].filter(Boolean).join(' · ') || model.source_kind,
        model.visibility === 'private' ? h('span', { class: 'fmc-private-mark', title: 'private: only you can see this model' }, 'private') : null),
      this.actions(model, data.versions),
      this.status,
      this.mode === 'page' ? this.editable(model) : model.description ? h('p', { class: 'fmc-description' }, model.description) : null,
      this.facts(model),
      this.versionsSection(data.versions),
      this.runsSection(data.runs, data.versions),
      this.rankingsSection(data.rankings),
      this.commentsSection(data.comments)
    ];
    this.node.replaceChildren(...parts.filter((n): n is HTMLElement => n !== null));
  }

  private facts(model: ModelRecord): HTMLElement {
    const pairs: [string, string][] = [
      ['params', model.params === null ? '–' : fmtCount(model.params) === String(model.params) ? String(model.params)
        : `${fmtCount(model.params)} (${model.params.toLocaleString()})`],
      ['size', fmtMB(model.size_mb)],
      ['top-1 / top-5', `${fmtPercent(model.top1)} / ${fmtPercent(model.top5)}`],
      ['input', model.input_size ? `${model.input_size}px` : '–'],
      ['family', fmtValue(model.family)],
      ['architecture', fmtValue(model.architecture)],
      ['domain', fmtValue(model.domain)],
      ['task', fmtValue(model.task)],
      ['source', fmtValue(model.source_kind)],
      ['depth', fmtValue(model.depth)],
      ['classes', fmtValue(model.num_classes)],
      ['pretrained on', fmtValue(model.pretrained_on)],
      ['license', fmtValue(model.license)],
      ['owner', `${model.owner} (${model.visibility})`],
      ['tags', fmtValue(model.tags)],
      ['created', fmtDate(model.created_at)]
    ];
    if (this.mode === 'page') {
      pairs.push(['latency', `${model.cpu_ms === null ? '–' : model.cpu_ms + ' ms CPU'} / ${model.gpu_ms === null ? '–' : model.gpu_ms + ' ms GPU'}`],
        ['preprocessing', fmtValue(model.preprocessing)], ['sha256', fmtValue(model.sha256)], ['id', String(model.id)]);
    }
    const table = kvTable(pairs);
    table.classList.add('fmc-facts');
    return table;
  }

  private actions(model: ModelRecord, versions: PageVersion[]): HTMLElement {
    const box = h('div', { class: 'fmc-actions' });
    if (this.mode === 'card') {
      const open = h('button', { class: 'jp-Button jp-mod-styled jp-mod-accept fmc-open-page', type: 'button',
        title: 'open the full model page in the main area' }, 'Open page');
      open.addEventListener('click', () => this.host.openPage(model.id));
      box.appendChild(open);
    }
    const kind = h('select', { class: 'fmc-insert-kind', 'aria-label': 'snippet to insert', title: 'use this model: a snippet for a new cell' },
      ...SNIPPETS.map(([value, label]) => h('option', { value }, label)));
    const insert = h('button', { class: 'jp-Button jp-mod-styled fmc-insert', type: 'button',
      title: 'insert the snippet as a new cell below the active one' }, 'Insert');
    insert.addEventListener('click', () => {
      const parent = versions.find(v => v.id === model.parent_id);
      const code = snippetFor(kind.value, { ref: model.ref, id: model.id, family: model.family, params: model.params,
        parentRef: parent ? `${parent.name}:v${parent.version}` : model.parent_id !== null ? String(model.parent_id) : null }, this.host.query());
      const problem = this.host.insertCell(code);
      this.say(problem || 'Inserted as a new cell below the active one; fill in its placeholders.', !!problem);
    });
    box.append(h('span', { class: 'fmc-use' }, kind, insert));
    if (model.owner === this.host.user) {
      const action = model.visibility === 'public' ? 'unpublish' : 'publish';
      const button = h('button', { class: 'jp-Button jp-mod-styled fmc-publish', type: 'button' }, action === 'publish' ? 'Publish' : 'Make private');
      button.addEventListener('click', async () => {
        try {
          await client().setVisibility(model.id, action);
          await this.load();
        } catch (error) {
          this.say(errorText(error), true);
        }
      });
      box.appendChild(button);
    }
    return box;
  }

  private say(message: string, bad = false): void {
    this.status.textContent = message;
    this.status.classList.toggle('fmc-error', bad);
  }

  /** The description and tags: editable by the owner on the page. */
  private editable(model: ModelRecord): HTMLElement {
    const mine = model.owner === this.host.user;
    if (!mine) {
      return h('div', {}, model.description ? h('p', { class: 'fmc-description' }, model.description) : h('p', { class: 'fmc-muted' }, 'No description.'));
    }
    const text = h('textarea', { class: 'fmc-edit-description', rows: '3', 'aria-label': 'description', placeholder: 'Describe this model…' });
    text.value = this.editDraft ? this.editDraft.description : model.description || '';
    const tags = h('input', { class: 'jp-mod-styled fmc-edit-tags', 'aria-label': 'tags', placeholder: 'tags, comma separated' });
    tags.value = this.editDraft ? this.editDraft.tags : model.tags || '';
    const keep = () => (this.editDraft = { description: text.value, tags: tags.value });
    text.addEventListener('input', keep);
    tags.addEventListener('input', keep);
    const save = h('button', { class: 'jp-Button jp-mod-styled jp-mod-accept fmc-save', type: 'button' }, 'Save');
    save.addEventListener('click', async () => {
      save.disabled = true;
      try {
        await client().updateModel(model.id, { description: text.value, tags: tags.value });
        this.editDraft = null;
        this.say('Saved.');
        await this.load();
      } catch (error) {
        this.say(errorText(error), true);
      } finally {
        save.disabled = false;
      }
    });
    return h('section', { class: 'fmc-section fmc-editable' }, h('h4', {}, 'Description and tags (yours to edit)'), text,
      h('div', { class: 'fmc-edit-row' }, tags, save));
  }

  private versionsSection(versions: PageVersion[]): HTMLElement {
    const compare = h('button', { class: 'jp-Button jp-mod-styled fmc-compare', type: 'button', disabled: 'true',
      title: 'tick two versions, then open their diff in the main area' }, 'Diff two versions');
    compare.addEventListener('click', () => {
      const [a, b] = [...this.chosen].sort((x, y) => x - y);
      this.host.openDiff(a, b);
    });
    const byId = new Map(versions.map(v => [v.id, v]));
    const rows = versions.map(v => {
      const check = h('input', { type: 'checkbox', class: 'fmc-pick', 'aria-label': `choose v${v.version} to diff` });
      check.checked = this.chosen.includes(v.id);
      check.addEventListener('change', () => {
        this.chosen = check.checked ? [...this.chosen, v.id].slice(-2) : this.chosen.filter(id => id !== v.id);
        for (const box of Array.from(this.node.querySelectorAll<HTMLInputElement>('.fmc-pick'))) {
          box.checked = this.chosen.includes(Number(box.dataset.id));
        }
        compare.disabled = this.chosen.length !== 2;
      });
      check.dataset.id = String(v.id);
      const parent = v.parent_id !== null && byId.has(v.parent_id) ? `from v${byId.get(v.parent_id)!.version}`
        : v.parent_id ? `from #${v.parent_id}` : 'root';
      const made = v.made_by_run !== null && v.made_by_run !== undefined ? `run ${v.made_by_run}` : '';
      return h('tr', { class: v.id === this.modelId ? 'fmc-current' : '' },
        h('td', {}, check), h('td', { class: 'fmc-nowrap' }, `v${v.version}`),
        h('td', { class: 'fmc-muted fmc-nowrap', title: `created ${fmtDate(v.created_at)}` }, parent, made ? h('span', { class: 'fmc-made-by' }, ` · ${made}`) : null),
        h('td', { class: 'fmc-num' }, fmtPercent(v.top1)),
        this.mode === 'page' ? h('td', { class: 'fmc-muted fmc-nowrap' }, fmtDate(v.created_at)) : null,
        this.mode === 'page' ? h('td', {}, v.owner, v.visibility === 'private' ? h('span', { class: 'fmc-private-mark', title: 'private: only its owner sees it' }, 'private') : null) : null);
    });
    return h('section', { class: 'fmc-section fmc-versions' }, h('h4', {}, `Versions (${versions.length})`),
      h('table', { class: 'fmc-list' }, ...rows), versions.length > 1 ? compare : null);
  }

  private runsSection(runs: PageRun[], versions: PageVersion[]): HTMLElement {
    const heading = h('h4', {}, `Training runs (${runs.length})`);
    if (!runs.length) {
      return h('section', { class: 'fmc-section fmc-runs' }, heading, h('div', { class: 'fmc-muted' }, 'No training runs yet.'));
    }
    const versionOf = new Map(versions.map(v => [v.id, `v${v.version}`]));
    const outcome = (r: PageRun) => (r.result_model_id !== null && versionOf.has(r.result_model_id) ? `→ ${versionOf.get(r.result_model_id)}` : r.outcome || r.status);
    if (this.mode === 'card') {
      const items = runs.slice(0, 5).map(r => h('div', { class: 'fmc-run' },
        h('div', {}, h('strong', {}, `run ${r.id}`), ` of v${r.version} ${outcome(r)}`),
        h('div', { class: 'fmc-muted' }, [r.dataset, fmtDate(r.started_at), r.best_val_accuracy !== null ? `best val ${fmtPercent(r.best_val_accuracy)}` : null].filter(Boolean).join(' · '))));
      const more = h('button', { class: 'jp-Button jp-mod-minimal fmc-more', type: 'button' }, 'Compare runs on the model page →');
      more.addEventListener('click', () => this.host.openPage(this.modelId));
      return h('section', { class: 'fmc-section fmc-runs' }, heading, ...items, more);
    }
    if (!this.pickedRuns.size) {
      runs.filter(r => r.history && r.history.length).slice(0, 2).forEach(r => this.pickedRuns.add(r.id));
    }
    const charts = h('div', { class: 'fmc-charts' });
    const draw = () => {
      const picked = runs.filter(r => this.pickedRuns.has(r.id) && r.history && r.history.length);
      const loss: Series[] = [];
      const acc: Series[] = [];
      picked.forEach((r, i) => {
        loss.push(...runSeries(r.history!, 'loss', `run ${r.id}`, i));
        acc.push(...runSeries(r.history!, 'accuracy', `run ${r.id}`, i));
      });
      charts.replaceChildren(...(picked.length
        ? [lineChart(loss, { title: 'loss', yLabel: 'loss' }), lineChart(acc, { title: 'accuracy', yLabel: 'accuracy', percent: true })]
        : [h('div', { class: 'fmc-muted' }, 'Tick runs above to see their loss and accuracy curves.')]));
    };
    const head = ['', 'run', 'made', 'dataset', 'started', 'optimizer', 'epochs', 'best val', 'report'];
    const rows = runs.map(r => {
      const check = h('input', { type: 'checkbox', class: 'fmc-run-pick', 'aria-label': `compare run ${r.id}` });
      check.checked = this.pickedRuns.has(r.id);
      check.disabled = !(r.history && r.history.length);
      check.addEventListener('change', () => {
        if (check.checked) {
          this.pickedRuns.add(r.id);
        } else {
          this.pickedRuns.delete(r.id);
        }
        draw();
      });
      const report = r.report
        ? h('a', { href: client().reportUrl(r.id), target: '_blank', rel: 'noopener', class: 'fmc-report-link' }, 'report')
        : h('span', { class: 'fmc-muted', title: 'call run.report() in the notebook to write one' }, '–');
      return h('tr', {}, h('td', {}, check), h('td', { class: 'fmc-nowrap' }, `${r.id} (v${r.version})`), h('td', {}, outcome(r)),
        h('td', {}, r.dataset || '–'), h('td', { class: 'fmc-nowrap' }, fmtDate(r.started_at)),
        h('td', {}, `${r.optimizer || '?'} lr ${fmtValue(r.learning_rate)}`),
        h('td', { class: 'fmc-num' }, String(r.history?.length ?? r.epochs ?? '–')),
        h('td', { class: 'fmc-num' }, fmtPercent(r.best_val_accuracy)), h('td', {}, report));
    });
    draw();
    return h('section', { class: 'fmc-section fmc-runs' }, heading,
      h('div', { class: 'fmc-scroll-x' }, h('table', { class: 'fmc-list fmc-runs-table' },
        h('thead', {}, h('tr', {}, ...head.map(t => h('th', {}, t)))), h('tbody', {}, ...rows))), charts);
  }

  private rankingsSection(rankings: RankingRow[]): HTMLElement {
    const rows = rankings.map(r => h('tr', {}, h('td', {}, r.dataset || '–'), h('td', {}, r.method),
      h('td', { class: 'fmc-num' }, r.rank === null ? '–' : `#${r.rank}`), h('td', { class: 'fmc-num' }, fmtValue(r.score)),
      h('td', { class: 'fmc-muted fmc-nowrap' }, fmtDate(r.created_at))));
    return h('section', { class: 'fmc-section fmc-rankings' }, h('h4', {}, `Rankings (${rankings.length})`),
      rows.length ? h('table', { class: 'fmc-list' }, ...rows) : h('div', { class: 'fmc-muted' }, 'Not ranked yet.'));
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
    const button = h('button', { class: 'jp-Button jp-mod-styled jp-mod-accept fmc-comment-add', type: 'button' }, 'Comment');
    const problem = h('div', { class: 'fmc-error', role: 'alert' }, this.commentProblem);
    // a reload may have replaced this section while the request was out: speak through the live one
    const say = (message: string): void => {
      this.commentProblem = message;
      (this.node.querySelector<HTMLElement>('.fmc-comments .fmc-error') ?? problem).textContent = message;
    };
    button.addEventListener('click', async () => {
      say('');
      button.disabled = true;
      try {
        await client().addComment(this.modelId, text.value);
        text.value = this.draft = '';
        fill(await client().comments(this.modelId));
      } catch (error) {
        say(errorText(error));
      } finally {
        button.disabled = false;
      }
    });
    return h('section', { class: 'fmc-section fmc-comments' }, heading, list,
      h('div', { class: 'fmc-comment-form' }, text, button), problem);
  }
}
