/**
 * Webhooks end to end: a real server sends to a real HTTP receiver in this process, and every delivery
 * is verified with the `standardwebhooks` library, as a receiver would. Runs on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebhookVerificationError } from 'standardwebhooks';
import { openDatabase } from '../src/db/index.ts';
import { createWebhooksRepo } from '../src/webhooks/webhooks.repo.ts';
import {
  api,
  eventually,
  joinOrg,
  registerUser,
  startTestServer,
  type TestServer,
  type TestUser,
  waitForRecording,
} from './helpers.ts';
import { type ReceivedDelivery, type Receiver, startReceiver, verify } from './webhook-receiver.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const PUBLIC_URL = 'https://earshot.example.test';
/**
 * Short retries, so a test sees a whole schedule, and a timeout no answer from the receiver misses on
 * a busy machine (the tests of timeouts have a server of their own); the receiver is on loopback.
 */
const FAST = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_TIMEOUT_MS: '10000',
  WEBHOOK_RETRY_SCHEDULE: '50ms,100ms,150ms',
  PUBLIC_URL,
};
const WAIT = 30_000;

async function upload(server: TestServer, user: TestUser, fixture: string, orgId = user.orgId) {
  const form = new FormData();
  form.append('org_id', orgId);
  form.append('file', new Blob([await readFile(path.join(FIXTURES, fixture))]), fixture);
  return api(server, 'POST', '/api/recordings/upload?wait=10', { token: user.token, body: form });
}

