/**
 * The client package as published (`@earshot/live-client` resolves to its built dist/, which
 * scripts/test.ts builds first) over Node's standard WebSocket: a plain recording, automatic resume
 * through a TCP proxy whose connections are cut mid-stream, reconnectNow(), the `ended` event's reasons
 * (stopped, refused, aborted, limit, shutdown) with send() after the end, typed listeners, an
 * AbortSignal, and a recording resumed by a second client from the audio its store kept.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  framePacket,
  type LiveClientEvent,
  type LiveClientEventOf,
  type LiveClientOptions,
  LiveRecordingClient,
  LiveRecordingError,
  MemoryUnackedStore,
  opusHead,
  readOpusHead,
} from '@earshot/live-client';
import { OggOpusReader } from '../src/media/remux/ogg-reader.ts';
import { opusSpeech, STORED_FORMAT_ARGS } from '../src/media/test-helpers.ts';
import { eventually, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { FIXTURES, longFixture, openSocket, probeAudio, waitForRecording } from './live-helpers.ts';

interface Proxy {
  server: Server;
  url: string;
  /** Drops every connection without a close frame. */
  cut(): void;
  /** While true, new connections are dropped at once (the server looks unreachable). */
  refuse: boolean;
  /** Connections accepted so far. */
  connections: number;
}

/** Forwards TCP to the server. */
async function tcpProxy(target: URL): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    proxy.connections += 1;
    if (proxy.refuse) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const proxy: Proxy = {
    server,
    url: `ws://127.0.0.1:${port}`,
    cut() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    refuse: false,
    connections: 0,
  };
  return proxy;
}

