import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as tus from 'tus-js-client';
import {
  api,
  eventually,
  registerUser,
  startTestServer,
  storedBytes,
  type TestServer,
  type TestUser,
  waitForRecording,
} from './helpers.ts';
import { FIXTURES, longWav } from './speech.ts';
import { startTcpProxy } from './tcp-proxy.ts';

/**
 * tus 1.0 resumable uploads at /api/uploads/tus, with fetch for the protocol's details and tus-js-client
 * (the reference client) for whole uploads, on SQLite and PostgreSQL.
 */
const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };
const meta = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`)
    .join(',');

describe('tus resumable uploads', () => {
  let server: TestServer;
  let user: TestUser;
  let speech: Buffer;

  before(async () => {
    // Complexity 0 keeps the long upload's processing short on a busy machine.
    server = await startTestServer({ env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), OPUS_COMPLEXITY: '0' } });
    user = await registerUser(server);
    speech = await readFile(path.join(FIXTURES, 'speech.ogg'));
  });
  after(() => server.close());

  /** Creates an upload of `length` bytes with fetch; its URL (absolute) and the answer. */
  async function create(
    length: number,
    options: { token?: string; metadata?: string; headers?: Record<string, string> } = {},
  ) {
    const res = await api(server, 'POST', '/api/uploads/tus', {
      token: options.token ?? user.token,
      headers: {
        ...TUS,
        'upload-length': String(length),
        ...(options.metadata ? { 'upload-metadata': options.metadata } : {}),
        ...options.headers,
      },
    });
    const location = res.headers.get('location');
    return { ...res, url: location ? new URL(location, `${server.url}/api/uploads/tus`).pathname : '' };
  }

  const patch = (
    url: string,
    offset: number,
    bytes: Uint8Array,
    token = user.token,
    headers: Record<string, string> = {},
  ) =>
    api(server, 'PATCH', url, {
      token,
      body: bytes,
      headers: {
        ...TUS,
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
        ...headers,
      },
    });
  const head = (url: string, token = user.token) => api(server, 'HEAD', url, { token, headers: TUS });

  it('answers OPTIONS with the version, the extensions and the size limit, without a token', async () => {
    const res = await api(server, 'OPTIONS', '/api/uploads/tus');
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('tus-version'), '1.0.0');
    assert.equal(res.headers.get('tus-max-size'), String(MAX_UPLOAD_BYTES));
    const extensions = (res.headers.get('tus-extension') ?? '').split(',');
    for (const extension of ['creation', 'creation-with-upload', 'termination', 'expiration']) {
      assert.ok(extensions.includes(extension), `${extension} in ${extensions}`);
    }
    assert.ok(!extensions.includes('creation-defer-length'));
  });

  it('creates, reports offsets on HEAD, appends at the offset and makes the finished upload a recording', async () => {
    const created = await create(speech.length, {
      metadata: meta({ filename: 'team sync.ogg', filetype: 'audio/ogg' }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.url, /^\/api\/uploads\/tus\/[0-9a-f-]{36}$/);
    assert.ok(created.headers.get('upload-expires'), 'expiration extension');
    assert.equal(created.headers.get('tus-resumable'), '1.0.0');

    let state = await head(created.url);
    assert.equal(state.status, 200);
    assert.equal(state.headers.get('upload-offset'), '0');
    assert.equal(state.headers.get('upload-length'), String(speech.length));
    assert.equal(state.headers.get('cache-control'), 'no-store');
    assert.match(state.headers.get('upload-metadata') ?? '', /filename /);

    const half = Math.floor(speech.length / 2);
    const first = await patch(created.url, 0, speech.subarray(0, half));
    assert.equal(first.status, 204, JSON.stringify(first.body));
    assert.equal(first.headers.get('upload-offset'), String(half));
    assert.equal(first.headers.get(`earshot-recording-id`), null);
    state = await head(created.url);
    assert.equal(state.headers.get('upload-offset'), String(half));

    const wrong = await patch(created.url, 0, speech.subarray(0, 10));
    assert.equal(wrong.status, 409);
    assert.equal(wrong.body.error, 'offset_mismatch');
    assert.equal(wrong.headers.get('tus-resumable'), '1.0.0');

    const last = await patch(created.url, half, speech.subarray(half));
    assert.equal(last.status, 204, JSON.stringify(last.body));
    assert.equal(last.headers.get('upload-offset'), String(speech.length));
    const recordingId = last.headers.get('earshot-recording-id');
    assert.ok(recordingId);
    assert.equal(last.headers.get('location'), `/api/recordings/${recordingId}`);

    const recording = await waitForRecording(server, user, recordingId);
    assert.equal(recording.status, 'ready', JSON.stringify(recording));
    assert.equal(recording.source, 'upload');
    assert.equal(recording.name, 'team sync');
    assert.equal(recording.received_bytes, speech.length);
    assert.ok(Math.abs(recording.duration_sec - 5) < 0.2, String(recording.duration_sec));
    // The pieces were the recording's input; once it is ready they are gone like any upload's input.
    assert.equal((await storedBytes(server, `inputs/${recordingId}/`)).length, 0);

    // A client that resumes a finished upload learns which recording it became.
    state = await head(created.url);
    assert.equal(state.headers.get('upload-offset'), String(speech.length));
    assert.equal(state.headers.get('earshot-recording-id'), recordingId);
    const ended = await api(server, 'DELETE', created.url, { token: user.token, headers: TUS });
    assert.equal(ended.status, 409);
    assert.equal(ended.body.error, 'conflict');
  });

  it('takes the first bytes with the creation request (creation-with-upload)', async () => {
    const res = await fetch(`${server.url}/api/uploads/tus`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${user.token}`,
        ...TUS,
        'upload-length': String(speech.length),
        'upload-metadata': meta({ name: 'In one go' }),
        'content-type': 'application/offset+octet-stream',
      },
      body: speech,
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('upload-offset'), String(speech.length));
    const recordingId = res.headers.get('earshot-recording-id');
    assert.ok(recordingId);
    const recording = await waitForRecording(server, user, recordingId);
    assert.equal(recording.status, 'ready');
    assert.equal(recording.name, 'In one go');
  });

  it('refuses an Upload-Length over the limit at creation, before any byte is sent (413)', async () => {
    const res = await create(MAX_UPLOAD_BYTES + 1);
    assert.equal(res.status, 413);
    assert.equal(res.body.error, 'payload_too_large');
    assert.equal(res.body.details.max_bytes, MAX_UPLOAD_BYTES);

    // tus-js-client never reads a byte of a file the server refuses at creation.
    let read = 0;
    const source = new Readable({
      read() {
        read += 1;
        this.push(Buffer.alloc(65536));
      },
    });
    const failure = await new Promise<tus.DetailedError>((resolve, reject) => {
      new tus.Upload(source, {
        endpoint: `${server.url}/api/uploads/tus`,
        uploadSize: MAX_UPLOAD_BYTES + 1,
        chunkSize: 1024 * 1024,
        headers: { authorization: `Bearer ${user.token}` },
        retryDelays: [],
        onError: (error) => resolve(error as tus.DetailedError),
        onSuccess: () => reject(new Error('an oversized upload was accepted')),
      }).start();
    });
    assert.equal(failure.originalResponse?.getStatus(), 413);
    assert.equal(read, 0, 'no byte of the file was read');
  });

  it('answers in the tus way and the table’s shape: no Tus-Resumable 412, no length 400, no token 401', async () => {
    const noVersion = await api(server, 'POST', '/api/uploads/tus', {
      token: user.token,
      headers: { 'upload-length': '10' },
    });
    assert.equal(noVersion.status, 412);
    assert.equal(noVersion.body.error, 'tus_version_unsupported');
    const deferred = await create(0, { headers: { 'upload-length': '', 'upload-defer-length': '1' } });
    assert.equal(deferred.status, 400, JSON.stringify(deferred.body));
    assert.equal(deferred.body.error, 'bad_request');
    const noLength = await api(server, 'POST', '/api/uploads/tus', { token: user.token, headers: TUS });
    assert.equal(noLength.status, 400);
    assert.match(noLength.body.message, /Upload-Length/);
    const anonymous = await api(server, 'POST', '/api/uploads/tus', { headers: { ...TUS, 'upload-length': '10' } });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error, 'unauthenticated');
    const created = await create(10);
    const wrongType = await patch(created.url, 0, Buffer.from('0123456789'), user.token, {
      'content-type': 'application/octet-stream',
    });
    assert.equal(wrongType.status, 415);
    assert.equal(wrongType.body.error, 'unsupported_media');
    const tooLong = await patch(created.url, 0, Buffer.alloc(11));
    assert.equal(tooLong.status, 413);
    const unknown = await head('/api/uploads/tus/00000000-0000-4000-8000-000000000000');
    assert.equal(unknown.status, 404);
  });

  it('checks the metadata: org_id must allow recording, the name follows the text policy', async () => {
    const outsider = await registerUser(server);
    const otherOrg = await create(10, { metadata: meta({ org_id: outsider.orgId }) });
    assert.equal(otherOrg.status, 404);
    assert.equal(otherOrg.body.error, 'not_found');
    const badName = await create(10, { metadata: meta({ name: 'evil\u202egnp.exe' }) });
    assert.equal(badName.status, 422);
    assert.equal(badName.body.details.field, 'metadata.name');
    const malformed = await create(10, { metadata: 'name not-base64!' });
    assert.equal(malformed.status, 400);
    const empty = await create(0);
    assert.equal(empty.status, 422);
    assert.equal(empty.body.error, 'invalid_media');
  });

  it('terminates an unfinished upload and removes its bytes', async () => {
    const created = await create(speech.length);
    await patch(created.url, 0, speech.subarray(0, 1000));
    const id = created.url.split('/').pop();
    assert.equal((await storedBytes(server, `inputs/${id}/`)).length, 1000);
    const ended = await api(server, 'DELETE', created.url, { token: user.token, headers: TUS });
    assert.equal(ended.status, 204);
    assert.equal((await head(created.url)).status, 404);
    assert.equal((await storedBytes(server, `inputs/${id}/`)).length, 0);
  });

  it('answers 404 to HEAD, PATCH and DELETE of another actor’s upload', async () => {
    const created = await create(speech.length);
    const other = await registerUser(server);
    assert.equal((await head(created.url, other.token)).status, 404);
    const patched = await patch(created.url, 0, speech.subarray(0, 10), other.token);
    assert.equal(patched.status, 404);
    assert.equal(patched.body.error, 'not_found');
    const ended = await api(server, 'DELETE', created.url, { token: other.token, headers: TUS });
    assert.equal(ended.status, 404);
    assert.equal((await head(created.url)).headers.get('upload-offset'), '0');
  });

  it('takes API keys: with the record scope into the key’s organisation, without it 403', async () => {
    const key = async (scopes: string[]) => {
      const res = await api(server, 'POST', `/api/orgs/${user.orgId}/api-keys`, {
        token: user.token,
        json: { name: `tus ${scopes.join('+')}`, scopes },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.token as string;
    };
    const recorder = await key(['record']);
    const created = await create(speech.length, { token: recorder });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // The upload is the key's: the person who made the key is another actor.
    assert.equal((await head(created.url, user.token)).status, 404);
    const done = await patch(created.url, 0, speech, recorder);
    assert.equal(done.status, 204);
    const recordingId = done.headers.get('earshot-recording-id');
    assert.ok(recordingId);
    const recording = await waitForRecording(server, user, recordingId);
    assert.equal(recording.org_id, user.orgId);

    const reader = await key(['read']);
    const refused = await create(speech.length, { token: reader });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'insufficient_scope');
  });

  it('resumes a large upload with tus-js-client after its connection is cut, and it becomes a ready recording', async () => {
    const wav = longWav(150); // 750 s, about 24 MB
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
    try {
      const progress: number[] = [];
      let cut = false;
      let retries = 0;
      const recordingId = await new Promise<string>((resolve, reject) => {
        const upload = new tus.Upload(wav, {
          endpoint: `http://127.0.0.1:${proxy.port}/api/uploads/tus`,
          metadata: { filename: 'all hands.wav', filetype: 'audio/wav' },
          headers: { authorization: `Bearer ${user.token}` },
          // Generous, as a real client's: a loaded machine may take seconds to free the cut request's lock.
          retryDelays: [100, 300, 1000, 2000, 4000, 8000, 16000],
          onShouldRetry: () => {
            retries += 1;
            return true;
          },
          onProgress: (sent) => {
            progress.push(sent);
            // Past a third of the file, the connection drops; new ones are refused for a moment.
            if (!cut && sent > wav.length / 3) {
              cut = true;
              proxy.cut();
              setTimeout(() => proxy.restore(), 200);
            }
          },
          onError: reject,
          onSuccess: (payload) => resolve(payload.lastResponse.getHeader('earshot-recording-id') ?? ''),
        });
        upload.start();
      });
      assert.ok(cut && retries >= 1, `the connection was cut and the client retried (${retries})`);
      // After the cut the client asked where to resume (HEAD) and went on from there, not from 0.
      const resumedAt = progress.find((value, i) => i > 0 && value < (progress[i - 1] ?? 0));
      assert.ok(resumedAt !== undefined && resumedAt > 0, `resumed from ${resumedAt}, not from 0`);
      const recording = await waitForRecording(server, user, recordingId, 120_000);
      assert.equal(recording.status, 'ready', JSON.stringify(recording));
      assert.equal(recording.name, 'all hands');
      assert.equal(recording.received_bytes, wav.length);
      assert.ok(Math.abs(recording.duration_sec - 750) < 1, String(recording.duration_sec));
    } finally {
      await proxy.close();
    }
  });
});