async function addEndpoint(
  server: TestServer,
  user: TestUser,
  url: string,
  extra: Record<string, unknown> = {},
  orgId = user.orgId,
): Promise<{ id: string; secret: string }> {
  const created = await api(server, 'POST', `/api/orgs/${orgId}/webhooks`, {
    token: user.token,
    json: { url, ...extra },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  return { id: created.body.endpoint.id, secret: created.body.secret };
}

async function deliveries(server: TestServer, user: TestUser, endpointId: string, query = ''): Promise<any[]> {
  const log = await api(server, 'GET', `/api/orgs/${user.orgId}/webhooks/${endpointId}/deliveries${query}`, {
    token: user.token,
  });
  assert.equal(log.status, 200, JSON.stringify(log.body));
  return log.body.items;
}

/** Waits until `path` has received `count` requests and returns them, each verified with `secret`. */
async function receivedAt(receiver: Receiver, path: string, count: number, secret: string) {
  const got = await eventually(() => {
    const at = receiver.at(path);
    assert.ok(at.length >= count, `${path}: ${at.length} of ${count} deliveries so far`);
    return at;
  }, WAIT);
  for (const delivery of got) verify(delivery, secret);
  return got;
}

const types = (received: ReceivedDelivery[]) => received.map((delivery) => delivery.payload.type);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('webhooks', () => {
  let server: TestServer & { schema?: string };
  let receiver: Receiver;

  before(async () => {
    receiver = await startReceiver();
    server = await startTestServer({ env: FAST });
  });

  after(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('reports an upload as started then ready, and its deletion, with the documented payload', async () => {
    const user = await registerUser(server);
    const all = await addEndpoint(server, user, `${receiver.url}/all`, { description: 'everything' });
    const readyOnly = await addEndpoint(server, user, `${receiver.url}/ready-only`, {
      event_types: ['recording.ready'],
    });

    const uploaded = await upload(server, user, 'speech.ogg');
    assert.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
    const recording = await waitForRecording(server, user, uploaded.body.id);
    const [started, ready] = await receivedAt(receiver, '/all', 2, all.secret);
    assert.deepEqual(types([started!, ready!]), ['recording.started', 'recording.ready']);

    for (const delivery of [started!, ready!]) {
      assert.match(delivery.id, /^msg_[0-9a-f]{32}$/);
      assert.equal(delivery.headers['content-type'], 'application/json');
      assert.deepEqual(Object.keys(delivery.payload), ['type', 'timestamp', 'data']);
      assert.ok(!Number.isNaN(Date.parse(delivery.payload.timestamp)));
      assert.equal(delivery.payload.data.recording.id, recording.id);
      assert.equal(delivery.payload.data.recording.org_id, user.orgId);
      assert.equal(delivery.payload.data.recording.source, 'upload');
    }
    assert.notEqual(started!.id, ready!.id);
    assert.equal(started!.payload.data.version, 1);
    assert.equal(started!.payload.data.audio_url, null);
    assert.equal(started!.payload.data.recording.status, 'processing');

    // The ready event carries the recording as the API shows it, a link to the audio and its checksum.
    assert.equal(ready!.payload.data.version, 2);
    assert.deepEqual(ready!.payload.data.recording, recording);
    assert.equal(ready!.payload.data.audio_url, `${PUBLIC_URL}/api/recordings/${recording.id}/audio`);
    for (const fact of ['duration_sec', 'size_bytes', 'codec', 'sample_rate', 'channels', 'bitrate', 'finished_at']) {
      assert.ok(ready!.payload.data.recording[fact] !== null, `${fact} is set`);
    }
    const audio = await fetch(`${server.url}/api/recordings/${recording.id}/audio`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    assert.equal(ready!.payload.data.recording.audio_sha256, sha256(Buffer.from(await audio.arrayBuffer())));
    assert.ok(!ready!.body.includes('OggS'), 'the payload links to the audio and never carries it');

    const [onlyReady] = await receivedAt(receiver, '/ready-only', 1, readyOnly.secret);
    assert.equal(onlyReady!.payload.type, 'recording.ready');

    // Deleting moves it to the trash, restoring takes it out, deleting from the trash is for good: each
    // is an event of its own, and only the last one means it cannot come back.
    assert.equal((await api(server, 'DELETE', `/api/recordings/${recording.id}`, { token: user.token })).status, 204);
    const [, , trashed] = await receivedAt(receiver, '/all', 3, all.secret);
    assert.equal(trashed!.payload.type, 'recording.trashed');
    assert.equal(trashed!.payload.data.version, 3);
    assert.equal(trashed!.payload.data.audio_url, null, 'no link to audio that answers 404 in the trash');
    assert.ok(trashed!.payload.data.recording.id === recording.id);
    const restored = await api(server, 'POST', `/api/recordings/${recording.id}/restore`, { token: user.token });
    assert.equal(restored.status, 200);
    const [, , , back] = await receivedAt(receiver, '/all', 4, all.secret);
    assert.equal(back!.payload.type, 'recording.restored');
    assert.equal(back!.payload.data.version, 4);
    assert.equal(back!.payload.data.audio_url, ready!.payload.data.audio_url);
    assert.equal((await api(server, 'DELETE', `/api/recordings/${recording.id}`, { token: user.token })).status, 204);
    assert.equal((await api(server, 'DELETE', `/api/trash/${recording.id}`, { token: user.token })).status, 204);
    const received = await receivedAt(receiver, '/all', 6, all.secret);
    const deleted = received[5];
    assert.equal(deleted!.payload.type, 'recording.deleted');
    assert.equal(deleted!.payload.data.version, 6);
    assert.equal(deleted!.payload.data.audio_url, null);
    assert.equal(deleted!.payload.data.recording.id, recording.id);

    // The delivery log, newest first.
    const log = await eventually(async () => {
      const items = await deliveries(server, user, all.id);
      assert.equal(items.length, 6);
      assert.ok(items.every((item) => item.status === 'delivered'));
      return items;
    }, WAIT);
    assert.deepEqual(
      log.map((item) => [item.event_type, item.version, item.attempts, item.last_status_code]),
      [
        ['recording.deleted', 6, 1, 204],
        ['recording.trashed', 5, 1, 204],
        ['recording.restored', 4, 1, 204],
        ['recording.trashed', 3, 1, 204],
        ['recording.ready', 2, 1, 204],
        ['recording.started', 1, 1, 204],
      ],
    );
    assert.deepEqual(
      log.map((item) => item.message_id),
      received.map((delivery) => delivery.id).reverse(),
    );
    for (const item of log) {
      assert.equal(item.recording_id, recording.id);
      assert.equal(item.next_attempt_at, null);
      assert.ok(item.delivered_at && item.last_duration_ms !== null);
    }
    // Pages of one.
    const first = await api(server, 'GET', `/api/orgs/${user.orgId}/webhooks/${all.id}/deliveries?limit=1`, {
      token: user.token,
    });
    const second = await api(
      server,
      'GET',
      `/api/orgs/${user.orgId}/webhooks/${all.id}/deliveries?limit=1&before=${first.body.next_cursor}`,
      { token: user.token },
    );
    assert.deepEqual(
      [first.body.items[0].event_type, second.body.items[0].event_type],
      ['recording.deleted', 'recording.trashed'],
    );
  });

  it('reports an upload refused within its wait as started, failed and deleted', async () => {
    const user = await registerUser(server);
    const endpoint = await addEndpoint(server, user, `${receiver.url}/refused`);
    const refused = await upload(server, user, 'not-audio.mp3');
    assert.ok(refused.status === 415 || refused.status === 422, JSON.stringify(refused.body));
    const got = await receivedAt(receiver, '/refused', 3, endpoint.secret);
    assert.deepEqual(types(got), ['recording.started', 'recording.failed', 'recording.deleted']);
    assert.deepEqual(
      got.map((delivery) => delivery.payload.data.version),
      [1, 2, 3],
    );
    const failed = got[1]!.payload.data.recording;
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error_code, refused.body.error);
    assert.ok(failed.error);
  });

  it('retries 5xx, other 4xx and redirects with the same webhook-id, then gives up', async () => {
    const user = await registerUser(server);
    const endpoint = await addEndpoint(server, user, `${receiver.url}/flaky`);
    // First message: 500, 503, then 200.
    receiver.answer('/flaky', 500, 503, 200);
    const test = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, {
      token: user.token,
    });
    assert.equal(test.status, 202);
    assert.equal(test.body.status, 'pending');
    const tries = await receivedAt(receiver, '/flaky', 3, endpoint.secret);
    assert.deepEqual(new Set(tries.map((delivery) => delivery.id)), new Set([test.body.message_id]));
    assert.equal(tries[0]!.payload.type, 'webhook.test');
    const delivered = await eventually(async () => {
      const [item] = await deliveries(server, user, endpoint.id);
      assert.equal(item.status, 'delivered');
      return item;
    }, WAIT);
    assert.equal(delivered.attempts, 3);
    assert.equal(delivered.last_status_code, 200);

    // Second message: 400, a redirect (not followed), 503, 502: four attempts, the whole schedule.
    receiver.answer('/flaky', 400, 302, 503, 502);
    const again = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, {
      token: user.token,
    });
    const failed = await eventually(async () => {
      const item = (await deliveries(server, user, endpoint.id)).find((d) => d.id === again.body.id);
      assert.equal(item.status, 'failed');
      return item;
    }, WAIT);
    assert.equal(failed.attempts, 4);
    assert.equal(failed.last_status_code, 502);
    assert.equal(failed.next_attempt_at, null);
    const second = receiver.at('/flaky').filter((delivery) => delivery.id === again.body.message_id);
    assert.equal(second.length, 4);
    for (const delivery of second) verify(delivery, endpoint.secret);
    assert.equal(receiver.at('/redirected').length, 0, 'the redirect was not followed');
  });

  it('disables the endpoint when the receiver answers 410 Gone, and sends nothing more to it', async () => {
    const user = await registerUser(server);
    const endpoint = await addEndpoint(server, user, `${receiver.url}/gone`);
    receiver.answer('/gone', 410);
    const sent = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, {
      token: user.token,
    });
    await receivedAt(receiver, '/gone', 1, endpoint.secret);
    const disabled = await eventually(async () => {
      const got = await api(server, 'GET', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}`, { token: user.token });
      assert.equal(got.body.enabled, false);
      return got.body;
    }, WAIT);
    assert.match(disabled.disabled_reason, /410/);
    const [item] = await deliveries(server, user, endpoint.id);
    assert.equal(item.id, sent.body.id);
    assert.equal(item.status, 'failed');
    assert.equal(item.attempts, 1);
    assert.equal(item.last_status_code, 410);

    // A disabled endpoint gets no deliveries: new events skip it, and send again / test are refused.
    const uploaded = await upload(server, user, 'speech.ogg');
    await waitForRecording(server, user, uploaded.body.id);
    assert.equal((await deliveries(server, user, endpoint.id)).length, 1);
    const resend = await api(
      server,
      'POST',
      `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/deliveries/${item.id}/resend`,
      { token: user.token },
    );
    assert.equal(resend.status, 409);
    assert.match(resend.body.message, /disabled/);

    // Enabled again, it receives what happens from then on.
    receiver.answer('/gone', 200);
    const enabled = await api(server, 'PATCH', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}`, {
      token: user.token,
      json: { enabled: true },
    });
    assert.equal(enabled.body.enabled, true);
    assert.equal(enabled.body.disabled_reason, null);
    await api(server, 'DELETE', `/api/recordings/${uploaded.body.id}`, { token: user.token });
    const [, trashed] = await receivedAt(receiver, '/gone', 2, endpoint.secret);
    assert.equal(trashed!.payload.type, 'recording.trashed');
  });

  it('signs with both secrets during a rotation overlap, and with the new one only after it', async () => {
    const user = await registerUser(server);
    const endpoint = await addEndpoint(server, user, `${receiver.url}/rotated`);
    const rotate = (overlap: number) =>
      api(server, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/rotate-secret`, {
        token: user.token,
        json: { overlap_seconds: overlap },
      });
    const sendTest = () =>
      api(server, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, { token: user.token });

    const rotated = await rotate(3600);
    assert.equal(rotated.status, 200);
    const second = rotated.body.secret as string;
    assert.notEqual(second, endpoint.secret);
    assert.ok(Date.parse(rotated.body.endpoint.previous_secret_until) > Date.now() + 3500_000);
    await sendTest();
    const [during] = await receivedAt(receiver, '/rotated', 1, second);
    assert.equal(during!.signature.split(' ').length, 2);
    verify(during!, endpoint.secret);

    const third = (await rotate(0)).body.secret as string;
    await sendTest();
    const afterOverlap = await eventually(() => {
      const delivery = receiver.at('/rotated')[1];
      assert.ok(delivery, 'the second test event arrived');
      return delivery;
    }, WAIT);
    verify(afterOverlap, third);
    assert.equal(afterOverlap.signature.split(' ').length, 1);
    assert.throws(() => verify(afterOverlap, second), WebhookVerificationError);
    assert.throws(() => verify(afterOverlap, endpoint.secret), WebhookVerificationError);
    // The secret is never shown again.
    const listed = await api(server, 'GET', `/api/orgs/${user.orgId}/webhooks`, { token: user.token });
    assert.equal(listed.body.endpoints.length, 1);
    assert.ok(!JSON.stringify(listed.body).includes('whsec_'));
  });

  it('sends a message again with the same webhook-id', async () => {
    const user = await registerUser(server);
    const endpoint = await addEndpoint(server, user, `${receiver.url}/again`);
    const sent = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, {
      token: user.token,
    });
    await eventually(async () => assert.equal((await deliveries(server, user, endpoint.id))[0].status, 'delivered'));
    const resent = await api(
      server,
      'POST',
      `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/deliveries/${sent.body.id}/resend`,
      { token: user.token },
    );
    assert.equal(resent.status, 202);
    assert.notEqual(resent.body.id, sent.body.id);
    assert.equal(resent.body.message_id, sent.body.message_id);
    const [first, again] = await receivedAt(receiver, '/again', 2, endpoint.secret);
    assert.equal(again!.id, first!.id);
    assert.equal(again!.body, first!.body);
    const log = await eventually(async () => {
      const items = await deliveries(server, user, endpoint.id);
      assert.ok(items.every((item) => item.status === 'delivered'));
      return items;
    });
    assert.deepEqual(
      log.map((item) => item.id),
      [resent.body.id, sent.body.id],
    );
  });

  it('lets owners, admins and admin-scoped API keys manage endpoints, refuses members (403) and outsiders (404)', async () => {
    const owner = await registerUser(server);
    const admin = await registerUser(server);
    const member = await registerUser(server);
    const outsider = await registerUser(server);
    const org = await api(server, 'POST', '/api/orgs', { token: owner.token, json: { name: 'Hooks Inc' } });
    await joinOrg(server, owner, org.body.id, admin, 'admin');
    await joinOrg(server, owner, org.body.id, member, 'member');
    const created = await api(server, 'POST', `/api/orgs/${org.body.id}/webhooks`, {
      token: admin.token,
      json: { url: `${receiver.url}/team` },
    });
    assert.equal(created.status, 201);
    const route = `/api/orgs/${org.body.id}/webhooks`;
    assert.equal((await api(server, 'GET', route, { token: owner.token })).body.endpoints.length, 1);
    assert.equal((await api(server, 'GET', route, { token: member.token })).status, 403);
    assert.equal((await api(server, 'GET', route, { token: outsider.token })).status, 404);
    assert.equal(
      (await api(server, 'POST', route, { token: member.token, json: { url: `${receiver.url}/x` } })).status,
      403,
    );
    const endpointRoute = `${route}/${created.body.endpoint.id}`;
    assert.equal((await api(server, 'DELETE', endpointRoute, { token: member.token })).status, 403);
    // An endpoint is found only under its own org.
    assert.equal(
      (
        await api(server, 'GET', `/api/orgs/${owner.orgId}/webhooks/${created.body.endpoint.id}`, {
          token: owner.token,
        })
      ).status,
      404,
    );
    // A member's upload into the org reaches the org's endpoint.
    const uploaded = await upload(server, member, 'speech.ogg', org.body.id);
    await waitForRecording(server, member, uploaded.body.id);
    const got = await receivedAt(receiver, '/team', 2, created.body.secret);
    assert.deepEqual(types(got), ['recording.started', 'recording.ready']);
    // An API key manages webhooks with the `admin` scope (and its creator's role); `read` is not enough.
    const keyWith = async (scopes: string[]) => {
      const key = await api(server, 'POST', `/api/orgs/${org.body.id}/api-keys`, {
        token: admin.token,
        json: { name: `hooks ${scopes.join('+')}`, scopes },
      });
      assert.equal(key.status, 201, JSON.stringify(key.body));
      return key.body.token as string;
    };
    const adminKey = await keyWith(['admin']);
    assert.equal((await api(server, 'GET', route, { token: adminKey })).body.endpoints.length, 1);
    const readKey = await api(server, 'GET', route, { token: await keyWith(['read']) });
    assert.equal(readKey.status, 403);
    assert.equal(readKey.body.error, 'insufficient_scope');
    assert.equal((await api(server, 'DELETE', endpointRoute, { token: adminKey })).status, 204);
    assert.equal((await api(server, 'GET', route, { token: owner.token })).body.endpoints.length, 0);
  });

  it('refuses URLs that are not http(s), carry credentials or are malformed', async () => {
    const user = await registerUser(server);
    for (const url of ['ftp://example.com/hook', 'https://user:pass@example.com/hook', 'not a url', '/relative']) {
      const refused = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks`, {
        token: user.token,
        json: { url },
      });
      assert.equal(refused.status, 422, url);
      assert.deepEqual(refused.body.details, { field: 'url' }, url);
    }
    const unknownEvent = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks`, {
      token: user.token,
      json: { url: `${receiver.url}/x`, event_types: ['recording.exploded'] },
    });
    assert.equal(unknownEvent.status, 422);
  });

  it('purges settled messages past their retention, and keeps pending ones', async () => {
    const user = await registerUser(server);
    const endpoint = await addEndpoint(server, user, `${receiver.url}/purged`);
    const sendTest = () =>
      api(server, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, { token: user.token });
    const settled = await sendTest();
    await eventually(async () => assert.equal((await deliveries(server, user, endpoint.id))[0].status, 'delivered'));
    receiver.answer('/purged', 'hang');
    const pending = await sendTest();
    await receivedAt(receiver, '/purged', 2, endpoint.secret);

    const handle = openDatabase(server.config.databaseUrl, server.schema ? { schema: server.schema } : {});
    try {
      const repo = createWebhooksRepo(handle.db, handle.dialect, 'test');
      await repo.purge(new Date(Date.now() + 60_000).toISOString());
      const messages = await handle.db.selectFrom('webhook_messages').select('id').execute();
      const ids = new Set(messages.map((message) => message.id));
      assert.ok(!ids.has(settled.body.message_id), 'the delivered message is purged');
      assert.ok(ids.has(pending.body.message_id), 'the pending message is kept');
    } finally {
      await handle.close();
    }
    assert.deepEqual(
      (await deliveries(server, user, endpoint.id)).map((item) => item.id),
      [pending.body.id],
    );
  });
});

describe('webhooks that time out', () => {
  let server: TestServer;
  let receiver: Receiver;

  before(async () => {
    receiver = await startReceiver();
    server = await startTestServer({
      env: { ...FAST, WEBHOOK_TIMEOUT_MS: '1000', WEBHOOK_RETRY_SCHEDULE: '1s,1s,1s' },
    });
  });

  after(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('retries a receiver that does not answer in time, with the same webhook-id, then gives up', async () => {
    const user = await registerUser(server);
    const endpoint = await addEndpoint(server, user, `${receiver.url}/slow`);
    // No answer, a 503, then 204: delivered, with as many attempts as the receiver saw.
    receiver.answer('/slow', 'hang', 503, 204);
    const sent = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, {
      token: user.token,
    });
    const delivered = await eventually(async () => {
      const [item] = await deliveries(server, user, endpoint.id);
      assert.equal(item.status, 'delivered');
      return item;
    }, WAIT);
    const tries = receiver.at('/slow');
    assert.ok(tries.length >= 3);
    assert.ok(tries.every((delivery) => delivery.id === sent.body.message_id));
    for (const delivery of tries) verify(delivery, endpoint.secret);
    assert.equal(delivered.attempts, tries.length);

    // Never an answer: four attempts (the schedule's three retries), each a timeout, then failed.
    receiver.answer('/slow', 'hang');
    const hung = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, {
      token: user.token,
    });
    const timedOut = await eventually(async () => {
      const item = (await deliveries(server, user, endpoint.id)).find((d) => d.id === hung.body.id);
      assert.equal(item.status, 'failed');
      return item;
    }, WAIT);
    assert.equal(timedOut.attempts, 4);
    assert.equal(timedOut.last_status_code, null);
    assert.match(timedOut.last_error, /no response within 1 s/);
    assert.equal(receiver.at('/slow').filter((delivery) => delivery.id === hung.body.message_id).length, 4);
  });

  it('cancels pending deliveries when an endpoint is disabled', async () => {
    const user = await registerUser(server);
    const endpoint = await addEndpoint(server, user, `${receiver.url}/paused`);
    // Each attempt waits 1 s for an answer that never comes, then 1 s until the next: pending for 7 s.
    receiver.answer('/paused', 'hang');
    const sent = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, {
      token: user.token,
    });
    await receivedAt(receiver, '/paused', 1, endpoint.secret);
    const disabled = await api(server, 'PATCH', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}`, {
      token: user.token,
      json: { enabled: false },
    });
    assert.equal(disabled.body.enabled, false);
    assert.match(disabled.body.disabled_reason, /owner or admin/);
    const cancelled = await eventually(async () => {
      const item = (await deliveries(server, user, endpoint.id)).find((d) => d.id === sent.body.id);
      assert.equal(item.status, 'cancelled');
      return item;
    }, WAIT);
    assert.equal(cancelled.next_attempt_at, null);
  });
});

