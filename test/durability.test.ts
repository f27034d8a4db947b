/**
 * Received audio is never lost because something failed (issue 8): a media worker killed during
 * processing is retried, a recording that fails for good keeps its input and can be processed again,
 * a live recording whose saving fails is retried while the server runs, and nothing is left behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  api,
  eventually,
  registerUser,
  startTestServer,
  storeOf,
  type TestServer,
  type TestUser,
  testDialect,
  testPostgresUrl,
  waitForRecording,
} from './helpers.ts';
import { longFixture, sendAudio, startRecording } from './live-helpers.ts';
import { FIXTURES, longWav } from './speech.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

/** The media workers of the server running in this process. */
function killMediaWorkers(): number {
  const workers = String(execFileSync('ps', ['--ppid', String(process.pid), '-o', 'pid=,args=']))
    .split('\n')
    .filter((line) => /media\/worker\.ts/.test(line))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
  for (const pid of workers) process.kill(pid, 'SIGKILL');
  return workers.length;
}

async function upload(server: TestServer, user: TestUser, bytes: Buffer) {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(bytes)]), 'long.wav');
  const res = await api(server, 'POST', '/api/recordings/upload?wait=0', { token: user.token, body: form });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body;
}

/** Waits until the recording's processing has started (its progress moved). */
async function processingStarted(server: TestServer, user: TestUser, id: string): Promise<void> {
  await eventually(async () => {
    const current = await api(server, 'GET', `/api/recordings/${id}`, { token: user.token });
    assert.ok(current.body.progress > 0, 'processing has started');
  }, 30_000);
}

describe('processing failures keep what was received', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer({
      env: { MEDIA_WORKERS: '1', PROCESSING_RETRY_BASE_MS: '50', PROCESSING_MAX_ATTEMPTS: '2' },
    });
    user = await registerUser(server);
  });
  after(() => server.close());

  it('a media worker killed while processing an upload: the job runs again and the recording is ready', async () => {
    const recording = await upload(server, user, longWav(60));
    await processingStarted(server, user, recording.id);
    assert.ok(killMediaWorkers() > 0, 'found the media worker');
    const done = await waitForRecording(server, user, recording.id, 120_000);
    assert.equal(done.status, 'ready', JSON.stringify(done));
    assert.ok(Math.abs(done.duration_sec - 300) < 6);
    // Removed just after the recording turns ready, not in the same step.
    await eventually(async () =>
      assert.deepEqual(
        await storeOf(server).list(`inputs/${recording.id}/`),
        [],
        'the input goes once the audio is stored',
      ),
    );
  });

  it('failing for good keeps the input; "process again" makes the recording', async () => {
    const recording = await upload(server, user, longWav(60));
    const input = `inputs/${recording.id}/upload`;
    // Both attempts lose their worker.
    for (let attempt = 1; attempt <= 2; attempt++) {
      await processingStarted(server, user, recording.id);
      killMediaWorkers();
      if (attempt === 1) {
        await eventually(async () => {
          const current = await api(server, 'GET', `/api/recordings/${recording.id}`, { token: user.token });
          assert.equal(current.body.progress, 0, 'handed back for its second attempt');
        }, 30_000);
      }
    }
    const failed = await waitForRecording(server, user, recording.id, 60_000);
    assert.deepEqual([failed.status, failed.error_code], ['failed', 'internal']);
    assert.match(failed.error, /kept/);
    assert.ok(failed.input_kept_until > new Date().toISOString());
    assert.equal((await storeOf(server).stat(input))?.size, longWav(60).length, 'the upload is kept');

    const again = await api(server, 'POST', `/api/recordings/${recording.id}/reprocess`, { token: user.token });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.status, 'processing');
    const done = await waitForRecording(server, user, recording.id, 120_000);
    assert.equal(done.status, 'ready', JSON.stringify(done));
    const twice = await api(server, 'POST', `/api/recordings/${recording.id}/reprocess`, { token: user.token });
    assert.equal(twice.status, 409, 'only a failed recording is processed again');
  });

  it('a media refusal fails at once, without retries, and keeps the input for the retention period', async () => {
    const form = new FormData();
    form.set('file', new Blob([new Uint8Array(await readFile(path.join(FIXTURES, 'not-audio.mp3')))]), 'x.mp3');
    const res = await api(server, 'POST', '/api/recordings/upload?wait=0', { token: user.token, body: form });
    assert.equal(res.status, 202);
    const failed = await waitForRecording(server, user, res.body.id, 30_000);
    assert.deepEqual([failed.status, failed.error_code], ['failed', 'unsupported_media']);
    assert.ok(await storeOf(server).stat(`inputs/${res.body.id}/upload`), 'the input is kept');
  });
});

describe('live recordings end cleanly', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
  });
  after(() => server.close());

  it('a session that ends with no audio fails and leaves no spool folder behind', async () => {
    const { client, recordingId } = await startRecording(server, user);
    client.send({ action: 'stop' });
    const error = await client.next((m) => m.status === 'error');
    assert.equal(error.error, 'invalid_media');
    assert.equal((await client.closed).code, 4422);
    assert.equal((await waitForRecording(server, user, recordingId)).status, 'failed');
    await eventually(async () => {
      const spool = await readdir(path.join(server.dataDir, 'spool')).catch(() => [] as string[]);
      assert.ok(!spool.includes(recordingId), `spool: ${spool}`);
    });
  });
});

describe('a live recording whose saving fails is saved later, while the server runs', {
  skip: testDialect === 'postgres' ? false : 'PostgreSQL only: the database is cut through a TCP proxy',
}, () => {
  let proxy: TcpProxy;
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    const target = new URL(testPostgresUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(testPostgresUrl);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    server = await startTestServer({
      env: { DATABASE_URL: url.toString(), DB_CONNECT_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '1000' },
    });
    user = await registerUser(server);
  });
  after(async () => {
    await server?.close();
    await proxy?.close();
  });

  it('the database is gone at stop: the client is told, the recording waits, and is ready once it is back', async () => {
    const { bytes } = longFixture('webm', 6);
    const { client, recordingId } = await startRecording(server, user, { ack: true });
    await sendAudio(client, bytes);
    await client.next((m) => m.status === 'ack' && m.bytes === bytes.length, 15_000);
    proxy.cut();
    client.send({ action: 'stop' });
    const error = await client.next((m) => m.status === 'error', 30_000);
    assert.match(error.error, /unavailable/);
    assert.match(error.message, /finished automatically|unavailable/);
    const closed = await client.closed;
    assert.ok(closed.code === 1013 || closed.code === 1011, `close ${closed.code}`);
    proxy.restore();
    const done = await waitForRecording(server, user, recordingId, 90_000);
    assert.equal(done.status, 'ready', JSON.stringify(done));
    assert.equal(done.received_bytes, bytes.length);
  });
});
