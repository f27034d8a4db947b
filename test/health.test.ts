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

  it('answers unknown routes with a JSON 404', async () => {
    const res = await api(server, 'GET', '/nope');
    assert.equal(res.status, 404);
    assert.equal(res.body.error, 'not_found');
  });
});
