/**
 * The typed REST client against a real HTTP server (Node's http module) through Node's own fetch:
 * every method calls its route with the right method, path, query and body, and errors come back as ApiError.
 */
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';

import { ApiError, FmcClient, apiUrl, compatible, refPath } from '../client';
import { FRONTEND_VERSION } from '../version';

interface Seen {
  method: string;
  url: string;
  body: string;
}

let server: http.Server;
let base = '';
const seen: Seen[] = [];
/** what the server answers next: status and body text */
let answer: { status: number; body: string } = { status: 200, body: '{}' };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', chunk => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method || '', url: req.url || '', body });
      res.writeHead(answer.status, { 'Content-Type': 'application/json' });
      res.end(answer.body);
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/user/alice/`;
});

afterAll(() => new Promise<void>(resolve => server.close(() => resolve())));

beforeEach(() => {
  seen.length = 0;
  answer = { status: 200, body: '{}' };
});

const client = () => new FmcClient({ baseUrl: base, fetch: (url, init) => fetch(url, init) });

test('apiUrl joins the base URL, the route and the non-empty parameters, encoded', () => {
  expect(apiUrl('/user/a', 'models', { q: 'top1>=70% and name~"a b"', order: '-top1', offset: 0, limit: undefined, x: '' }))
    .toBe('/user/a/fmc/api/models?q=top1%3E%3D70%25%20and%20name~%22a%20b%22&order=-top1&offset=0');
  expect(refPath('net:v2/x')).toBe('net%3Av2%2Fx');
});

test.each([
  ['version', (c: FmcClient) => c.version(), 'GET', '/user/alice/fmc/api/version'],
  ['fields', (c: FmcClient) => c.fields(), 'GET', '/user/alice/fmc/api/fields'],
  ['facets', (c: FmcClient) => c.facets(), 'GET', '/user/alice/fmc/api/facets'],
  ['facetCounts', (c: FmcClient) => c.facetCounts('domain=medical'), 'GET', '/user/alice/fmc/api/facets/counts?q=domain%3Dmedical'],
  ['models', (c: FmcClient) => c.models('params<5M', '-top1', 200, 100), 'GET', '/user/alice/fmc/api/models?q=params%3C5M&order=-top1&offset=200&limit=100'],
  ['model', (c: FmcClient) => c.model('xray-net:v2'), 'GET', '/user/alice/fmc/api/models/xray-net%3Av2'],
  ['modelPage', (c: FmcClient) => c.modelPage(7), 'GET', '/user/alice/fmc/api/models/7/page'],
  ['versions', (c: FmcClient) => c.versions(7), 'GET', '/user/alice/fmc/api/models/7/versions'],
  ['runs', (c: FmcClient) => c.runs(7), 'GET', '/user/alice/fmc/api/models/7/runs'],
  ['rankings', (c: FmcClient) => c.rankings(7), 'GET', '/user/alice/fmc/api/models/7/rankings'],
  ['comments', (c: FmcClient) => c.comments(7), 'GET', '/user/alice/fmc/api/models/7/comments'],
  ['setVisibility', (c: FmcClient) => c.setVisibility(7, 'publish'), 'POST', '/user/alice/fmc/api/models/7/publish'],
  ['run', (c: FmcClient) => c.run(3), 'GET', '/user/alice/fmc/api/runs/3'],
  ['datasets', (c: FmcClient) => c.datasets(), 'GET', '/user/alice/fmc/api/datasets'],
  ['datasetRankings', (c: FmcClient) => c.datasetRankings('chest xrays'), 'GET', '/user/alice/fmc/api/datasets/chest%20xrays/rankings'],
  ['leaderboard', (c: FmcClient) => c.leaderboard('pets'), 'GET', '/user/alice/fmc/api/datasets/pets/leaderboard'],
  ['diff', (c: FmcClient) => c.diff('a:v1', 'a:v2'), 'GET', '/user/alice/fmc/api/diff?a=a%3Av1&b=a%3Av2'],
  ['diffView', (c: FmcClient) => c.diffView(1, 2), 'GET', '/user/alice/fmc/api/diff/view?a=1&b=2']
])('%s calls its route', async (_name, call, method, url) => {
  answer = { status: 200, body: '{"ok": true}' };
  await expect(call(client())).resolves.toEqual({ ok: true });
  expect(seen).toEqual([{ method, url, body: '' }]);
});

test('writes send JSON bodies', async () => {
  answer = { status: 201, body: '{"id": 1, "text": "hi"}' };
  expect(await client().addComment('net:v1', 'hi')).toEqual({ id: 1, text: 'hi' });
  await client().updateModel(4, { description: 'd', tags: 'a, b' });
  expect(seen.map(s => [s.method, s.url, JSON.parse(s.body)])).toEqual([
    ['POST', '/user/alice/fmc/api/models/net%3Av1/comments', { text: 'hi' }],
    ['PATCH', '/user/alice/fmc/api/models/4/page', { description: 'd', tags: 'a, b' }]
  ]);
});

test('an error answer becomes an ApiError with its status and JSON body', async () => {
  answer = { status: 400, body: JSON.stringify({ message: "unknown field 'tpoo1'", error: 'QueryError', query: 'tpoo1>1', position: 0 }) };
  const error = await client().models('tpoo1>1', '-top1', 0, 10).catch(e => e);
  expect(error).toBeInstanceOf(ApiError);
  expect(error.status).toBe(400);
  expect(error.message).toBe("unknown field 'tpoo1'");
  expect(error.body).toMatchObject({ error: 'QueryError', position: 0 });
});

test('an error answer that is not JSON keeps its text', async () => {
  answer = { status: 502, body: 'Bad Gateway' };
  const error = await client().datasets().catch(e => e);
  expect(error).toBeInstanceOf(ApiError);
  expect([error.status, error.message]).toEqual([502, 'Bad Gateway']);
});

test('an unreachable server is an ApiError with status 0', async () => {
  const dead = new FmcClient({ baseUrl: 'http://127.0.0.1:9/', fetch: (url, init) => fetch(url, init) });
  const error = await dead.version().catch(e => e);
  expect(error).toBeInstanceOf(ApiError);
  expect(error.status).toBe(0);
  expect(error.message).toMatch(/cannot reach the Jupyter server/);
});

test('the version check compares major.minor with the server', async () => {
  expect(compatible('0.1.0', '0.1.7')).toBe(true);
  expect(compatible('0.1.0', '0.2.0')).toBe(false);
  answer = { status: 200, body: JSON.stringify({ version: FRONTEND_VERSION, user: 'alice', stamp: 's' }) };
  expect(await client().versionProblem()).toBeNull();
  answer = { status: 200, body: JSON.stringify({ version: '9.0.0', user: 'alice', stamp: 's' }) };
  expect(await client().versionProblem()).toMatch(/\(9\.0\.0\) come from different releases/);
});

test('the front end version is the package version', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  expect(FRONTEND_VERSION).toBe(pkg.version);
});

test('the report link is a URL of the API', () => {
  expect(client().reportUrl(12)).toBe(`${base}fmc/api/runs/12/report`);
});
