/**
 * tus uploads in cluster mode: three real nodes on PostgreSQL and radosgw behind HAProxy. An upload's
 * state and lock live in the database and its bytes in the bucket, so any node continues what another
 * started.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import * as tus from 'tus-js-client';
import { api, eventually, registerUser, storedBytes, type TestUser, waitForRecording } from '../helpers.ts';
import { FIXTURES, longWav } from '../speech.ts';
import { type Cluster, clusterToolsPresent, startCluster } from './cluster.ts';

const skip = clusterToolsPresent() ? false : 'haproxy or radosgw missing: .ci/run installs them';
const TUS = { 'tus-resumable': '1.0.0' };

describe('cluster: tus uploads across nodes', { skip }, () => {
  let cluster: Cluster;
  let user: TestUser;

  before(async () => {
    cluster = await startCluster({ nodes: 3 });
    user = await registerUser(cluster);
  });
  after(() => cluster?.close());

  const on = (node: number) => ({ url: cluster.nodes[node]!.url });
  const head = async (node: number, url: string) => {
    const res = await api(on(node), 'HEAD', url, { token: user.token, headers: TUS });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-earshot-node'), cluster.nodes[node]!.id);
    return Number(res.headers.get('upload-offset'));
  };
  /** Whether a request holds the upload's lock (its row in the shared database). */
  const lockHeld = async (id: string) => {
    const client = new pg.Client({ connectionString: cluster.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query('select lock_holder from tus_uploads where id = $1', [id]);
      return rows[0]?.lock_holder != null;
    } finally {
      await client.end();
    }
  };
  const patch = (node: number, url: string, offset: number, bytes: Buffer) =>
    api(on(node), 'PATCH', url, {
      token: user.token,
      body: bytes,
      headers: { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
    });

  it('finishes one recording from PATCHes sent to every node in turn, each HEAD on another node exact', async () => {
    const ogg = await readFile(path.join(FIXTURES, 'speech.ogg'));
    const created = await api(on(0), 'POST', '/api/uploads/tus', {
      token: user.token,
      headers: { ...TUS, 'upload-length': String(ogg.length) },
    });
    assert.equal(created.status, 201);
    const url = created.headers.get('location') ?? '';
    let offset = 0;
    let recordingId: string | null = null;
    for (let i = 0; offset < ogg.length; i++) {
      assert.equal(await head((i + 2) % 3, url), offset);
      const end = Math.min(ogg.length, offset + 7000);
      const res = await patch(i % 3, url, offset, ogg.subarray(offset, end));
      assert.equal(res.status, 204, JSON.stringify(res.body));
      assert.equal(res.headers.get('x-earshot-node'), cluster.nodes[i % 3]!.id);
      offset = end;
      recordingId = res.headers.get('earshot-recording-id');
      if (offset < ogg.length) {
        assert.deepEqual(await storedBytes(cluster, `inputs/${url.split('/').pop()}/tus/`), ogg.subarray(0, offset));
      }
    }
    assert.ok(recordingId);
    const done = await waitForRecording(cluster, user, recordingId, 60_000);
    assert.equal(done.status, 'ready', JSON.stringify(done));
    assert.ok(Math.abs(done.duration_sec - 5) < 0.1);
    // A HEAD on yet another node names the same recording.
    const again = await api(on(1), 'HEAD', url, { token: user.token, headers: TUS });
    assert.equal(again.headers.get('earshot-recording-id'), recordingId);
  });

  it('lets a HEAD on another node take over from a PATCH whose client went silent', async () => {
    const wav = await readFile(path.join(FIXTURES, 'speech.wav'));
    const created = await api(on(0), 'POST', '/api/uploads/tus', {
      token: user.token,
      headers: { ...TUS, 'upload-length': String(wav.length) },
    });
    const url = created.headers.get('location') ?? '';
    // Node 0 receives half of a PATCH's body, then nothing more: a half-open connection.
    const half = Math.floor(wav.length / 2);
    const socket = net.connect(cluster.nodes[0]!.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      `PATCH ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${user.token}\r\nTus-Resumable: 1.0.0\r\n` +
        `Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: ${wav.length}\r\n\r\n`,
    );
    socket.write(wav.subarray(0, half));
    try {
      // Node 0 has the bytes once its PATCH stored the first piece or, here, once it is asked to let go.
      await eventually(async () => assert.ok(await lockHeld(url.split('/').pop() ?? '')), 10_000);
      // Node 1's HEAD waits for the lock, asks node 0 to let go, and answers with what node 0 stored.
      assert.equal(await head(1, url), half);
      const rest = await patch(2, url, half, wav.subarray(half));
      assert.equal(rest.status, 204, JSON.stringify(rest.body));
      const done = await waitForRecording(cluster, user, rest.headers.get('earshot-recording-id') ?? '', 60_000);
      assert.equal(done.status, 'ready');
    } finally {
      socket.destroy();
    }
  });

  it('uploads with tus-js-client through the balancer in chunks that land on different nodes', async () => {
    const wav = longWav(20); // 100 s, 3.2 MB
    const answeredBy = new Set<string>();
    const recordingId = await new Promise<string>((resolve, reject) => {
      new tus.Upload(wav, {
        endpoint: `${cluster.url}/api/uploads/tus`,
        chunkSize: 512 * 1024,
        metadata: { filename: 'balanced.wav' },
        headers: { authorization: `Bearer ${user.token}` },
        retryDelays: [200, 1000],
        onAfterResponse: (_request, response) => {
          answeredBy.add(response.getHeader('x-earshot-node') ?? '');
        },
        onError: reject,
        onSuccess: (payload) => resolve(payload.lastResponse.getHeader('earshot-recording-id') ?? ''),
      }).start();
    });
    assert.equal(answeredBy.size, 3, `requests answered by ${[...answeredBy]}`);
    const done = await waitForRecording(cluster, user, recordingId, 60_000);
    assert.equal(done.status, 'ready');
    assert.equal(done.name, 'balanced');
    assert.ok(Math.abs(done.duration_sec - 100) < 0.5);
  });
});
