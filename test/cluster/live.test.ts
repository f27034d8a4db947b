/**
 * Live recordings that survive the loss of a node (issue 10): three real nodes behind HAProxy, the
 * reference client keeping its audio until it is committed to shared storage.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type LiveClientEvent, LiveRecordingClient } from '@earshot/live-client';
import pg from 'pg';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { eventually, registerUser, type TestUser, waitForRecording } from '../helpers.ts';
import { decodedSeconds, longFixture, openSocket } from '../live-helpers.ts';
import { type Cluster, clusterToolsPresent, startCluster } from './cluster.ts';

const skip = clusterToolsPresent() ? false : 'haproxy or radosgw missing: .ci/run installs them';
/** One Opus frame: how close a finished recording's duration must be to what was sent. */
const FRAME_SEC = 0.02;

/** The committed raw log of a live recording, as any node would rebuild it from the store. */
async function committedLog(store: BlobStore, recordingId: string): Promise<Buffer> {
  const prefix = `inputs/${recordingId}/live/`;
  const byStart = new Map<number, { key: string; size: number }>();
  for (const object of await store.list(prefix)) {
    const start = Number(object.key.slice(prefix.length).split('-')[0]);
    const known = byStart.get(start);
    if (!known || object.size > known.size) byStart.set(start, object);
  }
  const parts: Buffer[] = [];
  for (let offset = 0, next = byStart.get(0); next; next = byStart.get(offset)) {
    for await (const piece of await store.read(next.key)) parts.push(piece as Buffer);
    offset += next.size;
  }
  return Buffer.concat(parts);
}

async function ownerOf(cluster: Cluster, recordingId: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: cluster.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query('select lease_owner from recordings where id = $1', [recordingId]);
    return rows[0]?.lease_owner ?? null;
  } finally {
    await client.end();
  }
}

/** Sends `bytes[from, to)` through the client in 4 KiB pieces, `piecesPerTick` at a time. */
async function feed(client: LiveRecordingClient, bytes: Buffer, from: number, to: number): Promise<void> {
  for (let offset = from; offset < to; offset += 4096) {
    client.send(bytes.subarray(offset, Math.min(to, offset + 4096)));
    if (((offset - from) / 4096) % 8 === 7) await sleep(20);
  }
}

