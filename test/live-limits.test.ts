/**
 * Live recording limits and safety: origin check before the upgrade, frame sizes, sessions per user,
 * size and duration limits, idle timeout, backpressure, a media worker crash, graceful shutdown.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import {
  FIXTURES,
  longFixture,
  openSocket,
  probeAudio,
  sendAudio,
  startRecording,
  waitForRecording,
} from './live-helpers.ts';

const webm = readFileSync(path.join(FIXTURES, 'speech.webm'));

/** Status of the HTTP answer to an upgrade request (101 when it became a WebSocket). */
function upgradeStatus(server: TestServer, origin: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.wsUrl}/api/ws/record`, origin ? { headers: { origin } } : {});
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', (error) => reject(error));
  });
}

describe('live recording: limits and safety', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer({
      env: {
        ALLOWED_ORIGINS: 'https://app.example.com',
        LIVE_MAX_BINARY_FRAME_BYTES: String(64 * 1024),
        LIVE_MAX_SESSIONS_PER_USER: '2',
        LIVE_MAX_RECORDING_BYTES: '12000',
        LIVE_IDLE_TIMEOUT_MS: '1000',
        MAX_RECORDING_SECONDS: '3',
      },
    });
    user = await registerUser(server);
  });
  after(() => server.close());

  it('refuses a foreign Origin with 403 before the upgrade; allows none, its own and listed ones', async () => {
    assert.equal(await upgradeStatus(server, 'https://evil.example'), 403);
    assert.equal(await upgradeStatus(server, 'null'), 403);
    assert.equal(await upgradeStatus(server, undefined), 101);
    assert.equal(await upgradeStatus(server, server.url), 101);
    assert.equal(await upgradeStatus(server, 'https://app.example.com'), 101);
  });

  it('closes 1009 on a binary frame over the limit and on a text frame over 4 KiB', async () => {
    const { client } = await startRecording(server, user);
    client.send(Buffer.alloc(64 * 1024 + 1));
    assert.equal((await client.closed).code, 1009);

    const text = openSocket(server);
    text.send({ token: user.token, padding: 'x'.repeat(5000) });
    assert.equal((await text.closed).code, 1009);
    assert.equal(text.messages.at(-1)?.error, 'payload_too_large');
  });

  it('refuses a live session past the per-user limit with 4429 and a message', async () => {
    const limited = await registerUser(server);
    const first = await startRecording(server, limited);
    const second = await startRecording(server, limited);
    const third = openSocket(server);
    third.send({ token: limited.token });
    await third.next((m) => m.status === 'authenticated');
    third.send({ name: 'third', meeting_link: null, org_id: limited.orgId });
    const error = await third.next((m) => m.status === 'error');
    assert.equal(error.error, 'too_many_sessions');
    assert.match(error.message, /at most 2/);
    assert.equal((await third.closed).code, 4429);
    first.client.send({ action: 'stop' });
    second.client.send({ action: 'stop' });
    await Promise.all([first.client.closed, second.client.closed]);
  });

  it('at the size limit, saves what was received and closes 4413', async () => {
    const { client, recordingId } = await startRecording(server, user);
    await sendAudio(client, webm, { chunkBytes: 4000 });
    const error = await client.next((m) => m.status === 'error');
    assert.equal(error.error, 'recording_too_large');
    const saved = await client.next((m) => m.status === 'recording_saved');
    assert.equal(saved.bytes, 12_000);
    assert.equal((await client.closed).code, 4413);
    const recording = await waitForRecording(server, user, recordingId);
    assert.equal(recording.status, 'ready');
    assert.ok(recording.duration_sec > 1 && recording.duration_sec < 4.5, `${recording.duration_sec}`);
  });

  it('at the duration limit, saves what was received and closes 4413', async () => {
    const { client, recordingId } = await startRecording(server, user);
    // 5 s of audio at real-time pace, but the limit is 3 s.
    void sendAudio(client, webm.subarray(0, 11_000), { chunkBytes: 1000, bytesPerSecond: 4000 });
    const error = await client.next((m) => m.status === 'error', 10_000);
    assert.equal(error.error, 'media_too_long');
    assert.equal((await client.closed).code, 4413);
    assert.equal((await waitForRecording(server, user, recordingId)).status, 'ready');
  });

  it('closes an idle session with 4408; ping keeps it alive', async () => {
    const { client } = await startRecording(server, user);
    for (let i = 0; i < 3; i++) {
      await sleep(500);
      client.send({ action: 'ping' });
    }
    assert.equal(client.ws.readyState, WebSocket.OPEN);
    const closed = await client.closed;
    assert.equal(closed.code, 4408);
    assert.equal(client.messages.at(-1).error, 'idle_timeout');
  });
});

describe('live recording: backpressure, worker crash, shutdown', () => {
  let server: TestServer & { schema?: string };
  let user: TestUser;
  before(async () => {
    // Pre-recorded audio sent at full speed is what these tests need; the bound on audio ahead of
    // real time has tests of its own.
    server = await startTestServer({ env: { LIVE_MAX_SESSIONS_PER_USER: '10', LIVE_MAX_AUDIO_AHEAD_SECONDS: '3600' } });
    user = await registerUser(server);
  });
  after(() => server.close());

  it('a client sending much faster than real time is held back, the server stays responsive, nothing is lost', async () => {
    const { bytes, seconds } = longFixture('ogg', 300);
    const { client, recordingId } = await startRecording(server, user, { ack: true });
    let slowest = 0;
    let sending = true;
    const probe = (async () => {
      while (sending) {
        const started = Date.now();
        await fetch(`${server.url}/healthz`).catch(() => {});
        slowest = Math.max(slowest, Date.now() - started);
        await sleep(50);
      }
    })();
    // 5 minutes of audio (1.2 MB, over the 1 MiB high-water mark) in 64 KiB frames, as fast as TCP goes.
    await sendAudio(client, bytes, { chunkBytes: 64 * 1024 });
    client.send({ action: 'stop' });
    const saved = await client
      .next((m) => m.status === 'recording_saved', 120_000)
      .finally(() => {
        sending = false;
      });
    await probe;
    assert.equal(saved.bytes, bytes.length);
    assert.ok(Math.abs(saved.duration - seconds) / seconds < 0.02, `duration ${saved.duration}`);
    assert.ok(slowest < 2000, `health check took ${slowest} ms during the burst`);
    const probed = await probeAudio(server, user, recordingId);
    assert.ok(Math.abs(probed.duration - seconds) / seconds < 0.02);
  });

  it('if the media worker crashes mid-recording, the recording is rebuilt from the raw log', async () => {
    const { bytes, seconds } = longFixture('webm', 30);
    const { client, recordingId } = await startRecording(server, user);
    await sendAudio(client, bytes, { to: bytes.length / 2 });
    await sleep(200);
    const workers = String(execFileSync('ps', ['--ppid', String(process.pid), '-o', 'pid=,args=']))
      .split('\n')
      .filter((line) => /worker/.test(line))
      .map((line) => Number(line.trim().split(/\s+/)[0]));
    assert.ok(workers.length > 0, 'found the media workers');
    for (const pid of workers) process.kill(pid, 'SIGKILL');
    await sendAudio(client, bytes, { from: bytes.length / 2 });
    client.send({ action: 'stop' });
    const saved = await client.next((m) => m.status === 'recording_saved', 30_000);
    assert.equal(saved.bytes, bytes.length);
    assert.ok(Math.abs(saved.duration - seconds) / seconds < 0.02, `duration ${saved.duration}`);
    const recording = await waitForRecording(server, user, recordingId);
    assert.deepEqual([recording.status, recording.codec, recording.sample_rate], ['ready', 'opus', 16000]);
  });

  it('graceful shutdown saves live recordings, says so and closes 1001', async () => {
    const { bytes } = longFixture('webm', 30);
    const attached = await startRecording(server, user, { ack: true });
    const dropped = await startRecording(server, user);
    const handshaking = openSocket(server);
    await sendAudio(attached.client, bytes, { to: 40_000 });
    await sendAudio(dropped.client, bytes, { to: 30_000 });
    await sleep(200);
    dropped.client.ws.terminate();
    await sleep(100);
    await server.stop();
    const saved = attached.client.messages.find((m) => m.status === 'recording_saved');
    assert.equal(saved?.bytes, 40_000);
    // Everything received was made durable and acknowledged before the recording was saved and closed.
    const savedAt = attached.client.messages.indexOf(saved);
    const lastAck = attached.client.messages.slice(0, savedAt).findLast((m) => m.status === 'ack');
    assert.equal(lastAck?.bytes, 40_000);
    assert.equal((await attached.client.closed).code, 1001);
    assert.equal((await handshaking.closed).code, 1001);

    const again = await startTestServer({
      reuse: { dataDir: server.dataDir, ...(server.schema ? { schema: server.schema } : {}) },
    });
    try {
      for (const [id, size] of [
        [attached.recordingId, 40_000],
        [dropped.recordingId, 30_000],
      ] as const) {
        const recording = await waitForRecording(again, user, id, 1000);
        assert.equal(recording.status, 'ready');
        assert.equal(recording.received_bytes, size);
      }
    } finally {
      server = again;
    }
  });
});
