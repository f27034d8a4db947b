/**
 * Live recording over WebSocket: the seed's handshake (every failure closes 1008), the three
 * containers, the clean endings (stop message, plain close) and acknowledgements.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import { registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { FIXTURES, openSocket, probeAudio, sendAudio, startRecording, waitForRecording } from './live-helpers.ts';

const HANDSHAKE_MS = 400;

describe('live recording: seed handshake and finalisation', () => {
  let server: TestServer;
  let user: TestUser;
  let other: TestUser;
  before(async () => {
    server = await startTestServer({ env: { LIVE_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_MS) } });
    [user, other] = await Promise.all([registerUser(server), registerUser(server)]);
  });
  after(() => server.close());

  async function expectRefused(client: ReturnType<typeof openSocket>, error: string) {
    const closed = await client.closed;
    assert.equal(closed.code, 1008, `close code, got ${JSON.stringify(closed)}`);
    assert.ok(Buffer.byteLength(closed.reason) <= 123);
    const last = client.messages.at(-1);
    assert.equal(last?.status, 'error');
    assert.equal(last?.error, error);
    return closed;
  }

  describe('step 1: token', () => {
    it('answers a valid token with {"status":"authenticated"}', async () => {
      const client = openSocket(server);
      client.send({ token: user.token });
      assert.deepEqual(await client.next(), { status: 'authenticated' });
      client.ws.close();
    });

    it('closes 1008 when no token arrives in time', async () => {
      const started = Date.now();
      const client = openSocket(server);
      const closed = await expectRefused(client, 'handshake_timeout');
      assert.ok(Date.now() - started >= HANDSHAKE_MS - 50);
      assert.match(closed.reason, /token/);
    });

    it('closes 1008 on text that is not JSON', async () => {
      const client = openSocket(server);
      client.send('hello');
      await expectRefused(client, 'bad_request');
    });

    it('closes 1008 when the first frame is binary', async () => {
      const client = openSocket(server);
      client.send(Buffer.from([1, 2, 3]));
      await expectRefused(client, 'invalid_token');
    });

    it('closes 1008 on a missing token field', async () => {
      const client = openSocket(server);
      client.send({ access_token: user.token });
      await expectRefused(client, 'invalid_token');
    });

    it('closes 1008 on an invalid token', async () => {
      const client = openSocket(server);
      client.send({ token: `${user.token.slice(0, -4)}AAAA` });
      await expectRefused(client, 'invalid_token');
    });

    it('closes 1008 on an expired token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const { jwt } = server.config;
      const expired = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwt.keyId })
        .setIssuer(jwt.issuer)
        .setAudience(jwt.audience)
        .setSubject(user.id)
        .setIssuedAt(now - 3600)
        .setExpirationTime(now - 600)
        .setJti(randomUUID())
        .sign(jwt.secret);
      const client = openSocket(server);
      client.send({ token: expired });
      const closed = await expectRefused(client, 'invalid_token');
      assert.match(closed.reason, /expired/);
    });
  });

  describe('step 2: metadata', () => {
    async function authenticated() {
      const client = openSocket(server);
      client.send({ token: user.token });
      await client.next((m) => m.status === 'authenticated');
      return client;
    }

    it('answers valid metadata with recording_started, filename and recording_id', async () => {
      const { client, started, recordingId } = await startRecording(server, user);
      assert.equal(started.filename, `${recordingId}.ogg`);
      assert.match(recordingId, /^[0-9a-f-]{36}$/);
      client.ws.close();
    });

    for (const [what, meta, error] of [
      ['a meeting_link that is not a URL', { meeting_link: 'not a url' }, 'validation_failed'],
      ['a javascript: meeting_link', { meeting_link: 'javascript:alert(1)' }, 'validation_failed'],
      ['a name that is too long', { name: 'x'.repeat(201) }, 'validation_failed'],
      ['a name that is not a string', { name: 42 }, 'validation_failed'],
      ['an org_id that is not a string', { org_id: 7 }, 'validation_failed'],
      ['an organisation the user is not in', 'foreign', 'forbidden'],
      ['an unknown organisation', { org_id: randomUUID() }, 'forbidden'],
    ] as const) {
      it(`closes 1008 on ${what}`, async () => {
        const client = await authenticated();
        const base = { name: 'x', meeting_link: 'https://meet.example.com/x', org_id: user.orgId };
        client.send(meta === 'foreign' ? { ...base, org_id: other.orgId } : { ...base, ...meta });
        await expectRefused(client, error);
      });
    }

    for (const key of ['name', 'meeting_link', 'org_id'] as const) {
      it(`closes 1008 with a reason naming "${key}" when it is missing (the seed's three keys are required)`, async () => {
        const client = await authenticated();
        const { [key]: _, ...rest } = { name: 'x', meeting_link: '', org_id: user.orgId };
        client.send(rest);
        const closed = await expectRefused(client, 'validation_failed');
        assert.match(closed.reason, new RegExp(`"${key}" is required`));
      });
    }

    it('closes 1008 on control characters in the name or the link', async () => {
      for (const meta of [{ name: 'a\u0000b' }, { name: 'x\u202e' }, { meeting_link: 'https://x.example/\u001b' }]) {
        const client = await authenticated();
        client.send({ name: 'x', meeting_link: '', org_id: user.orgId, ...meta });
        await expectRefused(client, 'validation_failed');
      }
    });

    it('closes 1008 on metadata that is not JSON, or binary before metadata', async () => {
      const a = await authenticated();
      a.send('{"name":');
      await expectRefused(a, 'bad_request');
      const b = await authenticated();
      b.send(Buffer.from('audio'));
      await expectRefused(b, 'bad_request');
    });

    it('closes 1008 when no metadata arrives in time', async () => {
      const client = await authenticated();
      const closed = await expectRefused(client, 'handshake_timeout');
      assert.match(closed.reason, /metadata/);
    });

    it('accepts the token and metadata sent back to back without waiting', async () => {
      const client = openSocket(server);
      client.send({ token: user.token });
      client.send({ name: 'eager', meeting_link: null, org_id: user.orgId });
      client.send(readFileSync(path.join(FIXTURES, 'speech.ogg')));
      client.send({ action: 'stop' });
      const saved = await client.next((m) => m.status === 'recording_saved');
      assert.ok(Math.abs(saved.duration - 5) < 0.1);
      assert.deepEqual(
        client.messages.map((m) => m.status),
        ['authenticated', 'recording_started', 'recording_saved'],
      );
    });
  });

  describe('step 3: audio, in every container a browser records', () => {
    for (const fixture of ['speech.webm', 'speech.ogg', 'speech-frag.mp4', 'speech-frag-aac.mp4']) {
      it(`${fixture}: stop → recording_saved, 1000, ready Ogg/Opus 16 kHz mono of the same duration`, async () => {
        const bytes = readFileSync(path.join(FIXTURES, fixture));
        const { client, recordingId } = await startRecording(server, user);
        await sendAudio(client, bytes, { chunkBytes: 3000 });
        const stoppedAt = Date.now();
        client.send({ action: 'stop' });
        const saved = await client.next((m) => m.status === 'recording_saved');
        assert.ok(Date.now() - stoppedAt < 2000, 'ready within 2 s of the end');
        assert.equal(saved.recording_id, recordingId);
        assert.equal(saved.bytes, bytes.length);
        assert.ok(Math.abs(saved.duration - 5) / 5 < 0.02, `duration ${saved.duration}`);
        assert.deepEqual(await client.closed, { code: 1000, reason: '' });

        const recording = await waitForRecording(server, user, recordingId);
        assert.equal(recording.status, 'ready');
        assert.equal(recording.source, 'live');
        assert.equal(recording.received_bytes, bytes.length);
        assert.equal(recording.meeting_link, 'https://meet.example.com/abc-defg-hij');
        assert.deepEqual([recording.codec, recording.sample_rate, recording.channels], ['opus', 16000, 1]);
        const probed = await probeAudio(server, user, recordingId);
        assert.deepEqual([probed.format, probed.codec, probed.sampleRate, probed.channels], ['ogg', 'opus', 16000, 1]);
        assert.ok(Math.abs(probed.duration - 5) / 5 < 0.02, `probed duration ${probed.duration}`);
      });
    }

    it('a seed client that closes normally right after the audio gets a finished recording', async () => {
      for (const code of [1000, undefined]) {
        const { client, recordingId } = await startRecording(server, user);
        await sendAudio(client, readFileSync(path.join(FIXTURES, 'speech.webm')));
        const closedAt = Date.now();
        if (code) client.ws.close(code);
        else client.ws.close(); // no status code: the server sees 1005
        await client.closed;
        const recording = await waitForRecording(server, user, recordingId, 5000);
        assert.equal(recording.status, 'ready');
        assert.ok(Date.now() - closedAt < 2500, 'finalised promptly, not after the grace period');
        assert.ok(Math.abs(recording.duration_sec - 5) / 5 < 0.02);
        // Nothing beyond the seed's messages was sent (no acks without ack:true).
        assert.deepEqual(
          client.messages.map((m) => m.status),
          ['authenticated', 'recording_started'],
        );
      }
    });

    it('stop without any audio fails the recording and says so (4422)', async () => {
      const { client, recordingId } = await startRecording(server, user);
      client.send({ action: 'stop' });
      const error = await client.next((m) => m.status === 'error');
      assert.equal(error.error, 'invalid_media');
      assert.equal((await client.closed).code, 4422);
      assert.equal((await waitForRecording(server, user, recordingId)).status, 'failed');
    });

    it('bytes that are not audio end the session with 4422 as they arrive, not at stop', async () => {
      const { client, recordingId } = await startRecording(server, user);
      client.send(Buffer.alloc(50_000, 7));
      const error = await client.next((m) => m.status === 'error');
      assert.equal(error.error, 'invalid_media');
      assert.match(error.message, /could not recognise the live stream/);
      assert.equal((await client.closed).code, 4422);
      const failed = await waitForRecording(server, user, recordingId);
      assert.deepEqual([failed.status, failed.error_code], ['failed', 'invalid_media']);
    });
  });

  describe('opt-in extensions', () => {
    it('with ack:true acknowledges durable bytes, monotonically, up to everything sent', async () => {
      const bytes = readFileSync(path.join(FIXTURES, 'speech.webm'));
      const { client } = await startRecording(server, user, { ack: true });
      await sendAudio(client, bytes, { chunkBytes: 2000, bytesPerSecond: 40_000 });
      await client.next((m) => m.status === 'ack' && m.bytes === bytes.length);
      const acks = client.messages.filter((m) => m.status === 'ack').map((m) => m.bytes);
      assert.ok(acks.length >= 2);
      assert.deepEqual(
        acks,
        [...acks].sort((a, b) => a - b),
      );
      client.send({ action: 'stop' });
      await client.next((m) => m.status === 'recording_saved');
    });

    it('answers ping with pong and unknown messages with an error, without closing', async () => {
      const { client } = await startRecording(server, user);
      client.send({ action: 'ping' });
      assert.deepEqual(await client.next((m) => m.status !== 'recording_started'), { status: 'pong' });
      client.send({ action: 'dance' });
      assert.equal((await client.next()).error, 'bad_request');
      client.send('not json');
      assert.equal((await client.next()).error, 'bad_request');
      await sleep(50);
      assert.equal(client.ws.readyState, client.ws.OPEN);
      client.ws.close();
    });
  });
});
