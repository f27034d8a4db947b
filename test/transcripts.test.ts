/**
 * Transcripts end to end, on both databases: a real server, an OpenAI-compatible transcription server
 * written here (fake-transcriber.ts: real HTTP and multipart, OpenAI's answer shapes), on-request and
 * automatic transcription, JSON/SRT/WebVTT, search, the provider's errors and slowness, the feature off,
 * the local engine's missing and unusable model files, delete and access.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/index.ts';
import { DEFAULT_SEGMENTS, type FakeTranscriber, startFakeTranscriber } from './fake-transcriber.ts';
import { api, eventually, joinOrg, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { startReceiver, verify } from './webhook-receiver.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');

async function upload(server: TestServer, user: TestUser, name: string, orgId?: string): Promise<any> {
  const form = new FormData();
  form.append('name', name);
  if (orgId) form.append('org_id', orgId);
  form.append('file', new Blob([await readFile(path.join(FIXTURES, 'speech.ogg'))]), 'speech.ogg');
  // Wait for processing (up to 30 s) so the recording is ready when this returns.
  const res = await api(server, 'POST', '/api/recordings/upload?wait=30', { token: user.token, body: form });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

const transcript = (server: TestServer, user: TestUser, id: string, query = '', headers = {}) =>
  api(server, 'GET', `/api/recordings/${id}/transcript${query}`, { token: user.token, headers });

/** Polls the transcript until it is ready or failed. */
async function settled(server: TestServer, user: TestUser, id: string): Promise<any> {
  return eventually(
    async () => {
      const res = await transcript(server, user, id);
      assert.equal(res.status, 200);
      assert.ok(['ready', 'failed'].includes(res.body.status), `transcript is ${res.body.status}`);
      return res.body;
    },
    30_000,
    50,
  );
}

const request = (server: TestServer, user: TestUser, id: string) =>
  api(server, 'POST', `/api/recordings/${id}/transcript`, { token: user.token });