describe('webhooks across a restart', () => {
  it('delivers what was pending when the server stopped, once it is back', async () => {
    const receiver = await startReceiver();
    // A long timeout: the attempts are still waiting for an answer when the server stops.
    const env = { ...FAST, WEBHOOK_TIMEOUT_MS: '60000', WEBHOOK_RETRY_SCHEDULE: '1h' };
    const first = await startTestServer({ env });
    let second: TestServer | undefined;
    try {
      const user = await registerUser(first);
      const endpoint = await addEndpoint(first, user, `${receiver.url}/restart`);
      receiver.answer('/restart', 'hang');
      const uploaded = await upload(first, user, 'speech.ogg');
      await waitForRecording(first, user, uploaded.body.id);
      const hung = await receivedAt(receiver, '/restart', 2, endpoint.secret);
      await first.stop();

      receiver.answer('/restart', 200);
      second = await startTestServer({
        env,
        reuse: { dataDir: first.dataDir, ...(first.schema ? { schema: first.schema } : {}) },
      });
      const all = await receivedAt(receiver, '/restart', 4, endpoint.secret);
      assert.deepEqual(
        all
          .slice(2)
          .map((delivery) => delivery.id)
          .sort(),
        hung.map((delivery) => delivery.id).sort(),
      );
      const log = await eventually(async () => {
        const items = await deliveries(second!, user, endpoint.id);
        assert.ok(items.every((item) => item.status === 'delivered'));
        return items;
      }, WAIT);
      // The interrupted attempts were handed back uncounted at shutdown.
      assert.deepEqual(
        log.map((item) => item.attempts),
        [1, 1],
      );
    } finally {
      await (second ?? first).close();
      await receiver.close();
    }
  });

  it('sends again what a node that died had claimed, once its lock expires', async () => {
    const receiver = await startReceiver();
    const first = await startTestServer({ env: FAST });
    let second: TestServer | undefined;
    try {
      const user = await registerUser(first);
      const endpoint = await addEndpoint(first, user, `${receiver.url}/orphan`);
      await first.stop();
      // What a node that died mid-attempt leaves behind: a delivery claimed by it, its lock run out.
      const handle = openDatabase(first.config.databaseUrl, first.schema ? { schema: first.schema } : {});
      let messageId: string;
      try {
        const repo = createWebhooksRepo(handle.db, handle.dialect, 'dead-node');
        const now = new Date().toISOString();
        messageId = 'msg_orphaned';
        const delivery = await repo.addDelivery(endpoint.id, {
          id: messageId,
          org_id: user.orgId,
          type: 'webhook.test',
          recording_id: null,
          version: null,
          payload: JSON.stringify({ type: 'webhook.test', timestamp: now, data: {} }),
          created_at: now,
        });
        await handle.db
          .updateTable('webhook_deliveries')
          .set({ locked_by: 'dead-node', locked_until: new Date(Date.now() - 1000).toISOString(), attempts: 1 })
          .where('id', '=', delivery.id)
          .execute();
      } finally {
        await handle.close();
      }
      second = await startTestServer({
        env: FAST,
        reuse: { dataDir: first.dataDir, ...(first.schema ? { schema: first.schema } : {}) },
      });
      const [got] = await receivedAt(receiver, '/orphan', 1, endpoint.secret);
      assert.equal(got!.id, messageId);
      await eventually(async () => {
        const [item] = await deliveries(second!, user, endpoint.id);
        assert.equal(item.status, 'delivered');
        assert.equal(item.attempts, 2);
      }, WAIT);
    } finally {
      await (second ?? first).close();
      await receiver.close();
    }
  });
});

