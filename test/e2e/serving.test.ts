/**
 * How the server serves the built page (src/web/web.routes.ts): caching, the SPA fallback, and that
 * API and docs paths are never answered with the page. Runs in the e2e suite, after the page is built.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers.ts';

const dist = path.resolve(import.meta.dirname, '../../web/dist');

describe('serving the web page', () => {
  let server: TestServer;
  const get = (route: string, accept = 'text/html,*/*', method = 'GET') =>
    fetch(server.url + route, { method, headers: { accept }, redirect: 'manual' });

  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  test('index.html at / is revalidated on every load and carries the page security headers', async () => {
    const response = await get('/');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.match(await response.text(), /<div id="app">/);
    assert.equal((await get('/', 'text/html', 'HEAD')).status, 200);
  });

  test('hashed assets are cached for a year as immutable', async () => {
    const assets = await readdir(path.join(dist, 'assets'));
    const script = assets.find((name) => /^index-[\w-]+\.js$/.test(name));
    assert.ok(script, 'the build has a hashed entry script');
    const response = await get(`/assets/${script}`, '*/*');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /javascript/);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  });

  test('other page paths fall back to index.html; API, docs and missing files do not', async () => {
    const deep = await get('/recordings/some-id');
    assert.equal(deep.status, 200);
    assert.match(await deep.text(), /<div id="app">/);

    const api = await get('/api/no-such-route');
    assert.equal(api.status, 404);
    assert.equal((await api.json()).error, 'not_found');

    const docs = await get('/docs/json', 'application/json');
    assert.equal(docs.status, 200);
    assert.ok((await docs.json()).openapi);

    assert.equal((await get('/missing.js', '*/*')).status, 404, 'a missing file is a 404 for non-HTML requests');
    assert.equal((await get('/assets/index-missing.js')).status, 404, 'a missing asset never gets the page');
  });

  test('paths cannot climb out of web/dist', async () => {
    for (const route of ['/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/package.json', '/../../package.json']) {
      const response = await get(route, '*/*');
      assert.notEqual(response.status, 200, route);
      assert.doesNotMatch(await response.text(), /"name": "earshot"/, route);
    }
  });
});
