import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { openSocket } from './live-helpers.ts';
import { rawRequest, tableError } from './raw-http.ts';

/**
 * HTTP_IDLE_TIMEOUT_MS: a request that stops sending is cut, one that keeps sending is not, and the
 * server's own silence (processing) is not the client's. Stalls are made with raw sockets that declare
 * `Content-Length: 60000` and send one byte.
 */
const IDLE_MS = 500;
const FIXTURES = path.join(import.meta.dirname, 'fixtures');

describe('idle requests', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer({ env: { HTTP_IDLE_TIMEOUT_MS: String(IDLE_MS) } });
    user = await registerUser(server);
  });
  after(() => server.close());

  const head = (route: string, contentType: string, extra = '') =>
    `POST ${route} HTTP/1.1\r\nHost: earshot.test\r\nAuthorization: Bearer ${user.token}\r\n` +
    `Content-Type: ${contentType}\r\nContent-Length: 60000\r\n${extra}\r\n`;

  async function expectCut(request: string, firstBytes: string) {
    const res = await rawRequest(server, [request, firstBytes], { waitMs: 20 * IDLE_MS });
    assert.equal(res.status, 408, `${res.status} ${res.body}`);
    assert.equal(tableError(res.status, res.body).error, 'request_timeout');
    assert.equal(res.headers.connection, 'close');
    assert.ok(res.closed, 'the server closes the connection');
  }

  it('answers a JSON body that stalls with 408 and closes the connection', async () => {
    await expectCut(head('/api/auth/login', 'application/json'), '{');
  });

  it('answers an upload that stalls with 408 and keeps nothing', async () => {
    const part = '--B\r\nContent-Disposition: form-data; name="file"; filename="a.ogg"\r\n\r\nOggS';
    await expectCut(head('/api/recordings/upload', 'multipart/form-data; boundary=B'), part);
    assert.deepEqual(await readdir(path.join(server.dataDir, 'spool')).catch(() => []), []);
  });

  it('answers a stream chunk that stalls with 408', async () => {
    await expectCut(head('/api/recordings/stream', 'application/octet-stream'), 'O');
  });

  it('closes a body nobody reads (an unknown route) and headers that stall (a WebSocket upgrade)', async () => {
    const unread = await rawRequest(server, head('/api/nothing-here', 'application/octet-stream'), {
      waitMs: 20 * IDLE_MS,
    });
    assert.equal(unread.status, 404);
    assert.ok(unread.closed);
    const upgrade = await rawRequest(
      server,
      'GET /api/ws/record HTTP/1.1\r\nHost: earshot.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n',
      { waitMs: 20 * IDLE_MS },
    );
    assert.deepEqual([upgrade.status, upgrade.closed], [0, true], upgrade.body);
  });

  it('lets a slow body through as long as bytes keep coming, however long it takes in total', async () => {
    const body = JSON.stringify({ email: user.email, password: user.password });
    async function* slowly() {
      yield 'POST /api/auth/login HTTP/1.1\r\nHost: earshot.test\r\nContent-Type: application/json\r\n';
      yield `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
      // One character every tenth of the idle timeout: the whole body takes several idle periods.
      for (const piece of body) {
        await sleep(IDLE_MS / 10);
        yield piece;
      }
    }
    const res = await rawRequest(server, slowly(), { waitMs: 60_000 });
    assert.equal(res.status, 200, res.body);
  });

  it('keeps a complete request whose answer takes longer than the idle timeout (the server is busy)', async () => {
    // Ten minutes of speech: processing takes seconds, in which the server sends nothing.
    const source = await readFile(path.join(FIXTURES, 'speech.wav'));
    const dataAt = source.indexOf('data') + 8;
    const pcm = source.subarray(dataAt);
    const header = Buffer.from(source.subarray(0, dataAt));
    header.writeUInt32LE(36 + pcm.length * 120, 4);
    header.writeUInt32LE(pcm.length * 120, dataAt - 4);
    const form = new FormData();
    form.append('file', new Blob([header, ...Array.from({ length: 120 }, () => pcm)]), 'long.wav');
    const res = await api(server, 'POST', '/api/recordings/upload?wait=30', { token: user.token, body: form });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });

  it('leaves WebSocket sessions to the live protocol’s own timeouts', async () => {
    const client = openSocket(server);
    client.send({ token: user.token });
    await client.next((m) => m.status === 'authenticated');
    await sleep(3 * IDLE_MS); // silent for longer than the HTTP idle timeout
    client.send({ name: 'quiet start', meeting_link: '', org_id: user.orgId });
    assert.ok(await client.next((m) => m.status === 'recording_started'));
    client.ws.close();
  });
});