describe('webhooks on two nodes', () => {
  it('delivers each message once when two nodes share the database', async () => {
    const receiver = await startReceiver();
    const first = await startTestServer({ env: { ...FAST, NODE_ID: 'node-a' } });
    let second: TestServer | undefined;
    try {
      second = await startTestServer({
        env: { ...FAST, NODE_ID: 'node-b' },
        reuse: { dataDir: first.dataDir, ...(first.schema ? { schema: first.schema } : {}) },
      });
      const user = await registerUser(first);
      const endpoint = await addEndpoint(first, user, `${receiver.url}/shared`);
      const sent = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          api(i % 2 ? second! : first, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, {
            token: user.token,
          }),
        ),
      );
      const got = await receivedAt(receiver, '/shared', sent.length, endpoint.secret);
      assert.deepEqual(
        got.map((delivery) => delivery.id).sort(),
        sent.map((response) => response.body.message_id).sort(),
        'every message arrived exactly once',
      );
      const log = await eventually(async () => {
        const items = await deliveries(first, user, endpoint.id, '?limit=100');
        assert.ok(items.every((item) => item.status === 'delivered'));
        return items;
      }, WAIT);
      assert.ok(log.every((item) => item.attempts === 1));
      assert.equal(receiver.at('/shared').length, sent.length, 'and none twice');
    } finally {
      await second?.stop();
      await first.close();
      await receiver.close();
    }
  });
});

