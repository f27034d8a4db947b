import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startTestServer, type TestServer } from './helpers.ts';

describe('health and docs', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('answers /healthz and /readyz', async () => {
    assert.deepEqual((await api(server, 'GET', '/healthz')).body, { status: 'ok' });
    const ready = await api(server, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });
  });

  it('serves the OpenAPI document and interactive docs at /docs', async () => {
    const spec = await api(server, 'GET', '/docs/json');
    assert.equal(spec.status, 200);
    assert.equal(spec.body.openapi.startsWith('3.'), true);
    assert.ok(spec.body.paths['/healthz']);
    const page = await fetch(`${server.url}/docs/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /swagger/i);
  });

  it('serves the docs page, its files and the document with CSP, nosniff and no referrer', async () => {
    for (const route of [
      '/docs/',
      '/docs/json',
      '/docs/static/swagger-ui.css',
      '/docs/static/swagger-initializer.js',
    ]) {
      const res = await fetch(server.url + route);
      assert.equal(res.status, 200, route);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'none'/, route);
      assert.match(csp, /frame-ancestors 'none'/, route);
      assert.match(csp, /script-src 'self'(;|$)/, route);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', route);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', route);
    }
    // Only the docs: the API keeps its own headers.
    assert.equal((await fetch(`${server.url}/healthz`)).headers.get('content-security-policy'), null);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await api(server, 'GET', '/nope');
    assert.equal(res.status, 404);
    assert.equal(res.body.error, 'not_found');
  });
});
