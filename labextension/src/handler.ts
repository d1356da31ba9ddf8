import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error answer of the REST API: the HTTP status and its JSON body ({message, position, ...}). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { message?: string; position?: number | null; query?: string; error?: string }
  ) {
    super(body.message || `HTTP ${status}`);
  }
}

/**
 * Call the server extension under `<base>/fmc/api/<endPoint>` and decode its JSON answer.
 * The one place the panel speaks HTTP.
 */
export async function requestAPI<T>(
  endPoint: string,
  params: Record<string, string | number | undefined> = {},
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const query = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  const url = URLExt.join(settings.baseUrl, 'fmc', 'api', endPoint) + (query ? `?${query}` : '');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
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
    throw new ApiError(response.status, data);
  }
  return data as T;
}

/** `encodeURIComponent` for a model reference used as one path segment. */
export function refPath(ref: string | number): string {
  return encodeURIComponent(String(ref));
}