describe('cluster: live recordings survive the loss of a node', { skip }, () => {
  let cluster: Cluster;
  let user: TestUser;

  before(async () => {
    cluster = await startCluster({
      nodes: 3,
      env: {
        LIVE_RESUME_GRACE_MS: '6000',
        LIVE_MAX_SESSIONS_PER_USER: '40',
        // Pre-recorded audio is sent faster than real time; the bound on that has tests of its own.
        LIVE_MAX_AUDIO_AHEAD_SECONDS: '3600',
      },
    });
    user = await registerUser(cluster);
  });
  after(() => cluster?.close());

  it('20 sessions: one node is killed and its disk lost; every recording resumes elsewhere and comes out whole', async () => {
    const { bytes } = longFixture('webm', 20);
    const expectedSec = decodedSeconds(bytes);
    const sessions = Array.from({ length: 20 }, (_, i) => {
      const events: LiveClientEvent[] = [];
      const client = new LiveRecordingClient({
        url: `${cluster.wsUrl}/api/ws/record`,
        token: user.token,
        metadata: { name: `meeting ${i}`, meeting_link: '', org_id: user.orgId },
        reconnectForMs: 60_000,
        onEvent: (event) => events.push(event),
      });
      return { client, events };
    });
    await Promise.all(sessions.map(({ client }) => client.start()));
    const half = Math.floor(bytes.length / 2);
    await Promise.all(sessions.map(({ client }) => feed(client, bytes, 0, half)));
    await eventually(() => {
      for (const { client } of sessions) assert.equal(client.committedBytes, half);
    }, 30_000);

    // The node holding the most sessions dies, and its disk with it.
    const owners = await Promise.all(sessions.map(({ client }) => ownerOf(cluster, client.recordingId!)));
    const counts = new Map<string, number>();
    for (const owner of owners) counts.set(owner!, (counts.get(owner!) ?? 0) + 1);
    const victimId = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const victim = cluster.nodes.findIndex((node) => node.id === victimId);
    const moved = owners.filter((owner) => owner === victimId).length;
    assert.ok(moved > 0);
    await cluster.kill(victim, { signal: 'SIGKILL', wipe: true });
    try {
      await Promise.all(sessions.map(({ client }) => feed(client, bytes, half, bytes.length)));
      await eventually(() => {
        for (const { client } of sessions) assert.equal(client.committedBytes, bytes.length);
      }, 60_000);
      for (const { client } of sessions) {
        assert.deepEqual(await committedLog(cluster.store, client.recordingId!), bytes, 'the raw log is what was sent');
      }
      const resumed = sessions.filter(({ events }) => events.some((event) => event.type === 'resumed')).length;
      assert.ok(resumed >= moved, `${resumed} sessions resumed, ${moved} were on the dead node`);
      for (const { client } of sessions) {
        const owner = await ownerOf(cluster, client.recordingId!);
        assert.notEqual(owner, victimId, 'no recording is left with the dead node');
      }

      const saved = await Promise.all(sessions.map(({ client }) => client.stop()));
      for (const result of saved) {
        const done = await waitForRecording(cluster, user, result.recordingId, 120_000);
        assert.equal(done.status, 'ready', JSON.stringify(done));
        assert.ok(
          Math.abs(done.duration_sec - expectedSec) <= FRAME_SEC,
          `duration ${done.duration_sec} vs ${expectedSec} sent`,
        );
      }
    } finally {
      await cluster.start(victim);
    }
  });

  it('a resume on another node while the owner lives fences the owner: one recording, nothing twice', async () => {
    const { bytes } = longFixture('ogg', 12);
    const [a, b] = [cluster.nodes[0]!, cluster.nodes[1]!];
    const first = openSocket({ wsUrl: a.url.replace('http', 'ws') });
    first.send({ token: user.token });
    await first.next((m) => m.status === 'authenticated');
    first.send({ name: 'blip', meeting_link: '', org_id: user.orgId, ack: true, commit: true });
    const { recording_id: id } = await first.next((m) => m.status === 'recording_started');
    const part = Math.floor(bytes.length * 0.6);
    for (let offset = 0; offset < part; offset += 4096)
      first.send(bytes.subarray(offset, Math.min(part, offset + 4096)));
    const committed = await first.next((m) => m.status === 'committed' && m.bytes === part, 15_000);
    assert.equal(committed.bytes, part);
    assert.equal(await ownerOf(cluster, id), a.id);

    // The network blips: the client comes back through another node while the first still holds on.
    const second = openSocket({ wsUrl: b.url.replace('http', 'ws') });
    second.send({ token: user.token });
    await second.next((m) => m.status === 'authenticated');
    second.send({ resume: id, ack: true, commit: true });
    const resumed = await second.next((m) => m.status === 'recording_resumed');
    assert.equal(resumed.committed, part);
    assert.equal(resumed.bytes, part);
    assert.equal(await ownerOf(cluster, id), b.id);
    const fenced = await first.closed;
    assert.equal(fenced.code, 4409, 'the old owner let go');
    assert.ok(first.messages.some((m) => m.status === 'error' && m.error === 'session_taken_over'));

    for (let offset = resumed.bytes; offset < bytes.length; offset += 4096) {
      second.send(bytes.subarray(offset, Math.min(bytes.length, offset + 4096)));
    }
    await second.next((m) => m.status === 'committed' && m.bytes === bytes.length, 15_000);
    assert.deepEqual(await committedLog(cluster.store, id), bytes);
    second.send({ action: 'stop' });
    const saved = await second.next((m) => m.status === 'recording_saved', 60_000);
    assert.equal(saved.recording_id, id);
    const done = await waitForRecording(cluster, user, id, 60_000);
    assert.equal(done.status, 'ready');
    assert.ok(Math.abs(done.duration_sec - decodedSeconds(bytes)) <= FRAME_SEC, `duration ${done.duration_sec}`);
  });

  it('a client that never comes back: a surviving node finishes the recording from its segments', async () => {
    const { bytes } = longFixture('webm', 8);
    const victim = 2;
    const node = cluster.nodes[victim]!;
    const socket = openSocket({ wsUrl: node.url.replace('http', 'ws') });
    socket.send({ token: user.token });
    await socket.next((m) => m.status === 'authenticated');
    socket.send({ name: 'orphan', meeting_link: '', org_id: user.orgId, commit: true });
    const { recording_id: id } = await socket.next((m) => m.status === 'recording_started');
    for (let offset = 0; offset < bytes.length; offset += 4096) socket.send(bytes.subarray(offset, offset + 4096));
    await socket.next((m) => m.status === 'committed' && m.bytes === bytes.length, 15_000);
    await cluster.kill(victim, { signal: 'SIGKILL', wipe: true });
    try {
      const done = await waitForRecording(cluster, user, id, 120_000);
      assert.equal(done.status, 'ready', JSON.stringify(done));
      assert.ok(Math.abs(done.duration_sec - decodedSeconds(bytes)) <= FRAME_SEC, `duration ${done.duration_sec}`);
    } finally {
      await cluster.start(victim);
    }
  });
});
