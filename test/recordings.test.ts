import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, joinOrg, registerUser, startTestServer, storeOf, type TestServer, type TestUser } from './helpers.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');

async function uploadFixture(server: TestServer, token: string, fixture: string, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  form.append('file', new Blob([await readFile(path.join(FIXTURES, fixture))]), fixture);
  const res = await api(server, 'POST', '/api/recordings/upload', { token, body: form });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

const audio = (server: TestServer, id: string, headers: Record<string, string> = {}, query = '') =>
  fetch(`${server.url}/api/recordings/${id}/audio${query}`, { headers });

describe('recordings', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let teamOrgId: string;
  let recording: any;
  let full: Buffer;

  before(async () => {
    server = await startTestServer();
    alice = await registerUser(server);
    bob = await registerUser(server);
    const team = await api(server, 'POST', '/api/orgs', { token: alice.token, json: { name: 'Team' } });
    assert.equal(team.status, 201, JSON.stringify(team.body));
    teamOrgId = team.body.id;
    recording = await uploadFixture(server, alice.token, 'speech.ogg', { name: 'Réunion "Q3" / plan' });
    const res = await audio(server, recording.id, { authorization: `Bearer ${alice.token}` });
    full = Buffer.from(await res.arrayBuffer());
  });
  after(() => server.close());

  it('shows a recording with its audio properties', async () => {
    const res = await api(server, 'GET', `/api/recordings/${recording.id}`, { token: alice.token });
    assert.equal(res.status, 200);
    const body = res.body;
    for (const key of [
      'id',
      'org_id',
      'name',
      'meeting_link',
      'source',
      'status',
      'progress',
      'error',
      'duration_sec',
      'size_bytes',
      'codec',
      'sample_rate',
      'channels',
      'bitrate',
      'created_at',
      'updated_at',
      'finished_at',
      'received_bytes',
      'filename',
    ]) {
      assert.ok(key in body, `missing ${key}`);
    }
    assert.equal(body.status, 'ready');
    assert.equal(body.size_bytes, full.length);
    assert.ok(body.bitrate > 12_000 && body.bitrate < 36_000);
  });

  it('lists newest first with cursor pagination and an org filter', async () => {
    const user = await registerUser(server);
    const team = await api(server, 'POST', '/api/orgs', { token: user.token, json: { name: 'Pager' } });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const body = await uploadFixture(server, user.token, 'speech.ogg', {
        name: `n${i}`,
        ...(i % 2 ? { org_id: team.body.id } : {}),
      });
      ids.push(body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=2${cursor ? `&before=${encodeURIComponent(cursor)}` : ''}`;
      const page = await api(server, 'GET', `/api/recordings${query}`, { token: user.token });
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((r: any) => r.id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...ids].reverse());

    const filtered = await api(server, 'GET', `/api/recordings?org_id=${team.body.id}`, { token: user.token });
    assert.deepEqual(
      filtered.body.items.map((r: any) => r.name),
      ['n3', 'n1'],
    );
    assert.equal(filtered.body.next_cursor, null);
    const defaults = await api(server, 'GET', '/api/recordings', { token: user.token });
    assert.equal(defaults.body.items.length, 5);

    assert.equal((await api(server, 'GET', '/api/recordings?limit=101', { token: user.token })).status, 422);
    assert.equal((await api(server, 'GET', '/api/recordings?before=garbage', { token: user.token })).status, 422);
    assert.equal((await api(server, 'GET', `/api/recordings?org_id=${teamOrgId}`, { token: user.token })).status, 404);
  });

  it('renames', async () => {
    const res = await api(server, 'PATCH', `/api/recordings/${recording.id}`, {
      token: alice.token,
      json: { name: '  Renamed ✓ ' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'Renamed ✓');
    assert.equal(
      (await api(server, 'GET', `/api/recordings/${recording.id}`, { token: alice.token })).body.name,
      'Renamed ✓',
    );
    const empty = await api(server, 'PATCH', `/api/recordings/${recording.id}`, {
      token: alice.token,
      json: { name: '' },
    });
    assert.equal(empty.status, 422);
    await api(server, 'PATCH', `/api/recordings/${recording.id}`, {
      token: alice.token,
      json: { name: 'Réunion "Q3" / plan' },
    });
  });

  it('answers 404 to another organisation for every endpoint', async () => {
    const id = recording.id;
    const token = bob.token;
    assert.equal((await api(server, 'GET', `/api/recordings/${id}`, { token })).status, 404);
    assert.equal((await api(server, 'PATCH', `/api/recordings/${id}`, { token, json: { name: 'x' } })).status, 404);
    assert.equal((await api(server, 'DELETE', `/api/recordings/${id}`, { token })).status, 404);
    assert.equal((await audio(server, id, { authorization: `Bearer ${token}` })).status, 404);
    assert.equal((await audio(server, id, {}, `?access_token=${token}`)).status, 404);
    assert.equal(
      (
        await api(server, 'POST', `/api/recordings/stream?recording_id=${id}&offset=0`, {
          token,
          body: Buffer.from('OggS'),
          headers: { 'content-type': 'application/octet-stream' },
        })
      ).status,
      404,
    );
    assert.equal((await api(server, 'POST', `/api/recordings/stream/${id}/finish`, { token })).status, 404);
    const list = await api(server, 'GET', '/api/recordings', { token });
    assert.ok(!list.body.items.some((r: any) => r.id === id));
    // And the recording is untouched.
    const mine = await api(server, 'GET', `/api/recordings/${id}`, { token: alice.token });
    assert.equal(mine.body.status, 'ready');
  });

  it('lets members of a shared organisation see its recordings', async () => {
    await joinOrg(server, alice, teamOrgId, bob, 'member');
    const shared = await uploadFixture(server, alice.token, 'speech.ogg', { org_id: teamOrgId });
    const res = await api(server, 'GET', `/api/recordings/${shared.id}`, { token: bob.token });
    assert.equal(res.status, 200);
    assert.equal((await audio(server, shared.id, { authorization: `Bearer ${bob.token}` })).status, 200);
  });

  it('serves audio with Range, ETag and Content-Disposition', async () => {
    const auth = { authorization: `Bearer ${alice.token}` };
    const whole = await audio(server, recording.id, auth);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-type'), 'audio/ogg');
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.equal(Number(whole.headers.get('content-length')), full.length);
    const disposition = whole.headers.get('content-disposition') ?? '';
    assert.match(
      disposition,
      /^inline; filename="R_union _Q3_ _ plan\.ogg"; filename\*=UTF-8''R%C3%A9union%20%22Q3%22%20_%20plan\.ogg$/,
    );
    const etag = whole.headers.get('etag')!;
    assert.ok(etag);
    await whole.arrayBuffer();

    const download = await audio(server, recording.id, auth, '?download=1');
    assert.match(download.headers.get('content-disposition') ?? '', /^attachment; /);
    await download.arrayBuffer();

    const first = await audio(server, recording.id, { ...auth, range: 'bytes=0-99' });
    assert.equal(first.status, 206);
    assert.equal(first.headers.get('content-range'), `bytes 0-99/${full.length}`);
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), full.subarray(0, 100));

    const open = await audio(server, recording.id, { ...auth, range: 'bytes=100-' });
    assert.equal(open.status, 206);
    assert.deepEqual(Buffer.from(await open.arrayBuffer()), full.subarray(100));

    const suffix = await audio(server, recording.id, { ...auth, range: 'bytes=-500' });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.headers.get('content-range'), `bytes ${full.length - 500}-${full.length - 1}/${full.length}`);
    assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), full.subarray(full.length - 500));

    const beyond = await audio(server, recording.id, { ...auth, range: `bytes=${full.length}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${full.length}`);
    assert.equal(((await beyond.json()) as { error: string }).error, 'range_not_satisfiable');

    const several = await audio(server, recording.id, { ...auth, range: 'bytes=0-1,5-9' });
    assert.equal(several.status, 200);
    assert.equal(Buffer.from(await several.arrayBuffer()).length, full.length);

    const cached = await audio(server, recording.id, { ...auth, 'if-none-match': etag });
    assert.equal(cached.status, 304);
    assert.equal(cached.headers.get('etag'), etag);

    const current = await audio(server, recording.id, { ...auth, range: 'bytes=0-9', 'if-range': etag });
    assert.equal(current.status, 206);
    await current.arrayBuffer();
    const stale = await audio(server, recording.id, { ...auth, range: 'bytes=0-9', 'if-range': '"old"' });
    assert.equal(stale.status, 200);
    assert.equal(Buffer.from(await stale.arrayBuffer()).length, full.length);
  });

  it('accepts the access token in the query for the audio route only', async () => {
    const res = await audio(server, recording.id, {}, `?access_token=${encodeURIComponent(alice.token)}`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal((await audio(server, recording.id, {}, '?access_token=not-a-token')).status, 401);
    assert.equal((await audio(server, recording.id)).status, 401);
    const elsewhere = await fetch(`${server.url}/api/recordings/${recording.id}?access_token=${alice.token}`);
    assert.equal(elsewhere.status, 401);
  });

  it('answers 409 for the audio of a recording that is not ready', async () => {
    const started = await api(server, 'POST', '/api/recordings/stream', {
      token: alice.token,
      body: (await readFile(path.join(FIXTURES, 'speech.ogg'))).subarray(0, 1000),
      headers: { 'content-type': 'audio/ogg' },
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const res = await audio(server, started.body.recording_id, { authorization: `Bearer ${alice.token}` });
    assert.equal(res.status, 409);
    assert.match(((await res.json()) as { message: string }).message, /receiving/);
  });

  it('deletes a recording into the trash, and its files once deleted for good', async () => {
    const doomed = await uploadFixture(server, alice.token, 'speech.wav');
    const store = storeOf(server);
    const audio = `recordings/${doomed.org_id}/${doomed.id}/`;
    assert.equal((await store.list(audio)).length, 1);
    const res = await api(server, 'DELETE', `/api/recordings/${doomed.id}`, { token: alice.token });
    assert.equal(res.status, 204);
    assert.equal((await api(server, 'GET', `/api/recordings/${doomed.id}`, { token: alice.token })).status, 404);
    assert.equal((await api(server, 'DELETE', `/api/recordings/${doomed.id}`, { token: alice.token })).status, 404);
    assert.equal((await store.list(audio)).length, 1, 'kept while in the trash');
    assert.equal((await api(server, 'DELETE', `/api/trash/${doomed.id}`, { token: alice.token })).status, 204);
    assert.deepEqual(await store.list(audio), []);

    // A stream in progress: the chunks it stored go too.
    const started = await api(server, 'POST', '/api/recordings/stream', {
      token: alice.token,
      body: (await readFile(path.join(FIXTURES, 'speech.ogg'))).subarray(0, 4000),
      headers: { 'content-type': 'application/octet-stream' },
    });
    const id = started.body.recording_id;
    assert.equal((await store.list(`inputs/${id}/`)).length, 1);
    assert.equal((await api(server, 'DELETE', `/api/recordings/${id}`, { token: alice.token })).status, 204);
    const next = await api(server, 'POST', `/api/recordings/stream?recording_id=${id}&offset=4000`, {
      token: alice.token,
      body: (await readFile(path.join(FIXTURES, 'speech.ogg'))).subarray(4000, 8000),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(next.status, 404, 'a stream in the trash takes no more chunks');
    assert.equal((await api(server, 'DELETE', `/api/trash/${id}`, { token: alice.token })).status, 204);
    assert.deepEqual(await store.list(`inputs/${id}/`), []);
  });

  it('documents the endpoints in OpenAPI', async () => {
    const spec = await api(server, 'GET', '/docs/json');
    for (const route of [
      '/api/recordings',
      '/api/recordings/upload',
      '/api/recordings/{id}',
      '/api/recordings/{id}/audio',
      '/api/recordings/stream',
      '/api/recordings/stream/{id}/finish',
    ]) {
      assert.ok(spec.body.paths[route], `missing ${route}`);
    }
  });
});
