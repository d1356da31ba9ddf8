/** Shapes of the REST API answers (see docs/rest-api.md). */

export interface ModelRow {
  id: number;
  name: string;
  version: number;
  family: string | null;
  architecture: string | null;
  domain: string | null;
  source_kind: string;
  input_size: number | null;
  params: number | null;
  size_mb: number | null;
  top1: number | null;
  top5: number | null;
  owner: string;
  visibility: string;
  parent_id: number | null;
  description: string | null;
}

export interface ModelPage {
  total: number;
  offset: number;
  limit: number;
  models: ModelRow[];
}

export interface ModelRecord extends ModelRow {
  ref: string;
  task: string | null;
  depth: number | null;
  cpu_ms: number | null;
  gpu_ms: number | null;
  pretrained_on: string | null;
  license: string | null;
  preprocessing: string | null;
  num_classes: number | null;
  tags: string;
  run_id: number | null;
  sha256: string | null;
  created_at: string | null;
}

export interface VersionRow {
  id: number;
  name: string;
  version: number;
  parent_id: number | null;
  run_id: number | null;
  owner: string;
  visibility: string;
  top1: number | null;
  params: number | null;
  created_at: string;
}

export interface EpochRow {
  epoch: number;
  loss: number | null;
  accuracy: number | null;
  val_loss: number | null;
  val_accuracy: number | null;
}

export interface RunRow {
  id: number;
  model: string;
  version: number;
  kind: string;
  status: string;
  optimizer: string | null;
  learning_rate: number | null;
  epochs: number | null;
  outcome: string | null;
  best_val_accuracy: number | null;
  started_at: string;
  history?: EpochRow[];
}

export interface RankingRow {
  ranking_id: number;
  dataset: string | null;
  method: string;
  rank: number | null;
  score: number | null;
  created_at: string;
}

export interface CommentRow {
  id: number;
  model_id: number;
  author: string;
  text: string;
  created_at: string;
}

export interface FieldInfo {
  name: string;
  kind: string;
  help: string;
}

export interface Fields {
  fields: FieldInfo[];
  aliases: Record<string, string>;
}

export interface Facets {
  domain: string[];
  family: string[];
}

export interface VersionInfo {
  version: string;
  user: string;
  stamp: string;
}

/** `GET facets/counts`: per quick-filter field, `[value, count]` pairs among the models the query finds. */
export interface FacetCounts {
  task: [string, number][];
  domain: [string, number][];
  license: [string, number][];
  source: [string, number][];
  family: [string, number][];
  owner: [string, number][];
  total: number;
}

export interface PageVersion extends VersionRow {
  made_by_run: number | null;
}

export interface PageRun extends RunRow {
  model_id: number;
  dataset_id: number | null;
  dataset: string | null;
  result_model_id: number | null;
  duration_s: number | null;
  batch_size: number | null;
  owner: string;
  report: boolean;
}

export interface AliasRow {
  alias: string;
  model_id?: number;
  version?: number;
}

/** `GET models/{ref}/page`: everything the model page shows. */
export interface ModelPageData {
  model: ModelRecord;
  versions: PageVersion[];
  runs: PageRun[];
  rankings: RankingRow[];
  comments: CommentRow[];
  aliases: AliasRow[];
}

export interface DatasetRow {
  id: number;
  name: string;
  num_examples: number | null;
  num_classes: number | null;
  image_shape: string | null;
  class_names: string | null;
  source: string | null;
  created_by: string | null;
  created_at: string | null;
}

export interface LeaderboardRow {
  model_id: number;
  name: string;
  version: number;
  accuracy: number | null;
  evaluations: number;
  last_evaluated: string | null;
}

export interface DiffLayer {
  position: number;
  status: string;
  name_a: string | null;
  name_b: string | null;
  type_a: string | null;
  type_b: string | null;
  changes: string;
  params_a: number | null;
  params_b: number | null;
  relative_change: number | null;
  cosine: number | null;
  fraction_moved: number | null;
  weights_changed: boolean;
}

/** A run of unremarkable layers folded into one row by the server. */
export interface FoldedLayers {
  status: 'folded';
  folded_status: string;
  count: number;
  first: number;
  last: number;
}

export interface DiffResult {
  a: string;
  b: string;
  summary: string;
  identical: boolean;
  relation: string | null;
  tolerance: number;
  notes: string[];
  metadata: { a: Record<string, unknown>; b: Record<string, unknown> };
  layers: DiffLayer[];
  folded?: (DiffLayer | FoldedLayers)[];
}
