/**
 * Cluster mode (issue 9): three real nodes on one PostgreSQL database and one S3-compatible store
 * (radosgw), behind HAProxy round-robin with no stickiness.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { api, eventually, registerUser, storedBytes, type TestUser, waitForRecording } from '../helpers.ts';
import { openSocket, startRecording } from '../live-helpers.ts';
import { FIXTURES, longWav } from '../speech.ts';
import { type Cluster, clusterToolsPresent, startCluster } from './cluster.ts';

const skip = clusterToolsPresent() ? false : 'haproxy or radosgw missing: .ci/run installs them';

async function upload(url: string, user: TestUser, bytes: Buffer, name: string, query = '') {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(bytes)]), name);
  return api({ url }, 'POST', `/api/recordings/upload${query}`, { token: user.token, body: form });
}

async function sql<T>(cluster: Cluster, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: cluster.databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('cluster: three nodes behind a load balancer', { skip }, () => {
  let cluster: Cluster;
  let user: TestUser;

  before(async () => {
    cluster = await startCluster({ nodes: 3, env: { AUTH_RATE_LIMIT_PER_ACCOUNT: '5' } });
    user = await registerUser(cluster);
  });
  after(() => cluster?.close());

  /** The id of the node whose worker has claimed the recording's processing job, once one has. */
  const nodeProcessing = (recordingId: string) =>
    eventually(async () => {
      const rows = await sql<{ locked_by: string }>(
        cluster,
        'select locked_by from jobs where recording_id = $1 and locked_by is not null',
        [recordingId],
      );
      assert.equal(rows.length, 1);
      return rows[0]!.locked_by;
    }, 30_000);

  it('processes uploads through the balancer, whatever node takes the job', async () => {
    const wav = await readFile(path.join(FIXTURES, 'speech.wav'));
    const answeredBy = new Set<string>();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await upload(cluster.url, user, wav, `clip-${i}.wav`, '?wait=0');
      assert.ok(res.status === 201 || res.status === 202, JSON.stringify(res.body));
      answeredBy.add(res.headers.get('x-earshot-node') ?? '');
      ids.push(res.body.id);
    }
    assert.equal(answeredBy.size, 3, `round robin over every node: ${[...answeredBy]}`);
    for (const id of ids) {
      const done = await waitForRecording(cluster, user, id, 60_000);
      assert.deepEqual([done.status, done.codec, done.sample_rate, done.channels], ['ready', 'opus', 16000, 1]);
      assert.ok(Math.abs(done.duration_sec - 5) < 0.1, `duration ${done.duration_sec}`);
    }
  });

  it('takes a chunked stream whose chunks alternate between nodes, byte for byte', async () => {
    const ogg = await readFile(path.join(FIXTURES, 'speech.ogg'));
    const send = (node: number, body: Buffer, query: string) =>
      api({ url: cluster.nodes[node]!.url }, 'POST', `/api/recordings/stream${query}`, {
        token: user.token,
        body,
        headers: { 'content-type': 'application/octet-stream' },
      });
    const first = await send(0, ogg.subarray(0, 3000), '');
    assert.equal(first.status, 201);
    const id = first.body.recording_id;
    let offset = 3000;
    for (let i = 1; offset < ogg.length; i++) {
      const end = Math.min(ogg.length, offset + 2500 + i * 37);
      // Every other chunk states no offset, as the seed's clients send them.
      const query = i % 2 ? `?recording_id=${id}&offset=${offset}` : `?recording_id=${id}`;
      const res = await send(i % 3, ogg.subarray(offset, end), query);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.offset, end);
      assert.equal(res.headers.get('x-earshot-node'), cluster.nodes[i % 3]!.id);
      // A retry of the same chunk on another node changes nothing.
      const retry = await send((i + 1) % 3, ogg.subarray(offset, end), `?recording_id=${id}&offset=${offset}`);
      assert.deepEqual([retry.status, retry.body.offset], [200, end]);
      offset = end;
    }
    assert.deepEqual(await storedBytes(cluster, `inputs/${id}/stream/`), ogg);
    const gap = await send(1, ogg.subarray(0, 10), `?recording_id=${id}&offset=${ogg.length + 10}`);
    assert.deepEqual([gap.status, gap.body.details.offset], [409, ogg.length]);
    const finished = await api({ url: cluster.nodes[2]!.url }, 'POST', `/api/recordings/stream/${id}/finish`, {
      token: user.token,
    });
    assert.ok(finished.status === 200 || finished.status === 202, JSON.stringify(finished.body));
    const done = await waitForRecording(cluster, user, id, 60_000);
    assert.equal(done.status, 'ready');
    assert.ok(Math.abs(done.duration_sec - 5) < 0.1);
  });

  it('finishes on another node the job of a node killed with SIGKILL, once its lease expires', async () => {
    const res = await upload(cluster.url, user, longWav(120), 'ten-minutes.wav', '?wait=0');
    assert.equal(res.status, 202);
    const id = res.body.id;
    const claimedBy = await nodeProcessing(id);
    const victim = cluster.nodes.findIndex((node) => node.id === claimedBy);
    assert.ok(victim >= 0, `job claimed by ${claimedBy}`);
    await eventually(async () => {
      const current = await api(cluster, 'GET', `/api/recordings/${id}`, { token: user.token });
      assert.ok(current.body.progress > 0, 'processing has started');
    }, 30_000);
    await cluster.kill(victim, { signal: 'SIGKILL' });
    try {
      const done = await waitForRecording(cluster, user, id, 120_000);
      assert.equal(done.status, 'ready', JSON.stringify(done));
      assert.ok(Math.abs(done.duration_sec - 600) < 12, `duration ${done.duration_sec}`);
      const [job] = await sql<{ attempts: number }>(cluster, 'select attempts from jobs where recording_id = $1', [id]);
      // Claimed again after the kill: a second attempt, or already gone.
      if (job) assert.equal(job.attempts, 2);
      await eventually(async () =>
        assert.deepEqual(await sql(cluster, 'select id from jobs where recording_id = $1', [id]), []),
      );
    } finally {
      await cluster.start(victim);
    }
  });

  it('a restarted node leaves alone what other nodes own', async () => {
    // A stream being appended on node 1 holds nothing between chunks; a processing job on another node does.
    // Twenty minutes of audio, so the job is still running when the restarted node is back.
    const res = await upload(cluster.url, user, longWav(240), 'twenty-minutes.wav', '?wait=0');
    const id = res.body.id;
    const claimedBy = await nodeProcessing(id);
    const [before] = await sql<{ lease_owner: string; lease_epoch: number }>(
      cluster,
      'select lease_owner, lease_epoch from recordings where id = $1',
      [id],
    );
    const other = cluster.nodes.findIndex((node) => node.id !== claimedBy);
    await cluster.kill(other, { signal: 'SIGKILL' });
    await cluster.start(other);
    const [afterRestart] = await sql<{ lease_owner: string; lease_epoch: number; status: string }>(
      cluster,
      'select lease_owner, lease_epoch, status from recordings where id = $1',
      [id],
    );
    assert.equal(afterRestart!.lease_epoch, before!.lease_epoch, 'no new owner took the recording');
    // On a fast machine the job may be done already, its lease released by its owner.
    if (afterRestart!.status === 'processing') assert.equal(afterRestart!.lease_owner, before!.lease_owner);
    else assert.deepEqual([afterRestart!.status, afterRestart!.lease_owner], ['ready', null]);
    const done = await waitForRecording(cluster, user, id, 120_000);
    assert.equal(done.status, 'ready');
  });

  it('holds the per-user cap on live sessions across nodes', async () => {
    // The default cap is 3: one session on each node, then a fourth on any of them is refused.
    const bot = await registerUser(cluster);
    const wsOf = (node: (typeof cluster.nodes)[number]) => ({ wsUrl: node.url.replace(/^http/, 'ws') });
    const open = await Promise.all(cluster.nodes.map((node) => startRecording(wsOf(node), bot)));
    try {
      const fourth = openSocket(wsOf(cluster.nodes[0]!));
      fourth.send({ token: bot.token });
      await fourth.next((m) => m.status === 'authenticated');
      fourth.send({ name: 'one too many', meeting_link: '', org_id: bot.orgId });
      const refused = await fourth.next((m) => m.status === 'error');
      assert.equal(refused.error, 'too_many_sessions');
      assert.equal((await fourth.closed).code, 4429);
    } finally {
      for (const { client } of open) client.send({ action: 'stop' });
      await Promise.all(open.map(({ client }) => client.closed));
    }
  });

  it('holds the per-account login limit across nodes', async () => {
    const victim = await registerUser(cluster); // registration: one of the five attempts
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const node = cluster.nodes[i % 3]!;
      const res = await api({ url: node.url }, 'POST', '/api/auth/login', {
        json: { email: victim.email, password: 'not the password' },
      });
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 429, 429]);
  });

  it('plays audio with Range through every node', async () => {
    const res = await upload(cluster.url, user, await readFile(path.join(FIXTURES, 'speech.wav')), 'range.wav');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const whole = await fetch(`${cluster.url}/api/recordings/${res.body.id}/audio`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    const bytes = Buffer.from(await whole.arrayBuffer());
    assert.equal(bytes.length, res.body.size_bytes);
    for (const node of cluster.nodes) {
      const part = await fetch(`${node.url}/api/recordings/${res.body.id}/audio`, {
        headers: { authorization: `Bearer ${user.token}`, range: 'bytes=100-1099' },
      });
      assert.equal(part.status, 206, node.id);
      assert.equal(part.headers.get('content-range'), `bytes 100-1099/${bytes.length}`);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 1100));
    }
  });
});