describe('transcripts', () => {
  let fake: FakeTranscriber;
  let server: TestServer & { schema?: string };
  let alice: TestUser;

  before(async () => {
    fake = await startFakeTranscriber();
    server = await startTestServer({
      env: {
        TRANSCRIBE_BASE_URL: fake.baseUrl,
        TRANSCRIBE_API_KEY: 'sk-test-key',
        TRANSCRIBE_MODEL: 'whisper-1',
        TRANSCRIBE_TIMEOUT_MS: '1000',
        PROCESSING_RETRY_BASE_MS: '50',
        PROCESSING_MAX_ATTEMPTS: '3',
        // The webhook receiver of the transcript.ready test listens on loopback.
        WEBHOOK_ALLOW_PRIVATE: 'true',
      },
    });
    alice = await registerUser(server);
  });
  after(async () => {
    await server?.close();
    await fake?.close();
  });

  it('transcribes on request: the audio goes out as multipart and the segments come back', async () => {
    const recording = await upload(server, alice, 'Standup');
    const none = await transcript(server, alice, recording.id);
    assert.equal(none.status, 200);
    assert.equal(none.body.status, 'none');
    assert.equal(none.body.available, true);
    assert.deepEqual(none.body.segments, []);

    const queued = await request(server, alice, recording.id);
    assert.equal(queued.status, 202, JSON.stringify(queued.body));
    assert.ok(['pending', 'processing', 'ready'].includes(queued.body.status));
    const done = await settled(server, alice, recording.id);
    assert.equal(done.status, 'ready', JSON.stringify(done));
    assert.equal(done.provider, 'openai');
    assert.equal(done.model, 'whisper-1');
    assert.equal(done.language, 'english');
    assert.equal(done.error, null);
    assert.ok(done.requested_at && done.finished_at >= done.requested_at);
    assert.deepEqual(done.segments, [
      { start: 0, end: 2.4, text: 'Hello & welcome to the <budget> meeting.' },
      { start: 2.4, end: 5.0065, text: 'Réunion budgétaire, deuxième partie.' },
    ]);

    const [sent] = fake.requestsFor(recording.id);
    assert.ok(sent);
    assert.equal(sent.authorization, 'Bearer sk-test-key');
    assert.deepEqual(sent.fields, {
      model: 'whisper-1',
      response_format: 'verbose_json',
      'timestamp_granularities[]': 'segment',
    });
    assert.equal(sent.file.name, `${recording.id}.ogg`);
    assert.equal(sent.file.type, 'audio/ogg');
    const audio = await fetch(`${server.url}/api/recordings/${recording.id}/audio`, {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    assert.ok(Buffer.from(await audio.arrayBuffer()).equals(sent.file.bytes), 'the recording audio, byte for byte');
  });

  it('tells a webhook endpoint when a transcript is ready, signed, with the recording and the transcript facts', async () => {
    const receiver = await startReceiver();
    try {
      const user = await registerUser(server);
      const created = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks`, {
        token: user.token,
        json: { url: `${receiver.url}/transcripts`, event_types: ['transcript.ready'] },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const recording = await upload(server, user, 'Retro');
      assert.equal((await request(server, user, recording.id)).status, 202);
      assert.equal((await settled(server, user, recording.id)).status, 'ready');
      const [delivery] = await eventually(() => {
        const got = receiver.at('/transcripts');
        assert.equal(got.length, 1, 'one delivery, of transcript.ready only');
        return got;
      }, 30_000);
      verify(delivery!, created.body.secret);
      assert.equal(delivery!.payload.type, 'transcript.ready');
      const { data } = delivery!.payload;
      assert.equal(data.recording.id, recording.id);
      assert.equal(data.recording.status, 'ready');
      assert.equal(data.audio_url.endsWith(`/api/recordings/${recording.id}/audio`), true, data.audio_url);
      assert.deepEqual(
        [data.provider, data.model, data.language, data.segments],
        ['openai', 'whisper-1', 'english', DEFAULT_SEGMENTS.length],
      );
    } finally {
      await receiver.close();
    }
  });

  it('gives the transcript as SubRip and WebVTT, by query or Accept', async () => {
    const recording = await upload(server, alice, 'Subtitles "Q3"');
    fake.script(recording.id, {
      kind: 'answer',
      segments: [...DEFAULT_SEGMENTS, { start: 3725.5, end: 3727.25, text: ' a --> b\n\nc' }],
    });
    assert.equal((await request(server, alice, recording.id)).status, 202);
    assert.equal((await settled(server, alice, recording.id)).status, 'ready');

    const srt = await transcript(server, alice, recording.id, '?format=srt');
    assert.equal(srt.status, 200);
    assert.equal(srt.headers.get('content-type'), 'application/x-subrip; charset=utf-8');
    assert.match(srt.headers.get('content-disposition') ?? '', /^inline; filename="Subtitles _Q3_\.srt"/);
    assert.equal(
      srt.body,
      '1\n00:00:00,000 --> 00:00:02,400\nHello & welcome to the <budget> meeting.\n\n' +
        '2\n00:00:02,400 --> 00:00:05,007\nRéunion budgétaire, deuxième partie.\n\n' +
        '3\n01:02:05,500 --> 01:02:07,250\na --> b c\n\n',
    );
    const vtt = await transcript(server, alice, recording.id, '?format=vtt');
    assert.equal(vtt.headers.get('content-type'), 'text/vtt; charset=utf-8');
    assert.equal(
      vtt.body,
      'WEBVTT\n\n' +
        '1\n00:00:00.000 --> 00:00:02.400\nHello &amp; welcome to the &lt;budget&gt; meeting.\n\n' +
        '2\n00:00:02.400 --> 00:00:05.007\nRéunion budgétaire, deuxième partie.\n\n' +
        '3\n01:02:05.500 --> 01:02:07.250\na --&gt; b c\n\n',
    );
    const accepted = await transcript(server, alice, recording.id, '', { accept: 'text/vtt' });
    assert.equal(accepted.body, vtt.body);
    const json = await transcript(server, alice, recording.id, '?format=json', { accept: 'text/vtt' });
    assert.equal(json.body.status, 'ready');

    const fresh = await upload(server, alice, 'No transcript yet');
    const early = await transcript(server, alice, fresh.id, '?format=srt');
    assert.equal(early.status, 409);
    assert.equal(early.body.error, 'conflict');
  });

  it('transcribes automatically where an owner or admin turned it on, and members may not', async () => {
    const team = await api(server, 'POST', '/api/orgs', { token: alice.token, json: { name: 'Auto' } });
    const orgId = team.body.id;
    const bob = await registerUser(server);
    const carol = await registerUser(server);
    await joinOrg(server, alice, orgId, bob, 'member');
    await joinOrg(server, alice, orgId, carol, 'admin');
    const settings = (user: TestUser, json?: unknown) =>
      api(server, json ? 'PATCH' : 'GET', `/api/orgs/${orgId}/settings`, { token: user.token, json });

    assert.deepEqual((await settings(bob)).body, { auto_transcribe: false, trash_retention_days: 30 });
    // Off: a recording becomes ready with no transcript queued (it would be pending by now).
    const manual = await upload(server, bob, 'Before auto', orgId);
    assert.equal((await transcript(server, bob, manual.id)).body.status, 'none');

    const denied = await settings(bob, { auto_transcribe: true });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error, 'forbidden');
    assert.equal((await settings(carol, { auto_transcribe: true })).body.auto_transcribe, true);
    assert.equal((await settings(bob)).body.auto_transcribe, true);
    assert.equal((await settings(carol, {})).status, 422);
    const outsider = await registerUser(server);
    assert.equal((await settings(outsider)).status, 404);

    const auto = await upload(server, bob, 'Weekly sync', orgId);
    const done = await settled(server, bob, auto.id);
    assert.equal(done.status, 'ready');
    assert.equal(done.segments.length, 2);
    assert.equal(fake.requestsFor(auto.id).length, 1);
    assert.equal(fake.requestsFor(manual.id).length, 0);

    assert.equal((await settings(alice, { auto_transcribe: false })).body.auto_transcribe, false);
    const after = await upload(server, bob, 'After auto', orgId);
    assert.equal((await transcript(server, bob, after.id)).body.status, 'none');
  });

  it('searches names and transcript text, ignoring case', async () => {
    const user = await registerUser(server);
    const spoken = await upload(server, user, 'Quarterly sync');
    const other = await upload(server, user, 'Hiring 100% plan');
    assert.equal((await request(server, user, spoken.id)).status, 202);
    assert.equal((await settled(server, user, spoken.id)).status, 'ready');
    const search = async (q: string) => {
      const res = await api(server, 'GET', `/api/recordings?q=${encodeURIComponent(q)}`, { token: user.token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.items.map((r: any) => r.name);
    };
    assert.deepEqual(await search('RÉUNION BUDGÉTAIRE'), ['Quarterly sync']);
    assert.deepEqual(await search('<budget> meeting'), ['Quarterly sync']);
    assert.deepEqual(await search('quarterly'), ['Quarterly sync']);
    assert.deepEqual(await search('hiring'), ['Hiring 100% plan']);
    assert.deepEqual(await search('100%'), ['Hiring 100% plan']);
    assert.deepEqual(await search('1_0'), []);
    assert.deepEqual(await search('%'), ['Hiring 100% plan']);
    assert.deepEqual(await search('nowhere said'), []);
    assert.deepEqual((await search('')).sort(), [other.name, spoken.name].sort());
    // Another user's transcripts are not searched.
    assert.deepEqual(
      (await api(server, 'GET', '/api/recordings?q=budg', { token: alice.token })).body.items.some(
        (r: any) => r.id === spoken.id,
      ),
      false,
    );
  });

  it('fails at once when the provider refuses the audio (400)', async () => {
    const recording = await upload(server, alice, 'Refused');
    fake.script(recording.id, { kind: 'error', status: 400, message: 'Audio file might be corrupted or unsupported' });
    await request(server, alice, recording.id);
    const failed = await settled(server, alice, recording.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error_code, 'transcription_refused');
    assert.match(failed.error, /refused the audio \(400\): Audio file might be corrupted or unsupported/);
    assert.equal(fake.requestsFor(recording.id).length, 1, 'a refusal is not retried');

    // Asking again after a failure works (the provider accepts it now).
    assert.equal((await request(server, alice, recording.id)).status, 202);
    assert.equal((await settled(server, alice, recording.id)).status, 'ready');
  });

  it('retries a 429 no sooner than its Retry-After, and a 500, then succeeds', async () => {
    const recording = await upload(server, alice, 'Busy provider');
    fake.script(
      recording.id,
      { kind: 'error', status: 429, message: 'Rate limit reached', headers: { 'retry-after': '1' } },
      { kind: 'error', status: 500, message: 'The server had an error while processing your request' },
    );
    await request(server, alice, recording.id);
    const done = await settled(server, alice, recording.id);
    assert.equal(done.status, 'ready', JSON.stringify(done));
    const seen = fake.requestsFor(recording.id);
    assert.equal(seen.length, 3);
    assert.ok(seen[1]!.at - seen[0]!.at >= 1000, 'the second attempt waited for Retry-After');
  });

  it('gives up on a provider slower than TRANSCRIBE_TIMEOUT_MS and retries', async () => {
    const recording = await upload(server, alice, 'Slow provider');
    fake.script(recording.id, { kind: 'slow', ms: 5000 });
    await request(server, alice, recording.id);
    const done = await settled(server, alice, recording.id);
    assert.equal(done.status, 'ready');
    const seen = fake.requestsFor(recording.id);
    assert.equal(seen.length, 2);
    assert.equal(seen[0]!.aborted, true, 'the slow request was abandoned');
  });

  it('fails with a clear message after its attempts when the answer is not verbose_json', async () => {
    const recording = await upload(server, alice, 'Malformed');
    const html = { kind: 'raw', status: 200, body: '<html>gateway</html>', contentType: 'text/html' } as const;
    fake.script(recording.id, html, html, html);
    await request(server, alice, recording.id);
    const failed = await settled(server, alice, recording.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error_code, 'transcription_provider_error');
    assert.match(failed.error, /answer is not verbose_json: it is not JSON/);
    assert.equal(fake.requestsFor(recording.id).length, 3);
  });

  it('answers 404 to another organisation and lets members read a shared transcript', async () => {
    const recording = await upload(server, alice, 'Private');
    const mallory = await registerUser(server);
    for (const res of [
      await transcript(server, mallory, recording.id),
      await transcript(server, mallory, recording.id, '?format=vtt'),
      await request(server, mallory, recording.id),
    ]) {
      assert.equal(res.status, 404);
      assert.equal(res.body.error, 'not_found');
    }
    assert.equal((await transcript(server, alice, 'no-such-recording')).status, 404);
    const team = await api(server, 'POST', '/api/orgs', { token: alice.token, json: { name: 'Shared' } });
    await joinOrg(server, alice, team.body.id, mallory, 'member');
    const shared = await upload(server, alice, 'Shared', team.body.id);
    assert.equal((await request(server, mallory, shared.id)).status, 202);
    assert.equal((await settled(server, mallory, shared.id)).status, 'ready');
  });

  it('deleting a recording for good removes its transcript and cancels its running job', async () => {
    const db = openDatabase(server.config.databaseUrl, server.schema ? { schema: server.schema } : {});
    try {
      const rows = async (id: string) => ({
        transcripts: (await db.db.selectFrom('transcripts').select('status').where('recording_id', '=', id).execute())
          .length,
        segments: (
          await db.db.selectFrom('transcript_segments').select('text').where('recording_id', '=', id).execute()
        ).length,
        jobs: (await db.db.selectFrom('jobs').select('id').where('recording_id', '=', id).execute()).length,
      });

      const finished = await upload(server, alice, 'Finished then deleted');
      await request(server, alice, finished.id);
      assert.equal((await settled(server, alice, finished.id)).status, 'ready');
      assert.deepEqual(await rows(finished.id), { transcripts: 1, segments: 2, jobs: 0 });
      assert.equal((await api(server, 'DELETE', `/api/recordings/${finished.id}`, { token: alice.token })).status, 204);
      assert.deepEqual(await rows(finished.id), { transcripts: 1, segments: 2, jobs: 0 }, 'kept in the trash');
      assert.equal((await api(server, 'DELETE', `/api/trash/${finished.id}`, { token: alice.token })).status, 204);
      assert.deepEqual(await rows(finished.id), { transcripts: 0, segments: 0, jobs: 0 });

      const running = await upload(server, alice, 'Deleted while transcribing');
      fake.script(running.id, { kind: 'slow', ms: 60_000 }, { kind: 'slow', ms: 60_000 });
      await request(server, alice, running.id);
      await eventually(() => assert.equal(fake.requestsFor(running.id).length, 1), 10_000);
      assert.equal((await transcript(server, alice, running.id)).body.status, 'processing');
      assert.equal((await api(server, 'DELETE', `/api/recordings/${running.id}`, { token: alice.token })).status, 204);
      assert.equal((await api(server, 'DELETE', `/api/trash/${running.id}`, { token: alice.token })).status, 204);
      await eventually(() => assert.equal(fake.requestsFor(running.id)[0]!.aborted, true), 10_000);
      assert.deepEqual(await rows(running.id), { transcripts: 0, segments: 0, jobs: 0 });
      assert.equal((await transcript(server, alice, running.id)).status, 404);
    } finally {
      await db.close();
    }
  });
});

describe('transcripts without a provider', () => {
  it('says transcription is off and which variables turn it on', async () => {
    const server = await startTestServer();
    try {
      const user = await registerUser(server);
      const recording = await upload(server, user, 'Nobody transcribes');
      const view = await transcript(server, user, recording.id);
      assert.equal(view.body.status, 'none');
      assert.equal(view.body.available, false);
      const res = await request(server, user, recording.id);
      assert.equal(res.status, 503);
      assert.equal(res.body.error, 'transcription_unavailable');
      assert.match(
        res.body.message,
        /transcription is off on this server: set TRANSCRIBE_BASE_URL .* or WHISPER_MODEL/,
      );
    } finally {
      await server.close();
    }
  });
});

describe('transcripts with the local whisper engine', () => {
  it('refuses to start when WHISPER_MODEL names no file', async () => {
    await assert.rejects(
      startTestServer({ env: { WHISPER_MODEL: '/nonexistent/ggml-base.en.bin' } }),
      /WHISPER_MODEL names \/nonexistent\/ggml-base\.en\.bin, which is not a file/,
    );
  });

  it('fails a transcript with a clear message when the model file is not a whisper.cpp model', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'earshot-whisper-'));
    const file = path.join(dir, 'ggml-fake.bin');
    await writeFile(file, Buffer.alloc(4096, 1));
    const whisper = await startTestServer({ env: { WHISPER_MODEL: file, PROCESSING_MAX_ATTEMPTS: '1' } });
    try {
      const user = await registerUser(whisper);
      const recording = await upload(whisper, user, 'Local');
      assert.equal((await request(whisper, user, recording.id)).status, 202);
      const failed = await settled(whisper, user, recording.id);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.provider, 'whisper');
      assert.equal(failed.model, 'ggml-fake.bin');
      assert.equal(failed.error_code, 'transcription_unavailable');
      assert.match(
        failed.error,
        /could not load the whisper model .*ggml-fake\.bin \(WHISPER_MODEL\): it is not a whisper\.cpp ggml model/,
      );
    } finally {
      await whisper.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
