/**
 * The typed client of the server extension's REST API under `/fmc/api/` (docs/rest-api.md): one documented
 * method per route, as jupyterlab-git's `model.ts`. Widgets never build URLs.
 *
 * It depends only on a `Transport` (a `fetch`-like function plus the server's base URL), so it runs under
 * JupyterLab (through `ServerConnection`, see handler.ts) and in the jest tests (Node's `fetch` against a real
 * HTTP server) alike.
 */
import {
  CommentRow, DatasetRow, DiffResult, EpochRow, FacetCounts, Facets, Fields, LeaderboardRow, ModelPage,
  ModelPageData, ModelRecord, RankingRow, RunRow, VersionInfo, VersionRow
} from './api';
import { FRONTEND_VERSION } from './version';

/** An error answer of the REST API: the HTTP status and its JSON body ({message, position, ...}). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { message?: string; position?: number | null; query?: string; error?: string }
  ) {
    super(body.message || `HTTP ${status}`);
    this.name = 'ApiError';
  }
}

export type Params = Record<string, string | number | undefined>;

export interface Transport {
  /** The server's base URL, ending in `/` (e.g. `http://127.0.0.1:8888/` or `/user/alice/`). */
  baseUrl: string;
  /** Send one request (a `fetch` with the server's credentials added). */
  fetch(url: string, init: RequestInit): Promise<Response>;
}

/** The URL of `<base>fmc/api/<path>?<params>`; empty and undefined parameters are left out. */
export function apiUrl(baseUrl: string, path: string, params: Params = {}): string {
  const query = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return `${base}fmc/api/${path}${query ? `?${query}` : ''}`;
}

/** `encodeURIComponent` for a model or dataset reference used as one path segment. */
export function refPath(ref: string | number): string {
  return encodeURIComponent(String(ref));
}

/** Whether the front end and the server extension come from the same release (same major.minor). */
export function compatible(frontend: string, server: string): boolean {
  const mm = (v: string) => v.split('.').slice(0, 2).join('.');
  return mm(frontend) === mm(server);
}

export class FmcClient {
  constructor(private readonly transport: Transport) {}