describe('tus uploads across a restart', () => {
  it('keeps an upload’s state and bytes: HEAD after the restart gives the offset, and the upload finishes', async () => {
    let server = await startTestServer();
    try {
      const user = await registerUser(server);
      const speech = await readFile(path.join(FIXTURES, 'speech.ogg'));
      const created = await api(server, 'POST', '/api/uploads/tus', {
        token: user.token,
        headers: { ...TUS, 'upload-length': String(speech.length) },
      });
      const url = created.headers.get('location') ?? '';
      const send = (offset: number, bytes: Buffer) =>
        api(server, 'PATCH', url, {
          token: user.token,
          body: bytes,
          headers: { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
        });
      assert.equal((await send(0, speech.subarray(0, 4000))).status, 204);
      await server.stop();
      server = await startTestServer({ reuse: server });
      const state = await api(server, 'HEAD', url, { token: user.token, headers: TUS });
      assert.equal(state.headers.get('upload-offset'), '4000');
      const last = await send(4000, speech.subarray(4000));
      assert.equal(last.status, 204);
      const recording = await waitForRecording(server, user, last.headers.get('earshot-recording-id') ?? '');
      assert.equal(recording.status, 'ready');
    } finally {
      await server.close();
    }
  });
});

describe('tus uploads that expire', () => {
  it('answers 410 upload_expired to HEAD and PATCH once an unfinished upload is past Upload-Expires', async () => {
    const server = await startTestServer({ env: { RESUMABLE_UPLOAD_EXPIRY_SECONDS: '1' } });
    try {
      const user = await registerUser(server);
      const created = await api(server, 'POST', '/api/uploads/tus', {
        token: user.token,
        headers: { ...TUS, 'upload-length': '100' },
      });
      const expires = Date.parse(created.headers.get('upload-expires') ?? '');
      assert.ok(
        expires > Date.now() - 2000 && expires <= Date.now() + 2000,
        created.headers.get('upload-expires') ?? '',
      );
      const url = created.headers.get('location') ?? '';
      const expired = await eventually(async () => {
        const res = await api(server, 'HEAD', url, { token: user.token, headers: TUS });
        assert.equal(res.status, 410);
        return res;
      }, 5000);
      assert.equal(expired.headers.get('tus-resumable'), '1.0.0');
      const late = await api(server, 'PATCH', url, {
        token: user.token,
        body: Buffer.alloc(10),
        headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      });
      assert.equal(late.status, 410);
      assert.equal(late.body.error, 'upload_expired');
    } finally {
      await server.close();
    }
  });
});
