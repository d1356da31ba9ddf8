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
