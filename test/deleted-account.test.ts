import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/index.ts';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { openSocket } from './live-helpers.ts';
import { operations, urlFor, validJsonBody } from './openapi.ts';
import { tableError } from './raw-http.ts';

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
    // Requests that pass validation (which runs before authentication), built from each route's schemas.
    const secured = (await operations(server)).filter((operation) => operation.secured);
    assert.ok(secured.length >= 12, `only ${secured.length} signed-in routes found`);
    for (const operation of secured) {
      const name = `${operation.method} ${operation.path}`;
      const json = validJsonBody(operation);
      const res = await api(server, operation.method, urlFor(operation), {
        token: gone.token,
        ...(json === undefined ? {} : { json }),
      });
      assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.body)}`);
      // A HEAD answer has no body: its status and WWW-Authenticate say it all.
      if (operation.method !== 'HEAD') assert.equal(tableError(res.status, res.body, name).error, 'invalid_token');
      assert.match(res.headers.get('www-authenticate') ?? '', /invalid_token/);
    }
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