describe('webhooks to private addresses', () => {
  it('refuses loopback, private and link-local targets when adding an endpoint', async () => {
    const server = await startTestServer({ env: { PUBLIC_URL } });
    try {
      const user = await registerUser(server);
      const cases: [string, RegExp][] = [
        ['http://127.0.0.1:9/hook', /loopback/],
        ['http://localhost:9/hook', /loopback/],
        ['http://2130706433:9/hook', /loopback/],
        ['http://0x7f.1:9/hook', /loopback/],
        ['http://[::1]:9/hook', /loopback/],
        ['http://[::ffff:127.0.0.1]:9/hook', /loopback/],
        ['http://10.0.0.8/hook', /private/],
        ['http://192.168.1.1/hook', /private/],
        ['http://[fd00::1]/hook', /private/],
        ['http://169.254.169.254/latest/meta-data/', /link-local/],
        ['http://[fe80::1]/hook', /link-local/],
        ['http://0.0.0.0:9/hook', /unspecified/],
        ['http://224.0.0.1/hook', /multicast/],
      ];
      for (const [url, reason] of cases) {
        const refused = await api(server, 'POST', `/api/orgs/${user.orgId}/webhooks`, {
          token: user.token,
          json: { url },
        });
        assert.equal(refused.status, 422, url);
        assert.match(refused.body.message, reason, url);
      }
    } finally {
      await server.close();
    }
  });

  it('delivers nothing to an endpoint whose address is private at delivery time, and logs why', async () => {
    const receiver = await startReceiver();
    // Added while private targets were allowed; delivered by a server that refuses them.
    const first = await startTestServer({ env: FAST });
    let second: TestServer | undefined;
    try {
      const user = await registerUser(first);
      const endpoint = await addEndpoint(first, user, `${receiver.url}/private`);
      await first.stop();
      second = await startTestServer({
        env: { ...FAST, WEBHOOK_ALLOW_PRIVATE: 'false' },
        reuse: { dataDir: first.dataDir, ...(first.schema ? { schema: first.schema } : {}) },
      });
      const sent = await api(second, 'POST', `/api/orgs/${user.orgId}/webhooks/${endpoint.id}/test`, {
        token: user.token,
      });
      assert.equal(sent.status, 202);
      const failed = await eventually(async () => {
        const [item] = await deliveries(second!, user, endpoint.id);
        assert.equal(item.status, 'failed');
        return item;
      }, WAIT);
      assert.equal(failed.attempts, 1, 'a refused address is not retried');
      assert.equal(failed.last_status_code, null);
      assert.match(failed.last_error, /127\.0\.0\.1 is not a public address \(loopback\)/);
      assert.equal(receiver.at('/private').length, 0);
    } finally {
      await (second ?? first).close();
      await receiver.close();
    }
  });
});
