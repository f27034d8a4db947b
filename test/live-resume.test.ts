/**
 * Live recording durability: resume after a dropped connection (no gap, no duplicate), takeover, the
 * grace period, and a SIGKILL of the server mid-recording with nothing acknowledged lost.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import {
  decodedSeconds,
  type LiveClient,
  longFixture,
  openSocket,
  probeAudio,
  sendAudio,
  startRecording,
  waitForRecording,
} from './live-helpers.ts';

const GRACE_MS = 1500;

async function resumeRecording(server: Pick<TestServer, 'wsUrl'>, user: TestUser, recordingId: string) {
  const client = openSocket(server);
  client.send({ token: user.token });
  await client.next((m) => m.status === 'authenticated');
  client.send({ resume: recordingId, ack: true });
  const resumed = await client.next((m) => m.status !== 'authenticated');
  return { client, resumed };
}

async function lastAck(client: LiveClient, atLeast: number): Promise<number> {
  await client.next((m) => m.status === 'ack' && m.bytes >= atLeast, 10_000);
  return Math.max(...client.messages.filter((m) => m.status === 'ack').map((m) => m.bytes));
}

describe('live recording: resume and grace period', () => {
  let server: TestServer;
  let user: TestUser;
  let other: TestUser;
  const audio = longFixture('webm', 30);
  before(async () => {
    server = await startTestServer({ env: { LIVE_RESUME_GRACE_MS: String(GRACE_MS) } });
    [user, other] = await Promise.all([registerUser(server), registerUser(server)]);
  });
  after(() => server.close());

  for (const waitForAcks of [true, false]) {
    it(`resumes after a dropped TCP connection with no gap and no duplicate (${waitForAcks ? 'after acks' : 'mid-flight'})`, async () => {
      const { bytes, seconds } = audio;
      const { client, recordingId } = await startRecording(server, user, { ack: true });
      const cut = Math.floor(bytes.length * 0.45);
      await sendAudio(client, bytes, { to: cut, chunkBytes: 3000 });
      const acked = waitForAcks ? await lastAck(client, cut) : 0;
      client.ws.terminate(); // no close frame: the server sees 1006
      await client.closed;
      await sleep(50);
      assert.equal(
        (await api(server, 'GET', `/api/recordings/${recordingId}`, { token: user.token })).body.status,
        'receiving',
      );

      const { client: again, resumed } = await resumeRecording(server, user, recordingId);
      assert.equal(resumed.status, 'recording_resumed');
      assert.equal(resumed.recording_id, recordingId);
      assert.ok(resumed.bytes >= acked && resumed.bytes <= cut, `resume at ${resumed.bytes}, acked ${acked}`);
      await sendAudio(again, bytes, { from: resumed.bytes, chunkBytes: 5000 });
      again.send({ action: 'stop' });
      const saved = await again.next((m) => m.status === 'recording_saved');
      assert.equal(saved.bytes, bytes.length, 'every byte exactly once');
      assert.ok(Math.abs(saved.duration - seconds) / seconds < 0.02, `duration ${saved.duration}`);
      const probed = await probeAudio(server, user, recordingId);
      assert.deepEqual([probed.codec, probed.sampleRate, probed.channels], ['opus', 16000, 1]);
      assert.ok(Math.abs(probed.duration - seconds) / seconds < 0.02, `probed ${probed.duration}`);
    });
  }

  it('only the owner can resume; unknown ids get 4404', async () => {
    const { client, recordingId } = await startRecording(server, user);
    for (const [who, id] of [
      [other, recordingId],
      [user, '00000000-0000-4000-8000-000000000000'],
    ] as const) {
      const { client: intruder, resumed } = await resumeRecording(server, who, id);
      assert.equal(resumed.error, 'not_found');
      assert.equal((await intruder.closed).code, 4404);
    }
    assert.equal(client.ws.readyState, client.ws.OPEN);
    client.ws.close();
  });

  it('a resume while still attached takes the session over and closes the old socket with 4409', async () => {
    const { bytes } = audio;
    const { client: first, recordingId } = await startRecording(server, user);
    await sendAudio(first, bytes, { to: 20_000 });
    const { client: second, resumed } = await resumeRecording(server, user, recordingId);
    assert.equal(resumed.status, 'recording_resumed');
    const closed = await first.closed;
    assert.equal(closed.code, 4409);
    assert.equal(first.messages.at(-1).error, 'session_taken_over');
    await sendAudio(second, bytes, { from: resumed.bytes });
    second.send({ action: 'stop' });
    const saved = await second.next((m) => m.status === 'recording_saved');
    assert.equal(saved.bytes, bytes.length);
  });

  it('an abandoned session is finalised after the grace period with everything received', async () => {
    const { bytes, seconds } = audio;
    const { client, recordingId } = await startRecording(server, user);
    const cut = Math.floor(bytes.length / 3);
    await sendAudio(client, bytes, { to: cut });
    await sleep(100);
    const droppedAt = Date.now();
    client.ws.terminate();
    await sleep(GRACE_MS / 2);
    assert.equal(
      (await api(server, 'GET', `/api/recordings/${recordingId}`, { token: user.token })).body.status,
      'receiving',
    );
    const recording = await waitForRecording(server, user, recordingId);
    assert.ok(Date.now() - droppedAt >= GRACE_MS);
    assert.equal(recording.status, 'ready');
    assert.equal(recording.received_bytes, cut);
    const expected = decodedSeconds(bytes.subarray(0, cut));
    assert.ok(Math.abs(recording.duration_sec - expected) < 0.5, `${recording.duration_sec} vs ${expected}`);
    assert.ok(recording.duration_sec < seconds / 2);
  });
});

describe('live recording: SIGKILL of the server mid-recording', () => {
  it('keeps every acknowledged byte, lets the client resume after the restart, finalises the rest', async () => {
    const { bytes, seconds } = longFixture('webm', 30);
    // A first server creates the data folder (and PostgreSQL schema) the child process then uses.
    const first = await startTestServer();
    const { dataDir, schema, config } = first as TestServer & { schema?: string };
    await first.stop();

    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'live-server-child.ts')], {
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        MEDIA_WORKERS: '1',
        AUTH_RATE_LIMIT_PER_IP: '100000',
        ...(schema ? { DATABASE_URL: config.databaseUrl, EARSHOT_DB_SCHEMA: schema } : {}),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const port = JSON.parse(String(line)).port as number;
    const crashed = { url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}` };
    const user = await registerUser(crashed);

    // A: will resume after the restart. B: never comes back, finalised after the grace period.
    const a = await startRecording(crashed, user, { ack: true });
    const b = await startRecording(crashed, user, { ack: true });
    const cut = Math.floor(bytes.length * 0.6);
    await Promise.all([sendAudio(a.client, bytes, { to: cut }), sendAudio(b.client, bytes, { to: cut })]);
    const ackedA = await lastAck(a.client, cut);
    const ackedB = await lastAck(b.client, cut);
    // More audio in flight, unacknowledged, when the process dies.
    void sendAudio(a.client, bytes, { from: cut, to: cut + 8000, chunkBytes: 1000 });
    child.kill('SIGKILL');
    await once(child, 'exit');
    await Promise.all([a.client.closed, b.client.closed]);

    const restarted = await startTestServer({
      reuse: { dataDir, ...(schema ? { schema } : {}) },
      env: { LIVE_RESUME_GRACE_MS: '3000' },
    });
    try {
      const { client, resumed } = await resumeRecording(restarted, user, a.recordingId);
      assert.equal(resumed.status, 'recording_resumed');
      assert.ok(resumed.bytes >= ackedA, `resumed at ${resumed.bytes}, acked ${ackedA}`);
      await sendAudio(client, bytes, { from: resumed.bytes });
      client.send({ action: 'stop' });
      const saved = await client.next((m) => m.status === 'recording_saved', 30_000);
      assert.equal(saved.bytes, bytes.length);
      assert.ok(Math.abs(saved.duration - seconds) / seconds < 0.02, `duration ${saved.duration}`);

      const recordingB = await waitForRecording(restarted, user, b.recordingId, 30_000);
      assert.equal(recordingB.status, 'ready');
      assert.ok(recordingB.received_bytes >= ackedB);
      const ackedSeconds = decodedSeconds(bytes.subarray(0, ackedB));
      assert.ok(recordingB.duration_sec >= ackedSeconds - 0.1, `${recordingB.duration_sec} < acked ${ackedSeconds}`);
      const probed = await probeAudio(restarted, user, b.recordingId);
      assert.deepEqual([probed.format, probed.codec, probed.sampleRate, probed.channels], ['ogg', 'opus', 16000, 1]);
    } finally {
      await restarted.close();
    }
  });
});