/** Resolves with the first event of this type (polling the list the client's onEvent fills). */
async function eventOf<T extends LiveClientEvent['type']>(
  events: LiveClientEvent[],
  type: T,
  predicate: (event: Extract<LiveClientEvent, { type: T }>) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<Extract<LiveClientEvent, { type: T }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find(
      (e): e is Extract<LiveClientEvent, { type: T }> => e.type === type && predicate(e as any),
    );
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${type} event; got ${JSON.stringify(events)}`);
    await sleep(10);
  }
}

const webm = readFileSync(path.join(FIXTURES, 'speech.webm'));

describe('@earshot/live-client (built package, standard WebSocket)', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer({ env: { LIVE_COMMIT_INTERVAL_MS: '200' } });
    user = await registerUser(server);
  });
  after(() => server.close());

  const clientFor = (
    overrides: Partial<LiveClientOptions> & { events: LiveClientEvent[]; name: string },
  ): LiveRecordingClient =>
    new LiveRecordingClient({
      url: `${server.wsUrl}/api/ws/record`,
      token: user.token,
      metadata: { name: overrides.name, meeting_link: null, org_id: user.orgId },
      onEvent: (event) => overrides.events.push(event),
      ...overrides,
    });

  it('records: start, send, stop → saved, with commits emptying its buffer', async () => {
    const bytes = webm;
    const events: LiveClientEvent[] = [];
    const client = new LiveRecordingClient({
      url: `${server.wsUrl}/api/ws/record`,
      token: user.token,
      metadata: { name: 'client', meeting_link: null, org_id: user.orgId },
      onEvent: (event) => events.push(event),
    });
    const { recordingId } = await client.start();
    for (let i = 0; i < bytes.length; i += 1000) {
      client.send(bytes.subarray(i, i + 1000));
      await sleep(20);
    }
    await eventually(() => assert.ok(client.committedBytes > 0, 'commits arrive while recording'));
    assert.ok(client.bufferedBytes < bytes.length, 'committed bytes were dropped from the buffer');
    assert.ok(client.ackedBytes >= client.committedBytes, 'nothing is committed before it is acknowledged');
    const saved = await client.stop();
    assert.equal(saved.recordingId, recordingId);
    assert.equal(saved.bytes, bytes.length);
    assert.ok(Math.abs((saved.duration ?? 0) - 5) < 0.1);
    assert.ok(events.some((e) => e.type === 'ack'));
    assert.ok(events.some((e) => e.type === 'committed'));
    // The end, once the server has closed: stopped by us, with the saved recording.
    const ended = await eventOf(events, 'ended');
    assert.deepEqual([ended.reason, ended.saved, ended.code], ['stopped', saved, 1000]);
    assert.equal(events.filter((e) => e.type === 'ended').length, 1);
    assert.equal(events.at(-1), ended, 'ended is the last event');
    assert.equal(client.ended, true);
    assert.equal(client.send(bytes), false, 'send() after the end returns false');
    assert.equal(await client.stop(), saved, 'stop() again gives the same result');
    assert.equal((await waitForRecording(server, user, recordingId)).status, 'ready');
  });

  it('on() hands each listener its own type only, off() stops it; aborting the signal aborts (4000)', async () => {
    const events: LiveClientEvent[] = [];
    const controller = new AbortController();
    const client = clientFor({ events, name: 'listeners', signal: controller.signal });
    const acks: number[] = [];
    let starts = 0;
    const onAck = (event: LiveClientEventOf<'ack'>) => acks.push(event.bytes);
    client.on('ack', onAck);
    const stopStarts = client.on('started', (event) => {
      assert.equal(event.type, 'started');
      starts += 1;
    });
    await client.start();
    client.send(webm.subarray(0, 3000));
    await eventOf(events, 'ack', (e) => e.bytes === 3000);
    client.off('ack', onAck);
    stopStarts();
    client.send(webm.subarray(3000, 6000));
    await eventOf(events, 'ack', (e) => e.bytes === 6000);
    assert.deepEqual(
      acks,
      events.filter((e) => e.type === 'ack' && e.bytes <= 3000).map((e) => (e as LiveClientEventOf<'ack'>).bytes),
    );
    assert.equal(starts, 1);
    controller.abort();
    const ended = await eventOf(events, 'ended');
    assert.deepEqual([ended.reason, ended.code], ['aborted', 4000]);
    assert.equal(client.send(webm), false);
  });

  it('a signal aborted before start() ends the session at once, without connecting', async () => {
    const events: LiveClientEvent[] = [];
    const client = clientFor({ events, name: 'pre-aborted', signal: AbortSignal.abort() });
    await assert.rejects(client.start(), (error: LiveRecordingError) => error.code === 'aborted');
    assert.deepEqual(
      events.map((e) => e.type),
      ['ended'],
    );
  });

  it('a second client resumes the recording from the store the first one kept, and nothing is lost', async () => {
    const store = new MemoryUnackedStore();
    const half = Math.floor(webm.length / 2);
    const first = clientFor({ events: [], name: 'resumed from a store', store });
    const { recordingId } = await first.start();
    for (let i = 0; i < half; i += 1000) first.send(webm.subarray(i, Math.min(i + 1000, half)));
    await eventually(() => assert.equal(first.totalBytes, half));
    // The page being reloaded: the client goes away without stopping, with audio still unconfirmed.
    first.abort();
    await first.stored;
    const [kept] = await store.sessions();
    assert.equal(kept?.recordingId, recordingId);
    assert.equal(kept?.end, half, 'the store has everything handed over');

    const events: LiveClientEvent[] = [];
    const second = new LiveRecordingClient({
      url: `${server.wsUrl}/api/ws/record`,
      token: user.token,
      resumeRecordingId: recordingId,
      store,
      onEvent: (event) => events.push(event),
    });
    assert.deepEqual(await second.start(), { recordingId, filename: null });
    const resumed = await eventOf(events, 'resumed');
    assert.ok(resumed.bytes >= kept.start && resumed.bytes <= half, `server had ${resumed.bytes} bytes`);
    for (let i = half; i < webm.length; i += 1000) second.send(webm.subarray(i, i + 1000));
    const saved = await second.stop();
    assert.equal(saved.bytes, webm.length, 'every byte exactly once');
    assert.ok(Math.abs((saved.duration ?? 0) - 5) < 0.1, `duration ${saved.duration}`);
    assert.deepEqual(await store.sessions(), [], 'a saved recording leaves nothing in the store');
  });

  it('reconnects and resumes by itself after the connection is cut, twice, with nothing lost', async () => {
    const { bytes, seconds } = longFixture('webm', 30);
    const proxy = await tcpProxy(new URL(server.url));
    const events: LiveClientEvent[] = [];
    let tokens = 0;
    const client = new LiveRecordingClient({
      url: `${proxy.url}/api/ws/record`,
      token: () => {
        tokens += 1;
        return user.token;
      },
      metadata: { name: 'resilient', meeting_link: 'https://meet.example.com/x', org_id: user.orgId },
      onEvent: (event) => events.push(event),
    });
    try {
      const { recordingId } = await client.start();
      const third = Math.floor(bytes.length / 3);
      for (let cut = 0; cut < 3; cut++) {
        for (let i = cut * third; i < Math.min(bytes.length, (cut + 1) * third); i += 2000) {
          client.send(bytes.subarray(i, Math.min(i + 2000, (cut + 1) * third, bytes.length)));
          if (i % 20_000 === 0) await sleep(5);
        }
        if (cut < 2) {
          await sleep(30);
          proxy.cut();
          // Wait for the client to come back by itself before the next part (and the next cut).
          while (events.filter((e) => e.type === 'resumed').length <= cut) await sleep(20);
        }
      }
      client.send(bytes.subarray(3 * third));
      const saved = await client.stop();
      assert.equal(saved.bytes, bytes.length, 'every byte exactly once');
      assert.ok(Math.abs((saved.duration ?? 0) - seconds) / seconds < 0.02, `duration ${saved.duration}`);
      assert.equal(events.filter((e) => e.type === 'resumed').length, 2);
      assert.equal(tokens, 3, 'a token is asked for on every connect');
      const probed = await probeAudio(server, user, recordingId);
      assert.ok(Math.abs(probed.duration - seconds) / seconds < 0.02);
    } finally {
      proxy.server.close();
    }
  });

  it('raw Opus (format "opus", framed by opus-stream.ts) is remuxed, and resumes across cuts byte-exact', async () => {
    // A bot that encodes the stored format itself: libopus (here the ffmpeg CLI) at 16 kHz mono 24 kbps.
    const ogg = opusSpeech(STORED_FORMAT_ARGS, 20);
    const packets: Buffer[] = [];
    let head = new Uint8Array(0);
    new OggOpusReader().push(ogg, {
      head: (bytes) => {
        head = Buffer.from(bytes);
      },
      packet: (bytes) => packets.push(Buffer.from(bytes)),
    });
    const proxy = await tcpProxy(new URL(server.url));
    const events: LiveClientEvent[] = [];
    const client = new LiveRecordingClient({
      url: `${proxy.url}/api/ws/record`,
      token: user.token,
      metadata: { name: 'bot', meeting_link: null, org_id: user.orgId, format: 'opus' },
      onEvent: (event) => events.push(event),
    });
    try {
      const { recordingId } = await client.start();
      const fields = readOpusHead(head);
      assert.deepEqual(fields, { channels: 1, preSkip: 312, inputRate: 16_000 });
      client.send(framePacket(opusHead(fields)));
      for (const [i, packet] of packets.entries()) {
        client.send(framePacket(packet)); // one packet per frame: the client batches nothing
        if (i === 300 || i === 700) {
          await sleep(30);
          proxy.cut();
          while (events.filter((e) => e.type === 'resumed').length < (i === 300 ? 1 : 2)) await sleep(20);
        }
      }
      const saved = await client.stop();
      assert.equal(saved.bytes, 2 + 19 + packets.reduce((sum, packet) => sum + 2 + packet.length, 0));
      const recording = await waitForRecording(server, user, recordingId);
      assert.deepEqual([recording.status, recording.pipeline], ['ready', 'remux']);
      assert.ok(Math.abs(recording.duration_sec - (packets.length * 960 - 312) / 48_000) < 1e-6);
      const res = await fetch(`${server.url}/api/recordings/${recordingId}/audio`, {
        headers: { authorization: `Bearer ${user.token}` },
      });
      const stored: Buffer[] = [];
      new OggOpusReader().push(Buffer.from(await res.arrayBuffer()), {
        head: () => {},
        packet: (p) => stored.push(p as Buffer),
      });
      assert.equal(stored.length, packets.length);
      assert.ok(
        stored.every((packet, i) => packet.equals(packets[i] as Buffer)),
        'every packet, byte for byte',
      );
    } finally {
      proxy.server.close();
    }
  });

  it('reconnectNow() reconnects at once instead of waiting out the back-off', async () => {
    const proxy = await tcpProxy(new URL(server.url));
    const events: LiveClientEvent[] = [];
    const client = clientFor({ name: 'reconnect now', url: `${proxy.url}/api/ws/record`, events });
    try {
      await client.start();
      assert.equal(client.reconnectNow(), false, 'nothing to reconnect while connected');
      client.send(webm.subarray(0, 8000));
      await eventOf(events, 'ack', (e) => e.bytes === 8000);
      // The server looks unreachable: attempts fail until the back-off reaches 2 s.
      proxy.refuse = true;
      proxy.cut();
      client.send(webm.subarray(8000, 12_000)); // queued while disconnected
      const waiting = await eventOf(events, 'reconnecting', (e) => e.delayMs >= 2000);
      proxy.refuse = false;
      const asked = Date.now();
      assert.equal(client.reconnectNow(), true);
      const resumed = await eventOf(events, 'resumed');
      const took = Date.now() - asked;
      assert.ok(took < waiting.delayMs / 2, `resumed ${took} ms after reconnectNow(), not after ${waiting.delayMs} ms`);
      assert.equal(resumed.bytes, 8000);
      client.send(webm.subarray(12_000));
      const saved = await client.stop();
      assert.equal(saved.bytes, webm.length, 'every byte exactly once');
    } finally {
      proxy.server.close();
    }
  });

  it('a token function that fails while reconnecting (offline refresh) is retried, not fatal', async () => {
    const proxy = await tcpProxy(new URL(server.url));
    const events: LiveClientEvent[] = [];
    let calls = 0;
    const client = clientFor({
      name: 'token retry',
      url: `${proxy.url}/api/ws/record`,
      events,
      token: async () => {
        calls += 1;
        if (calls === 2) throw new Error('offline');
        return user.token;
      },
    });
    try {
      await client.start();
      client.send(webm.subarray(0, 8000));
      await eventOf(events, 'ack', (e) => e.bytes === 8000);
      proxy.cut();
      const resumed = await eventOf(events, 'resumed');
      assert.equal(resumed.bytes, 8000);
      assert.deepEqual(
        events.filter((e) => e.type === 'reconnecting').map((e) => (e as { code: number }).code),
        [1006, 0],
        'the failed token counts as one more failed attempt',
      );
      client.send(webm.subarray(8000));
      assert.equal((await client.stop()).bytes, webm.length);
    } finally {
      proxy.server.close();
    }
  });

  it('a token function that throws a LiveRecordingError ends the session ("refused")', async () => {
    const events: LiveClientEvent[] = [];
    const client = clientFor({
      name: 'signed out',
      events,
      token: () => {
        throw new LiveRecordingError('unauthenticated', 'signed out', 0);
      },
    });
    await assert.rejects(client.start(), LiveRecordingError);
    const ended = await eventOf(events, 'ended');
    assert.deepEqual([ended.reason, ended.error], ['refused', 'unauthenticated']);
  });

  it('abort() while waiting to reconnect: no further attempt, ended "aborted", send() returns false', async () => {
    const proxy = await tcpProxy(new URL(server.url));
    const events: LiveClientEvent[] = [];
    const client = clientFor({ name: 'aborted', url: `${proxy.url}/api/ws/record`, events });
    try {
      await client.start();
      client.send(webm.subarray(0, 4000));
      proxy.refuse = true;
      proxy.cut();
      await eventOf(events, 'reconnecting');
      const connections = proxy.connections;
      client.abort();
      const ended = await eventOf(events, 'ended');
      assert.deepEqual([ended.reason, ended.saved], ['aborted', null]);
      assert.equal(client.send(webm), false);
      await assert.rejects(client.stop(), LiveRecordingError);
      await sleep(700); // the back-off (250 ms, then 500 ms) would have tried again by now
      assert.equal(proxy.connections, connections, 'no reconnect after abort()');
      assert.equal(client.reconnectNow(), false);
    } finally {
      proxy.server.close();
    }
  });

  it('refused (taken over elsewhere, 4409): ended "refused" with the error; send() false, stop() rejects', async () => {
    const events: LiveClientEvent[] = [];
    const client = clientFor({ name: 'taken over', events });
    const { recordingId } = await client.start();
    client.send(webm.subarray(0, 6000));
    await eventOf(events, 'ack', (e) => e.bytes === 6000);
    // Another connection resumes the same recording: this one must stop for good.
    const other = openSocket(server);
    other.send({ token: user.token });
    await other.next((m) => m.status === 'authenticated');
    other.send({ resume: recordingId, ack: true });
    await other.next((m) => m.status === 'recording_resumed');
    const ended = await eventOf(events, 'ended');
    assert.deepEqual(
      [ended.reason, ended.error, ended.code, ended.saved],
      ['refused', 'session_taken_over', 4409, null],
    );
    assert.ok(events.some((e) => e.type === 'failed' && e.error === 'session_taken_over'));
    assert.equal(events.filter((e) => e.type === 'reconnecting').length, 0, 'no reconnect after 4409');
    assert.equal(client.send(webm.subarray(6000)), false);
    await assert.rejects(client.stop(), (error: unknown) => {
      assert.ok(error instanceof LiveRecordingError);
      assert.deepEqual([error.code, error.closeCode], ['session_taken_over', 4409]);
      return true;
    });
    other.send({ action: 'stop' });
    assert.equal((await other.next((m) => m.status === 'recording_saved')).bytes, 6000);
  });

  it('a refused start rejects start() and ends "refused"', async () => {
    const events: LiveClientEvent[] = [];
    const client = clientFor({ name: 'bad token', token: 'not-a-token', events });
    await assert.rejects(client.start(), (error: unknown) => {
      assert.ok(error instanceof LiveRecordingError);
      assert.deepEqual([error.code, error.closeCode], ['invalid_token', 1008]);
      return true;
    });
    const ended = await eventOf(events, 'ended');
    assert.deepEqual([ended.reason, ended.error], ['refused', 'invalid_token']);
    assert.equal(client.send(webm), false);
  });
});

describe('@earshot/live-client: sessions the server ends (limit, shutdown)', () => {
  let server: TestServer;
  let user: TestUser;
  const LIMIT = 12_000;
  before(async () => {
    server = await startTestServer({ env: { LIVE_MAX_RECORDING_BYTES: String(LIMIT) } });
    user = await registerUser(server);
  });
  after(() => server.close());

  const clientFor = (name: string, events: LiveClientEvent[]) =>
    new LiveRecordingClient({
      url: `${server.wsUrl}/api/ws/record`,
      token: user.token,
      metadata: { name, meeting_link: null, org_id: user.orgId },
      onEvent: (event) => events.push(event),
    });

  it('a size limit saves the recording and ends "limit" (not "stopped", not "shutdown")', async () => {
    const events: LiveClientEvent[] = [];
    const client = clientFor('limit', events);
    await client.start();
    for (let i = 0; i < webm.length; i += 1000) assert.equal(client.send(webm.subarray(i, i + 1000)), true);
    const ended = await eventOf(events, 'ended');
    assert.deepEqual([ended.reason, ended.error, ended.code], ['limit', 'recording_too_large', 4413]);
    assert.ok(ended.saved && ended.saved.bytes <= LIMIT && ended.saved.bytes > 0, JSON.stringify(ended.saved));
    assert.equal(client.send(webm), false);
    assert.deepEqual(await client.stop(), ended.saved, 'stop() after the end gives what was saved');
  });

  it('a server shutdown saves the recording and ends "shutdown" (close 1001), not "stopped"', async () => {
    const events: LiveClientEvent[] = [];
    const client = clientFor('shutdown', events);
    await client.start();
    client.send(webm.subarray(0, 6000));
    await eventOf(events, 'ack', (e) => e.bytes === 6000);
    await server.stop();
    const ended = await eventOf(events, 'ended');
    assert.deepEqual([ended.reason, ended.code, ended.saved?.bytes], ['shutdown', 1001, 6000]);
    assert.ok(events.some((e) => e.type === 'saved'));
    assert.equal(events.filter((e) => e.type === 'reconnecting').length, 0);
    assert.equal(client.send(webm), false);
  });
});
