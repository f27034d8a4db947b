/**
 * Audio served from S3 through a short-lived presigned URL (AUDIO_DELIVERY=redirect): the node answers
 * 302 and the object store serves the bytes, Range included.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, registerUser, type TestUser } from '../helpers.ts';
import { FIXTURES } from '../speech.ts';
import { type Cluster, clusterToolsPresent, startCluster } from './cluster.ts';

const skip = clusterToolsPresent() ? false : 'haproxy or radosgw missing: .ci/run installs them';

describe('cluster: audio through presigned URLs', { skip }, () => {
  let cluster: Cluster;
  let user: TestUser;
  before(async () => {
    cluster = await startCluster({ nodes: 1, env: { AUDIO_DELIVERY: 'redirect', PRESIGNED_URL_TTL_SECONDS: '60' } });
    user = await registerUser(cluster);
  });
  after(() => cluster?.close());

  it('redirects to the object store, which serves the file and its ranges', async () => {
    const form = new FormData();
    form.set('file', new Blob([new Uint8Array(await readFile(path.join(FIXTURES, 'speech.wav')))]), 'r.wav');
    const uploaded = await api(cluster, 'POST', '/api/recordings/upload', { token: user.token, body: form });
    assert.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
    const audio = `${cluster.url}/api/recordings/${uploaded.body.id}/audio?download=1`;

    const redirect = await fetch(audio, { headers: { authorization: `Bearer ${user.token}` }, redirect: 'manual' });
    assert.equal(redirect.status, 302);
    const location = new URL(redirect.headers.get('location') ?? '');
    assert.equal(location.host, new URL(/endpoint=([^&]+)/.exec(cluster.env.STORAGE_URL!)![1]!).host);
    assert.ok(location.searchParams.get('X-Amz-Signature'), 'a presigned URL');
    assert.equal(location.searchParams.get('X-Amz-Expires'), '60');

    const whole = await fetch(location);
    assert.equal(whole.status, 200);
    assert.match(whole.headers.get('content-disposition') ?? '', /^attachment; filename="r\.ogg"/);
    const bytes = Buffer.from(await whole.arrayBuffer());
    assert.equal(bytes.length, uploaded.body.size_bytes);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'OggS');
    const part = await fetch(location, { headers: { range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 200));
    assert.equal((await fetch(audio)).status, 401, 'the redirect itself still needs the token');
  });
});