  /** Send one request and decode its JSON answer; a non-2xx answer throws `ApiError` with the body. */
  async request<T>(path: string, params: Params = {}, init: RequestInit = {}): Promise<T> {
    const url = apiUrl(this.transport.baseUrl, path, params);
    let response: Response;
    try {
      response = await this.transport.fetch(url, init);
    } catch (error) {
      throw new ApiError(0, { message: `cannot reach the Jupyter server: ${error}` });
    }
    const text = await response.text();
    let data: any = {};
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      data = { message: text };
    }
    if (!response.ok) {
      throw new ApiError(response.status, typeof data === 'object' && data !== null ? data : { message: String(data) });
    }
    return data as T;
  }

  private send<T>(method: string, path: string, body: unknown): Promise<T> {
    return this.request<T>(path, {}, { method, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  }

  /** `GET version`: package version, who you are, and the registry's change stamp. */
  version(): Promise<VersionInfo> {
    return this.request<VersionInfo>('version');
  }

  /** The server's version, and a message when it does not match this front end (else `null`). */
  async versionProblem(): Promise<string | null> {
    const info = await this.version();
    return compatible(FRONTEND_VERSION, info.version)
      ? null
      : `The Find My CNN panel (${FRONTEND_VERSION}) and the server extension (${info.version}) come from different ` +
          'releases; reinstall fmc_jupyter and restart JupyterLab.';
  }

  /** `GET fields`: the query language's fields and aliases. */
  fields(): Promise<Fields> {
    return this.request<Fields>('fields');
  }

  /** `GET facets`: distinct domains and families you can see. */
  facets(): Promise<Facets> {
    return this.request<Facets>('facets');
  }

  /** `GET facets/counts?q=`: the quick filters' values with counts among the query's models. */
  facetCounts(query = ''): Promise<FacetCounts> {
    return this.request<FacetCounts>('facets/counts', { q: query });
  }

  /** `GET models?q=&order=&offset=&limit=`: one page of search results and the total. */
  models(query: string, order: string, offset: number, limit: number): Promise<ModelPage> {
    return this.request<ModelPage>('models', { q: query, order, offset, limit });
  }

  /** `GET models/{ref}`: one model record. */
  model(ref: string | number): Promise<ModelRecord> {
    return this.request<ModelRecord>(`models/${refPath(ref)}`);
  }

  /** `PATCH models/{ref}/page`: change the description and/or tags of one of your models. */
  updateModel(ref: string | number, changes: { description?: string; tags?: string }): Promise<ModelRecord> {
    return this.send<ModelRecord>('PATCH', `models/${refPath(ref)}/page`, changes);
  }

  /** `GET models/{ref}/page`: the model page's data in one answer. */
  modelPage(ref: string | number): Promise<ModelPageData> {
    return this.request<ModelPageData>(`models/${refPath(ref)}/page`);
  }

  /** `GET models/{ref}/versions`: every visible version of the line, oldest first. */
  versions(ref: string | number): Promise<VersionRow[]> {
    return this.request<VersionRow[]>(`models/${refPath(ref)}/versions`);
  }

  /** `GET models/{ref}/runs`: training runs of the line, newest first (the newest with `history`). */
  runs(ref: string | number): Promise<RunRow[]> {
    return this.request<RunRow[]>(`models/${refPath(ref)}/runs`);
  }

  /** `GET models/{ref}/rankings`: your rankings that include the model. */
  rankings(ref: string | number): Promise<RankingRow[]> {
    return this.request<RankingRow[]>(`models/${refPath(ref)}/rankings`);
  }

  /** `GET models/{ref}/comments`: comments on the version, oldest first. */
  comments(ref: string | number): Promise<CommentRow[]> {
    return this.request<CommentRow[]>(`models/${refPath(ref)}/comments`);
  }

  /** `POST models/{ref}/comments`: comment on a version you can see; the new comment. */
  addComment(ref: string | number, text: string): Promise<CommentRow> {
    return this.send<CommentRow>('POST', `models/${refPath(ref)}/comments`, { text });
  }

  /** `POST models/{ref}/publish|unpublish`: make one of your models public or private. */
  setVisibility(ref: string | number, action: 'publish' | 'unpublish'): Promise<ModelRecord> {
    return this.request<ModelRecord>(`models/${refPath(ref)}/${action}`, {}, { method: 'POST' });
  }

  /** `GET runs/{id}`: one run with its epochs. */
  run(id: number): Promise<RunRow & { history: EpochRow[] }> {
    return this.request(`runs/${id}`);
  }

  /** The URL of a run's HTML report (`GET runs/{id}/report`), for a link. */
  reportUrl(id: number): string {
    return apiUrl(this.transport.baseUrl, `runs/${id}/report`);
  }

  /** `GET datasets`: every dataset. */
  datasets(): Promise<DatasetRow[]> {
    return this.request<DatasetRow[]>('datasets');
  }

  /** `GET datasets/{ref}/rankings`: your rankings on a dataset. */
  datasetRankings(ref: string | number): Promise<RankingRow[]> {
    return this.request<RankingRow[]>(`datasets/${refPath(ref)}/rankings`);
  }

  /** `GET datasets/{ref}/leaderboard`: every visible model evaluated on the dataset, best first. */
  leaderboard(ref: string | number): Promise<LeaderboardRow[]> {
    return this.request<LeaderboardRow[]>(`datasets/${refPath(ref)}/leaderboard`);
  }

  /** `GET diff?a=&b=`: the raw diff of two models. */
  diff(a: string | number, b: string | number): Promise<DiffResult> {
    return this.request<DiffResult>('diff', { a, b });
  }

  /** `GET diff/view?a=&b=`: the diff with identical layers folded, computed outside the server process. */
  diffView(a: string | number, b: string | number): Promise<DiffResult> {
    return this.request<DiffResult>('diff/view', { a, b });
  }
}
