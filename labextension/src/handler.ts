import { ServerConnection } from '@jupyterlab/services';

import { FmcClient } from './client';

export { ApiError, refPath } from './client';

/** The one client of the panel, speaking through JupyterLab's `ServerConnection` (token, XSRF, base URL). */
export function makeClient(): FmcClient {
  const settings = ServerConnection.makeSettings();
  return new FmcClient({
    baseUrl: settings.baseUrl,
    fetch: (url, init) => ServerConnection.makeRequest(url, init, settings)
  });
}

let shared: FmcClient | null = null;

/** The client shared by the panel, the model pages and the diff views. */
export function client(): FmcClient {
  return (shared ??= makeClient());
}
