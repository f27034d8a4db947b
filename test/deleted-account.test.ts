import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/index.ts';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { openSocket } from './live-helpers.ts';
import { tableError } from './raw-http.ts';

/** A request every signed-in route accepts as far as validation, so only the token can fail it. */
function validRequest(operation: string): {
  json?: unknown;
  body?: FormData | Buffer;
  headers?: Record<string, string>;
} {
  const form = new FormData();
  form.append('file', new Blob([Buffer.from('OggS')]), 'a.ogg');
  const requests: Record<string, ReturnType<typeof validRequest>> = {
    'GET /api/auth/me': {},
    'GET /api/orgs/': {},
    'POST /api/orgs/': { json: { name: 'Team' } },
    'GET /api/orgs/{id}/members': {},
    'POST /api/orgs/{id}/members': { json: { email: 'someone@example.com', role: 'member' } },
    'DELETE /api/orgs/{id}/members/{userId}': {},
    'POST /api/recordings/upload': { body: form },
    'GET /api/recordings': {},
    'GET /api/recordings/{id}': {},
    'PATCH /api/recordings/{id}': { json: { name: 'Renamed' } },
    'DELETE /api/recordings/{id}': {},
    'GET /api/recordings/{id}/audio': {},
    'POST /api/recordings/stream': {
      body: Buffer.from('OggS'),
      headers: { 'content-type': 'application/octet-stream' },
    },
    'POST /api/recordings/stream/{id}/finish': {},
  };
  const request = requests[operation];
  assert.ok(request, `add a valid request for ${operation} to test/deleted-account.test.ts`);
  return request;
}

describe('a valid token whose account was deleted', () => {
  let server: TestServer & { schema?: string };
  let gone: TestUser;
  before(async () => {
    server = await startTestServer();
    gone = await registerUser(server);
    const database = openDatabase(server.config.databaseUrl, server.schema ? { schema: server.schema } : {});
    try {
      await database.db.deleteFrom('users').where('id', '=', gone.id).execute();
    } finally {
      await database.close();
    }
  });
  after(() => server.close());

  it('is refused with 401 invalid_token on every signed-in route (no foreign-key 500 on writes)', async () => {
    const document = (await api(server, 'GET', '/docs/json')).body;
    let checked = 0;
    for (const [route, methods] of Object.entries<Record<string, { security?: unknown[] }>>(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        if (!operation.security?.length) continue;
        const name = `${method.toUpperCase()} ${route}`;
        const url = route.replaceAll(/\{\w+\}/g, () => randomUUID());
        const res = await api(server, method.toUpperCase(), url, { token: gone.token, ...validRequest(name) });
        assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.body)}`);
        assert.equal(tableError(res.status, res.body, name).error, 'invalid_token');
        assert.match(res.headers.get('www-authenticate') ?? '', /invalid_token/);
        checked += 1;
      }
    }
    assert.ok(checked >= 14, `only ${checked} signed-in routes found`);
  });

  it('is refused on the audio route’s ?access_token= too', async () => {
    const res = await api(server, 'GET', `/api/recordings/${randomUUID()}/audio?access_token=${gone.token}`);
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'invalid_token');
  });

  it('cannot open a live session (close 1008 invalid_token)', async () => {
    const client = openSocket(server);
    client.send({ token: gone.token });
    const closed = await client.closed;
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /no longer exists/);
    assert.equal(client.messages.at(-1)?.error, 'invalid_token');
  });
});
