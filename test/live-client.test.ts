/**
 * The reference client (web/src/live-client.ts) over Node's standard WebSocket: a plain recording, and
 * automatic resume through a TCP proxy whose connections are cut mid-stream.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type LiveClientEvent, LiveRecordingClient } from '../web/src/live-client.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { FIXTURES, longFixture, probeAudio, waitForRecording } from './live-helpers.ts';

/** Forwards TCP to the server; cut() drops every connection without a close frame. */
async function tcpProxy(target: URL): Promise<{ server: Server; url: string; cut(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
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
  return {
    server,
    url: `ws://127.0.0.1:${port}`,
    cut() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
  };
}

describe('live-client.ts (reference client, standard WebSocket)', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
  });
  after(() => server.close());

  it('records: start, send, stop → saved, with acks emptying its buffer', async () => {
    const bytes = readFileSync(path.join(FIXTURES, 'speech.webm'));
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
    assert.ok(client.bufferedBytes < bytes.length, 'acknowledged bytes were dropped from the buffer');
    const saved = await client.stop();
    assert.equal(saved.recordingId, recordingId);
    assert.equal(saved.bytes, bytes.length);
    assert.ok(Math.abs((saved.duration ?? 0) - 5) < 0.1);
    assert.ok(events.some((e) => e.type === 'ack'));
    assert.equal((await waitForRecording(server, user, recordingId)).status, 'ready');
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
});
