/**
 * "Use this model": Python snippets inserted as a new notebook cell below the active one. What the user must
 * supply is an explicit placeholder (`x = ...  # FILL IN`), never a variable that may not exist.
 */

export interface SnippetModel {
  ref: string; // name:vN
  id: number;
  family: string | null;
  params: number | null;
  parentRef?: string | null;
}

export const SNIPPETS: [string, string][] = [
  ['show', 'Show its card'],
  ['search', 'Search around it'],
  ['rank', 'Rank it against the current search'],
  ['finetune', 'Fine-tune it on my images'],
  ['evaluate', 'Evaluate it on labelled images'],
  ['diff', 'Diff it with its parent'],
  ['runs', 'List its training runs']
];

const q = (s: string) => JSON.stringify(s);
const HEAD = 'import fmc_jupyter as fmc\nreg = fmc.open_registry()\n';
const XY = 'x = ...  # FILL IN: your images, a numpy array (N, H, W, 3)\ny = ...  # FILL IN: their labels, a numpy array (N,) of ints or strings\n';

/** The code of one snippet for `model`; `query` is the panel's current search (may be empty). */
export function snippetFor(kind: string, model: SnippetModel, query = ''): string {
  switch (kind) {
    case 'search': {
      const clauses = [model.family ? `family=${q(model.family)}` : null,
        model.params ? `params<=${Math.max(1, Math.ceil((model.params * 2) / 1e6))}M` : null].filter(Boolean);
      return `${HEAD}# models like ${model.ref}: same family, at most twice its parameters\n` +
        `reg.search(${q(clauses.join(' and ') || model.ref.split(':')[0])}, order_by="-top1", limit=20)`;
    }
    case 'rank': {
      const models = query.trim() ? `(${query.trim()}) or id=${model.id}` : model.family ? `family=${q(model.family)} or id=${model.id}` : `id=${model.id}`;
      return `${HEAD}${XY}# rank ${model.ref} against the models of the panel's search\n` +
        `ranking = fmc.rank(x, y, models=${q(models)}, registry=reg)\nranking`;
    }
    case 'finetune':
      return `${HEAD}${XY}run = fmc.finetune(${q(model.ref)}, x, y, epochs=5, registry=reg)\n` +
        'run  # then run.keep() to store it as a new version, or run.discard()';
    case 'evaluate':
      return `${HEAD}${XY.replace(/your images/, 'held-out images').replace(/their labels/, 'their labels')}` +
        `ev = fmc.evaluate(${q(model.ref)}, x, y, registry=reg)\nev`;
    case 'diff':
      return model.parentRef
        ? `${HEAD}fmc.diff(${q(model.parentRef)}, ${q(model.ref)}, registry=reg)`
        : `${HEAD}# ${model.ref} has no parent version; compare it with another model:\n` +
          `other = ...  # FILL IN: a model name, name:vN or id\nfmc.diff(other, ${q(model.ref)}, registry=reg)`;
    case 'runs':
      return `${HEAD}reg.runs(${q(model.ref.split(':')[0])})`;
    default:
      return `${HEAD}reg.model(${q(model.ref)})`;
  }
}
