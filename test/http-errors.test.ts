import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { rawRequest, tableError } from './raw-http.ts';

/**
 * Errors answered before a route runs, or by a plugin, or for the reviewer's 500s, come from the one
 * error table like every other: `{error, message}` with the table's status.
 */
describe('errors outside the routes, in the table’s shape', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
  });
  after(() => server.close());

  const raw = async (request: string, status: number, error: string) => {
    const res = await rawRequest(server, request);
    assert.equal(res.status, status, `${JSON.stringify(request.slice(0, 60))}: ${res.status} ${res.body}`);
    assert.equal(tableError(res.status, res.body).error, error);
    return res;
  };

  it('answers what Node’s HTTP parser refuses: malformed requests, NUL in a header, oversized headers', async () => {
    await raw('NOT HTTP AT ALL\r\n\r\n', 400, 'bad_request');
    await raw('GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n', 400, 'bad_request');
    await raw('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400, 'bad_request');
    await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large');
  });

  it('answers what the router refuses: a URL that does not decode, an over-long path segment', async () => {
    await raw('GET /api/recordings/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 400, 'bad_request');
    const res = await api(server, 'PATCH', `/api/recordings/${'a'.repeat(200)}`, { token: user.token, json: {} });
    assert.equal(tableError(res.status, res.body).error, 'uri_too_long');
  });

  it('answers a plain GET of the WebSocket route and a body type no route takes', async () => {
    const plain = await api(server, 'GET', '/api/ws/record');
    assert.equal(tableError(plain.status, plain.body).error, 'not_found');
    const text = await api(server, 'POST', '/api/orgs', {
      token: user.token,
      body: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(tableError(text.status, text.body).error, 'unsupported_media');
  });
});

describe('the reviewer’s 500s and one validator', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
  });
  after(() => server.close());

  it('refuses limit=Infinity, -Infinity, 1e400 and every other non-decimal limit with 422', async () => {
    for (const limit of ['Infinity', '-Infinity', '1e400', 'NaN', '-1', '0', '1.5', '101', '0x10', '']) {
      const res = await api(server, 'GET', `/api/recordings?limit=${limit}`, { token: user.token });
      assert.equal(res.status, 422, `limit=${limit}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.message, /query\.limit/);
    }
    assert.equal((await api(server, 'GET', '/api/recordings?limit=7', { token: user.token })).status, 200);
  });

  it('never coerces or drops: the recordings and stream routes refuse what auth and orgs refuse', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const rename = await api(server, 'PATCH', `/api/recordings/${id}`, { token: user.token, json: { name: 5 } });
    assert.equal(rename.status, 422);
    assert.match(rename.body.message, /body\.name must be string/);
    const extra = await api(server, 'PATCH', `/api/recordings/${id}`, { token: user.token, json: { name: 'x', y: 1 } });
    assert.equal(extra.status, 422);
    assert.match(extra.body.message, /body\.y is not a known property/);
    const org = await api(server, 'POST', '/api/orgs', { token: user.token, json: { name: 5 } });
    assert.equal(org.status, 422);
    const stream = await api(server, 'POST', '/api/recordings/stream?final=1', {
      token: user.token,
      body: Buffer.from('OggS'),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(stream.status, 422);
    assert.match(stream.body.message, /query\.final/);
  });

  it('refuses control characters in e-mail addresses, passwords (NUL), names and org ids, naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/auth/login', { email: 'a\u0000@example.com', password: 'whatever' }, 'email'],
      ['POST', '/api/auth/login', { email: 'a@example.com', password: 'pass\u0000word' }, 'password'],
      ['POST', '/api/auth/register', { email: 'a\u001b@example.com', password: 'long enough pass' }, 'email'],
      ['POST', '/api/auth/register', { email: 'b@example.com', password: 'long enough pass', name: 'x\r\ny' }, 'name'],
      ['POST', '/api/orgs', { name: 'Team\u0007' }, 'name'],
      ['POST', '/api/orgs', { name: 'Team\u202e' }, 'name'],
      ['PATCH', '/api/recordings/00000000-0000-4000-8000-000000000000', { name: 'a\u0085b' }, 'name'],
    ];
    for (const [method, route, json, field] of cases) {
      const res = await api(server, method, route, { token: user.token, json });
      assert.equal(res.status, 422, `${route} ${JSON.stringify(json)}: ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.details.field, field);
    }
    const path = await api(server, 'GET', '/api/orgs/a%00b/members', { token: user.token });
    assert.equal(path.status, 422);
    const query = await api(server, 'GET', '/api/recordings?org_id=%00', { token: user.token });
    assert.equal(query.status, 422);
  });
});
