import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMediaEngine, type MediaEngine } from '../src/media/index.ts';
import {
  api,
  eventually,
  registerUser,
  startTestServer,
  storeOf,
  type TestServer,
  type TestUser,
  waitForRecording,
} from './helpers.ts';
import { longWav } from './speech.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');

async function upload(
  server: TestServer,
  token: string,
  file: Buffer,
  options: { filename?: string; fields?: [string, string][]; fieldsAfter?: [string, string][]; query?: string } = {},
) {
  const form = new FormData();
  for (const [key, value] of options.fields ?? []) form.append(key, value);
  form.append('file', new Blob([file]), options.filename ?? 'audio.bin');
  for (const [key, value] of options.fieldsAfter ?? []) form.append(key, value);
  return api(server, 'POST', `/api/recordings/upload${options.query ?? ''}`, { token, body: form });
}

const spoolEntries = async (server: TestServer) =>
  readdir(path.join(server.dataDir, 'spool')).catch(() => [] as string[]);

describe('uploads', () => {
  let server: TestServer;
  let user: TestUser;
  let media: MediaEngine;
  let scratch: string;

  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
    media = createMediaEngine({ workers: 1, jobTimeoutMs: 60_000, maxDurationSec: 36_000 });
    scratch = await mkdtemp(path.join(tmpdir(), 'earshot-upload-'));
  });
  after(async () => {
    await media.close();
    await server.close();
    await rm(scratch, { recursive: true, force: true });
  });

  const goodFixtures = [
    'speech.wav',
    'speech.mp3',
    'speech.webm',
    'speech.ogg',
    'speech.m4a',
    'speech-video.mp4',
    'speech.flac',
    'speech-vorbis.ogg',
    'speech-frag.mp4',
  ];
  for (const fixture of goodFixtures) {
    it(`normalises ${fixture} to Ogg/Opus 16 kHz mono`, async () => {
      const source = path.join(FIXTURES, fixture);
      // A misleading name on purpose: the content decides, not the name.
      const res = await upload(server, user.token, await readFile(source), { filename: 'meeting.txt' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.headers.get('location'), `/api/recordings/${res.body.id}`);
      const recording = res.body;
      assert.equal(recording.status, 'ready');
      assert.equal(recording.progress, 1);
      assert.equal(recording.name, 'meeting');
      assert.equal(recording.source, 'upload');
      assert.equal(recording.org_id, user.orgId);
      assert.equal(recording.codec, 'opus');
      assert.equal(recording.channels, 1);
      assert.equal(recording.sample_rate, 16000);
      assert.equal(recording.filename, `${recording.id}.ogg`);

      const audio = await fetch(`${server.url}/api/recordings/${recording.id}/audio`, {
        headers: { authorization: `Bearer ${user.token}` },
      });
      assert.equal(audio.status, 200);
      assert.equal(audio.headers.get('content-type'), 'audio/ogg');
      const bytes = Buffer.from(await audio.arrayBuffer());
      assert.equal(bytes.length, recording.size_bytes);
      const out = path.join(scratch, `${recording.id}.ogg`);
      await writeFile(out, bytes);

      const [inputInfo, outputInfo] = [await media.probe(source), await media.probe(out)];
      assert.equal(outputInfo.container, 'ogg');
      assert.equal(outputInfo.codec, 'opus');
      assert.equal(outputInfo.channels, 1);
      assert.equal(outputInfo.sampleRate, 16000);
      assert.ok(outputInfo.bitrate >= 12_000 && outputInfo.bitrate <= 36_000, `bitrate ${outputInfo.bitrate}`);
      const drift = Math.abs(outputInfo.durationSec - inputInfo.durationSec) / inputInfo.durationSec;
      assert.ok(drift < 0.02, `duration ${outputInfo.durationSec} vs source ${inputInfo.durationSec}`);
      assert.ok(Math.abs(recording.duration_sec - inputInfo.durationSec) / inputInfo.durationSec < 0.02);
    });
  }

  const refused: [string, () => Promise<Buffer>, number[]][] = [
    ['not audio', () => readFile(path.join(FIXTURES, 'not-audio.mp3')), [415]],
    ['an HLS playlist named .mp3', () => readFile(path.join(FIXTURES, 'playlist.mp3')), [415]],
    ['an ffconcat list named .mp3', () => readFile(path.join(FIXTURES, 'concat.mp3')), [415]],
    ['a video without audio', () => readFile(path.join(FIXTURES, 'video-only.mp4')), [415]],
    ['a truncated m4a (first 30%)', () => firstPart('speech.m4a', 0.3), [422]],
    ['a truncated mp4 (first 30%)', () => firstPart('speech-video.mp4', 0.3), [422]],
    ['an empty file', async () => Buffer.alloc(0), [422]],
  ];
  async function firstPart(fixture: string, fraction: number): Promise<Buffer> {
    const bytes = await readFile(path.join(FIXTURES, fixture));
    return bytes.subarray(0, Math.floor(bytes.length * fraction));
  }
  for (const [what, bytes, statuses] of refused) {
    it(`refuses ${what} with a clean 4xx and keeps nothing`, async () => {
      const other = await registerUser(server);
      const res = await upload(server, other.token, await bytes(), { filename: 'talk.mp3' });
      assert.ok(statuses.includes(res.status), `${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(typeof res.body.message, 'string');
      assert.ok(res.body.message.length > 0);
      const list = await api(server, 'GET', '/api/recordings', { token: other.token });
      assert.deepEqual(list.body.items, []);
    });
  }

  it('takes name and org_id before or after the file, and org_id from the query', async () => {
    const wav = await readFile(path.join(FIXTURES, 'speech.wav'));
    const after = await upload(server, user.token, wav, {
      fieldsAfter: [
        ['name', 'Weekly sync ✓'],
        ['org_id', user.orgId],
      ],
    });
    assert.equal(after.status, 201);
    assert.equal(after.body.name, 'Weekly sync ✓');
    const query = await upload(server, user.token, wav, { query: `?org_id=${user.orgId}&name=From%20query` });
    assert.equal(query.status, 201);
    assert.equal(query.body.name, 'From query');
    assert.equal(query.body.org_id, user.orgId);
  });

  it('answers 404 for an organisation the user is not in, before or after the file, and stores nothing', async () => {
    const stranger = await registerUser(server);
    const wav = await readFile(path.join(FIXTURES, 'speech.wav'));
    const spoolBefore = await spoolEntries(server);
    const first = await upload(server, stranger.token, wav, { fields: [['org_id', user.orgId]] });
    assert.equal(first.status, 404);
    const last = await upload(server, stranger.token, wav, { fieldsAfter: [['org_id', user.orgId]] });
    assert.equal(last.status, 404);
    const inQuery = await upload(server, stranger.token, wav, { query: `?org_id=${user.orgId}` });
    assert.equal(inQuery.status, 404);
    assert.deepEqual(await spoolEntries(server), spoolBefore);
    const list = await api(server, 'GET', `/api/recordings?org_id=${user.orgId}`, { token: stranger.token });
    assert.equal(list.status, 404);
  });

  it('needs a file part, a multipart body and a signed-in user', async () => {
    const form = new FormData();
    form.append('name', 'nothing');
    const noFile = await api(server, 'POST', '/api/recordings/upload', { token: user.token, body: form });
    assert.equal(noFile.status, 422);
    const notMultipart = await api(server, 'POST', '/api/recordings/upload', { token: user.token, json: {} });
    assert.equal(notMultipart.status, 415);
    const anonymous = await upload(server, '', Buffer.from('x'));
    assert.equal(anonymous.status, 401);
  });

  it('answers 202 while a long file is processing, then it becomes ready with progress 1', async () => {
    const wav = await longWav(24); // two minutes
    const res = await upload(server, user.token, wav, { query: '?wait=0' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.status, 'processing');
    assert.ok(res.body.progress >= 0 && res.body.progress < 1);
    const done = await waitForRecording(server, user, res.body.id, 120_000);
    assert.equal(done.status, 'ready');
    assert.equal(done.progress, 1);
    assert.ok(Math.abs(done.duration_sec - 120.156) < 2.4, `duration ${done.duration_sec}`);
  });
});

describe('deleting while processing', () => {
  it('goes on in the trash; deleting for good cancels the job and leaves no files behind', async () => {
    const server = await startTestServer();
    try {
      const user = await registerUser(server);
      const res = await upload(server, user.token, await longWav(60), { query: '?wait=0' });
      assert.equal(res.status, 202);
      const deleted = await api(server, 'DELETE', `/api/recordings/${res.body.id}`, { token: user.token });
      assert.equal(deleted.status, 204);
      assert.equal((await api(server, 'GET', `/api/recordings/${res.body.id}`, { token: user.token })).status, 404);
      const forever = await api(server, 'DELETE', `/api/trash/${res.body.id}`, { token: user.token });
      assert.equal(forever.status, 204);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(await spoolEntries(server), []);
      const blobs = await readdir(path.join(server.dataDir, 'blobs', 'recordings', user.orgId)).catch(() => []);
      assert.deepEqual(blobs, []);
    } finally {
      await server.close();
    }
  });
});

describe('upload limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { MAX_UPLOAD_BYTES: '20000' } });
  });
  after(() => server.close());

  it('refuses a file over MAX_UPLOAD_BYTES with 413 and removes the partial file', async () => {
    const user = await registerUser(server);
    const res = await upload(server, user.token, await readFile(path.join(FIXTURES, 'speech.wav')));
    assert.equal(res.status, 413, JSON.stringify(res.body));
    assert.deepEqual(await spoolEntries(server), []);
    const list = await api(server, 'GET', '/api/recordings', { token: user.token });
    assert.deepEqual(list.body.items, []);
    // Below the limit still works.
    const small = await upload(server, user.token, await readFile(path.join(FIXTURES, 'speech.ogg')));
    assert.equal(small.status, 201);
  });
});

describe('processing queue quota', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { PROCESSING_MAX_QUEUED_PER_USER: '2', MEDIA_WORKERS: '1' } });
  });
  after(() => server.close());

  it('refuses a user’s upload past their queued recordings with 429 and Retry-After, and nobody else’s', async () => {
    const [busy, other] = [await registerUser(server), await registerUser(server)];
    const tenMinutes = longWav(120);
    const queued = [];
    for (let i = 0; i < 2; i++) queued.push(await upload(server, busy.token, tenMinutes, { query: '?wait=0' }));
    assert.deepEqual(
      queued.map((res) => res.status),
      [202, 202],
    );
    const refused = await upload(server, busy.token, tenMinutes, { query: '?wait=0' });
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'rate_limited');
    assert.match(refused.body.message, /at most 2 recordings may wait for processing/);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    const list = await api(server, 'GET', '/api/recordings', { token: busy.token });
    assert.equal(list.body.items.length, 2, 'the refused upload left no recording');

    const speech = await readFile(path.join(FIXTURES, 'speech.ogg'));
    assert.equal((await upload(server, other.token, speech, { query: '?wait=0' })).status, 202);
    for (const res of queued) assert.equal((await waitForRecording(server, busy, res.body.id, 60_000)).status, 'ready');
    await eventually(async () => assert.equal((await upload(server, busy.token, speech)).status, 201));
  });
});

describe('processing across a restart', () => {
  it('resumes an upload that was processing when the server stopped', async () => {
    let server = await startTestServer();
    try {
      const user = await registerUser(server);
      const res = await upload(server, user.token, await longWav(120), { query: '?wait=0' }); // ten minutes
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const during = await api(server, 'GET', `/api/recordings/${res.body.id}`, { token: user.token });
      assert.equal(during.body.status, 'processing');
      await server.stop();
      server = await startTestServer({
        reuse: { dataDir: server.dataDir, ...(server.schema ? { schema: server.schema } : {}) },
      });
      const progress: number[] = [];
      const done = await waitForRecording(server, user, res.body.id, 120_000, (body) => progress.push(body.progress));
      assert.equal(done.status, 'ready', JSON.stringify(done));
      assert.ok(
        progress.some((p) => p > 0 && p < 1),
        `progress is reported while processing: ${progress}`,
      );
      assert.ok(Math.abs(done.duration_sec - 600.78) < 12, `duration ${done.duration_sec}`);
      await eventually(async () => assert.deepEqual(await spoolEntries(server), []));
    } finally {
      await server.close();
    }
  });

  it('marks a recording failed when its input vanished from the store during the restart', async () => {
    let server = await startTestServer();
    try {
      const user = await registerUser(server);
      const res = await upload(server, user.token, await longWav(120), { query: '?wait=0' });
      assert.equal(res.status, 202);
      await server.stop();
      await storeOf(server).deletePrefix(`inputs/${res.body.id}/`);
      server = await startTestServer({
        reuse: { dataDir: server.dataDir, ...(server.schema ? { schema: server.schema } : {}) },
      });
      const done = await waitForRecording(server, user, res.body.id, 120_000);
      assert.equal(done.status, 'failed');
      assert.match(done.error, /missing from storage/);
    } finally {
      await server.close();
    }
  });
});
