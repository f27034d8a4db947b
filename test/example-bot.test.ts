/**
 * examples/bot.ts, run as a bot would be (its own process, the built `@earshot/live-client`, an API key),
 * against a real server with the OpenAI-compatible transcription server of the transcript tests: it
 * records a WAV live in real-time chunks, hears `recording.ready` on its own webhook listener (or polls),
 * and prints the transcript.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_SEGMENTS, type FakeTranscriber, startFakeTranscriber } from './fake-transcriber.ts';
import { api, freePort, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { FIXTURES } from './live-helpers.ts';

const BOT = path.resolve(import.meta.dirname, '../examples/bot.ts');

async function runBot(env: Record<string, string>): Promise<Record<string, any>[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [BOT, path.join(FIXTURES, 'speech.wav')], {
    env: { ...process.env, BOT_PACE: '4', ...env },
    timeout: 60_000,
  });
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

describe('examples/bot.ts: a bot records live, waits for the recording, fetches its transcript', () => {
  let fake: FakeTranscriber;
  let server: TestServer;
  let user: TestUser;
  let key: string;

  before(async () => {
    fake = await startFakeTranscriber();
    server = await startTestServer({
      env: {
        TRANSCRIBE_BASE_URL: fake.baseUrl,
        TRANSCRIBE_API_KEY: 'sk-test-key',
        TRANSCRIBE_MODEL: 'whisper-1',
        WEBHOOK_ALLOW_PRIVATE: 'true',
      },
    });
    user = await registerUser(server);
    const created = await api(server, 'POST', `/api/orgs/${user.orgId}/api-keys`, {
      token: user.token,
      json: { name: 'meeting bot', scopes: ['record', 'read'] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    key = created.body.token;
  });
  after(async () => {
    await server?.close();
    await fake?.close();
  });

  const botEnv = () => ({ EARSHOT_URL: server.url, EARSHOT_KEY: key, EARSHOT_ORG_ID: user.orgId });
  const expectedText = DEFAULT_SEGMENTS.map((segment) => segment.text.trim()).join(' ');

  it('told by the recording.ready webhook', async () => {
    const port = await freePort();
    const endpoint = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks`, {
      token: user.token,
      json: { url: `http://127.0.0.1:${port}/`, event_types: ['recording.ready'] },
    });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    try {
      const steps = await runBot({
        ...botEnv(),
        BOT_WEBHOOK_PORT: String(port),
        EARSHOT_WEBHOOK_SECRET: endpoint.body.secret,
      });
      assert.deepEqual(
        steps.map((step) => step.step),
        ['recording', 'stopped', 'ready', 'transcript'],
      );
      const [recording, stopped, ready, transcript] = steps as [any, any, any, any];
      // speech.wav: 5 s of 16 kHz mono PCM, sent as raw PCM.
      assert.equal(stopped.bytes, 5 * 16_000 * 2);
      assert.ok(Math.abs(stopped.duration - 5) < 0.1, `duration ${stopped.duration}`);
      assert.equal(ready.by, 'webhook');
      assert.equal(transcript.recordingId, recording.recordingId);
      assert.equal(transcript.text, expectedText);
      assert.equal(fake.requestsFor(recording.recordingId).length, 1, 'the transcriber got the recording');
    } finally {
      await api(server, 'DELETE', `/api/orgs/${user.orgId}/webhooks/${endpoint.body.endpoint.id}`, {
        token: user.token,
      });
    }
  });

  it('polling, without a webhook', async () => {
    const steps = await runBot(botEnv());
    assert.equal(steps.find((step) => step.step === 'ready')?.by, 'polling');
    assert.equal(steps.at(-1)?.text, expectedText);
  });
});
