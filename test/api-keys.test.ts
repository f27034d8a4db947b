/**
 * API keys for machines (docs/integrations.md): created by owners and admins, shown once, stored as a
 * hash, accepted by the one token validator on HTTP and on the live socket, limited to their org and
 * their scopes, revoked at once, expiring, and revoked when their creator leaves the org.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/index.ts';
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
import { openSocket } from './live-helpers.ts';

const SPEECH = path.join(import.meta.dirname, 'fixtures', 'speech.ogg');
const TOKEN = /^esk_([0-9a-f-]{36})_([A-Za-z0-9_-]{43})$/;

type Scope = 'read' | 'record' | 'admin';

describe('API keys', () => {
  let server: TestServer & { schema?: string };
  let speech: Buffer;
  let owner: TestUser;
  let admin: TestUser;
  let member: TestUser;
  let outsider: TestUser;
  let teamId: string;
  /** Made by the owner in the team org (the owner is every owner key's creator). */
  let teamRecording: string;
  /** Made by the owner in their personal org: no team key may see it. */
  let personalRecording: string;

  before(async () => {
    server = await startTestServer();
    speech = await readFile(SPEECH);
    [owner, admin, member, outsider] = await Promise.all([
      registerUser(server),
      registerUser(server),
      registerUser(server),
      registerUser(server),
    ]);
    teamId = (await api(server, 'POST', '/api/orgs', { token: owner.token, json: { name: 'Team' } })).body.id;
    await joinOrg(server, owner, teamId, admin, 'admin');
    await joinOrg(server, owner, teamId, member, 'member');
    teamRecording = (await upload(owner.token, teamId)).body.id;
    personalRecording = (await upload(owner.token, owner.orgId)).body.id;
    await waitForRecording(server, owner, teamRecording);
    await waitForRecording(server, owner, personalRecording);
  });
  after(() => server.close());

  // ---- helpers ----

  async function createKey(
    by: string,
    orgId: string,
    scopes: Scope[],
    extra: Record<string, unknown> = {},
  ): Promise<{ token: string; id: string; body: any }> {
    const res = await api(server, 'POST', `/api/orgs/${orgId}/api-keys`, {
      token: by,
      json: { name: `key ${scopes.join('+')}`, scopes, ...extra },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { token: res.body.token, id: res.body.api_key.id, body: res.body };
  }

  function upload(token: string, orgId?: string) {
    const form = new FormData();
    if (orgId) form.append('org_id', orgId);
    form.append('file', new Blob([speech]), 'speech.ogg');
    return api(server, 'POST', '/api/recordings/upload', { token, body: form });
  }

  const streamChunk = (token: string, query = '') =>
    api(server, 'POST', `/api/recordings/stream${query}`, {
      token,
      body: speech.subarray(0, 4096),
      headers: { 'content-type': 'audio/ogg' },
    });

  async function withDb<T>(work: (db: ReturnType<typeof openDatabase>['db']) => Promise<T>): Promise<T> {
    const database = openDatabase(server.config.databaseUrl, server.schema ? { schema: server.schema } : {});
    try {
      return await work(database.db);
    } finally {
      await database.close();
    }
  }

  /** A refusal with its code from the errors table. */
  function refused(res: { status: number; body: any }, status: number, error: string, what: string): void {
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error, error, what);
  }

  /** Opens the live socket with `token` and sends the metadata; resolves with what happened. */
  async function liveStart(token: string, meta: Record<string, unknown>) {
    const client = openSocket(server);
    client.send({ token });
    const first = await client.next(() => true).catch(() => undefined);
    if (first?.status !== 'authenticated') return { client, first, closed: await client.closed };
    client.send({ name: 'Bot', meeting_link: null, ...meta });
    const next = await client.next(() => true).catch(() => undefined);
    if (next?.status === 'recording_started') return { client, first: next, closed: undefined };
    return { client, first: next, closed: await client.closed };
  }

  // ---- creating and listing ----

  it('creates a key shown once with an esk_ prefix; only a hash of its secret is stored', async () => {
    const { token, id, body } = await createKey(owner.token, teamId, ['record', 'read']);
    const [, tokenId, secret] = TOKEN.exec(token) ?? [];
    assert.equal(tokenId, id);
    assert.equal(body.api_key.prefix, `esk_${id}`);
    assert.deepEqual(body.api_key.scopes, ['read', 'record'], 'canonical order');
    assert.equal(body.api_key.creator_id, owner.id);
    assert.equal(body.api_key.expires_at, null);
    assert.equal(body.api_key.last_used_at, null);

    const listed = await api(server, 'GET', `/api/orgs/${teamId}/api-keys`, { token: owner.token });
    assert.equal(listed.status, 200);
    const entry = listed.body.api_keys.find((k: any) => k.id === id);
    assert.ok(entry);
    assert.ok(!JSON.stringify(listed.body).includes(secret as string), 'the list never shows a secret');

    const row = await withDb((db) => db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst());
    assert.ok(row);
    assert.equal(
      row.secret_hash,
      createHash('sha256')
        .update(secret as string)
        .digest('hex'),
    );
    assert.ok(!Object.values(row).some((value) => String(value).includes(secret as string)), 'secret not stored');
  });

  it('lets owners and admins manage keys, not members; a personal org may have keys too', async () => {
    await createKey(admin.token, teamId, ['read']);
    const byMember = await api(server, 'POST', `/api/orgs/${teamId}/api-keys`, {
      token: member.token,
      json: { name: 'mine', scopes: ['read'] },
    });
    refused(byMember, 403, 'forbidden', 'a member creating a key');
    refused(
      await api(server, 'GET', `/api/orgs/${teamId}/api-keys`, { token: member.token }),
      403,
      'forbidden',
      'a member listing keys',
    );
    refused(
      await api(server, 'GET', `/api/orgs/${teamId}/api-keys`, { token: outsider.token }),
      404,
      'not_found',
      'an outsider listing keys',
    );
    const personal = await createKey(outsider.token, outsider.orgId, ['record']);
    const res = await upload(personal.token);
    assert.ok(res.status === 201 || res.status === 202, JSON.stringify(res.body));
    assert.equal(res.body.org_id, outsider.orgId);
  });

  it('refuses bad bodies: no scopes, an unknown scope, a blank name, an expiry in the past or not a date', async () => {
    const post = (json: unknown) => api(server, 'POST', `/api/orgs/${teamId}/api-keys`, { token: owner.token, json });
    refused(await post({ name: 'x', scopes: [] }), 422, 'validation_failed', 'no scopes');
    refused(await post({ name: 'x', scopes: ['write'] }), 422, 'validation_failed', 'unknown scope');
    refused(await post({ name: '   ', scopes: ['read'] }), 422, 'validation_failed', 'blank name');
    const past = new Date(Date.now() - 60_000).toISOString();
    refused(await post({ name: 'x', scopes: ['read'], expires_at: past }), 422, 'validation_failed', 'past expiry');
    refused(await post({ name: 'x', scopes: ['read'], expires_at: 'next week' }), 422, 'validation_failed', 'no date');
  });

  // ---- scopes on HTTP ----

  it('read: lists, gets and plays recordings of its org; cannot record, delete or manage keys', async () => {
    const { token } = await createKey(owner.token, teamId, ['read']);
    const listed = await api(server, 'GET', '/api/recordings', { token });
    assert.equal(listed.status, 200);
    const ids = listed.body.items.map((r: any) => r.id);
    assert.ok(ids.includes(teamRecording));
    assert.ok(
      !ids.includes(personalRecording),
      "without org_id a key lists its own org only, not its creator's others",
    );
    assert.equal((await api(server, 'GET', `/api/recordings?org_id=${teamId}`, { token })).status, 200);
    assert.equal((await api(server, 'GET', `/api/recordings/${teamRecording}`, { token })).status, 200);
    const audio = await fetch(`${server.url}/api/recordings/${teamRecording}/audio`, {
      headers: { authorization: `Bearer ${token}`, range: 'bytes=0-3' },
    });
    assert.equal(audio.status, 206);
    assert.equal(Buffer.from(await audio.arrayBuffer()).toString('latin1'), 'OggS');
    assert.equal((await api(server, 'GET', `/api/orgs/${teamId}/members`, { token })).status, 200);

    refused(await upload(token, teamId), 403, 'insufficient_scope', 'upload');
    refused(await upload(token), 403, 'insufficient_scope', 'upload to the default org');
    refused(await streamChunk(token), 403, 'insufficient_scope', 'stream');
    refused(
      await api(server, 'DELETE', `/api/recordings/${teamRecording}`, { token }),
      403,
      'insufficient_scope',
      'delete',
    );
    const rename = await api(server, 'PATCH', `/api/recordings/${teamRecording}`, { token, json: { name: 'x' } });
    refused(rename, 403, 'insufficient_scope', 'rename');
    refused(
      await api(server, 'GET', `/api/orgs/${teamId}/api-keys`, { token }),
      403,
      'insufficient_scope',
      'list keys',
    );
    const create = await api(server, 'POST', `/api/orgs/${teamId}/api-keys`, {
      token,
      json: { name: 'more', scopes: ['read'] },
    });
    refused(create, 403, 'insufficient_scope', 'create a key');
    assert.match(create.body.message, /"admin" scope/);
  });

  it('record: uploads and streams into its org by default, deletes its creator’s recordings; cannot read', async () => {
    const { token } = await createKey(admin.token, teamId, ['record']);
    const uploaded = await upload(token);
    assert.ok(uploaded.status === 201 || uploaded.status === 202, JSON.stringify(uploaded.body));
    assert.equal(uploaded.body.org_id, teamId, "no org_id: the key's org, not its creator's personal one");
    const owned = await withDb((db) =>
      db.selectFrom('recordings').select('user_id').where('id', '=', uploaded.body.id).executeTakeFirstOrThrow(),
    );
    assert.equal(owned.user_id, admin.id, 'a recording made with a key is its creator’s');

    const first = await streamChunk(token);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.recording.org_id, teamId);
    const second = await api(server, 'POST', `/api/recordings/stream?recording_id=${first.body.recording_id}`, {
      token,
      body: speech.subarray(4096),
      headers: { 'content-type': 'audio/ogg' },
    });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    const finished = await api(server, 'POST', `/api/recordings/stream/${first.body.recording_id}/finish`, { token });
    assert.ok(finished.status === 200 || finished.status === 202, JSON.stringify(finished.body));

    refused(await api(server, 'GET', '/api/recordings', { token }), 403, 'insufficient_scope', 'list');
    refused(await api(server, 'GET', `/api/recordings/${teamRecording}`, { token }), 403, 'insufficient_scope', 'get');
    refused(
      await api(server, 'GET', `/api/recordings/${teamRecording}/audio`, { token }),
      403,
      'insufficient_scope',
      'audio',
    );
    refused(await api(server, 'GET', `/api/orgs/${teamId}/api-keys`, { token }), 403, 'insufficient_scope', 'keys');
    // The owner's recording is not the key's creator's: deleting it needs the admin scope.
    refused(
      await api(server, 'DELETE', `/api/recordings/${teamRecording}`, { token }),
      403,
      'insufficient_scope',
      "delete someone else's",
    );
    assert.equal((await api(server, 'DELETE', `/api/recordings/${uploaded.body.id}`, { token })).status, 204);
  });

  it('admin: manages keys and invitations, never wider than itself; cannot read or record', async () => {
    const { token } = await createKey(owner.token, teamId, ['admin']);
    assert.equal((await api(server, 'GET', `/api/orgs/${teamId}/api-keys`, { token })).status, 200);
    const child = await createKey(token, teamId, ['admin']);
    assert.equal(child.body.api_key.creator_id, owner.id, 'a key made with a key acts for the same person');
    const wider = await api(server, 'POST', `/api/orgs/${teamId}/api-keys`, {
      token,
      json: { name: 'reader', scopes: ['read'] },
    });
    refused(wider, 403, 'insufficient_scope', 'a key creating a key with a scope it lacks');
    const invited = await api(server, 'POST', `/api/orgs/${teamId}/invitations`, {
      token,
      json: { email: `bot-invite-${randomUUID()}@example.com`, role: 'member' },
    });
    assert.equal(invited.status, 202, JSON.stringify(invited.body));
    assert.equal((await api(server, 'DELETE', `/api/orgs/${teamId}/api-keys/${child.id}`, { token })).status, 204);

    refused(await api(server, 'GET', '/api/recordings', { token }), 403, 'insufficient_scope', 'list');
    refused(await upload(token, teamId), 403, 'insufficient_scope', 'upload');
    refused(await api(server, 'GET', `/api/orgs/${teamId}/members`, { token }), 403, 'insufficient_scope', 'members');
  });

  it('acts with no more than its creator’s role: an admin’s admin key cannot remove an owner', async () => {
    const { token } = await createKey(admin.token, teamId, ['admin']);
    refused(
      await api(server, 'DELETE', `/api/orgs/${teamId}/members/${owner.id}`, { token }),
      403,
      'forbidden',
      'remove an owner',
    );
  });

  it('a key made by a key expires no later than it', async () => {
    const soon = new Date(Date.now() + 3600_000).toISOString();
    const { token } = await createKey(owner.token, teamId, ['admin'], { expires_at: soon });
    const later = new Date(Date.now() + 7200_000).toISOString();
    for (const extra of [{}, { expires_at: later }]) {
      const res = await api(server, 'POST', `/api/orgs/${teamId}/api-keys`, {
        token,
        json: { name: 'child', scopes: ['admin'], ...extra },
      });
      refused(res, 422, 'validation_failed', `child expiry ${JSON.stringify(extra)}`);
    }
    await createKey(token, teamId, ['admin'], { expires_at: soon });
  });

  it('is not a person: no account, no new organisations, no invitations of its creator', async () => {
    const { token } = await createKey(owner.token, teamId, ['read', 'record', 'admin']);
    refused(await api(server, 'GET', '/api/auth/me', { token }), 403, 'forbidden', 'me');
    refused(await api(server, 'POST', '/api/orgs', { token, json: { name: 'Bot org' } }), 403, 'forbidden', 'new org');
    refused(await api(server, 'GET', '/api/invitations', { token }), 403, 'forbidden', 'my invitations');
    const orgs = await api(server, 'GET', '/api/orgs', { token });
    assert.equal(orgs.status, 200);
    assert.deepEqual(
      orgs.body.orgs.map((o: any) => o.id),
      [teamId],
      'a key sees its own org only',
    );
  });

  // ---- one org only ----

  it('is useless in another org: 404 exactly as for a non-member', async () => {
    const { token } = await createKey(owner.token, teamId, ['read', 'record', 'admin']);
    // The owner belongs to their personal org, and the outsider's org is someone else's: both are foreign.
    for (const orgId of [owner.orgId, outsider.orgId, randomUUID()]) {
      refused(await api(server, 'GET', `/api/recordings?org_id=${orgId}`, { token }), 404, 'not_found', 'list');
      refused(await api(server, 'GET', `/api/orgs/${orgId}/members`, { token }), 404, 'not_found', 'members');
      refused(await api(server, 'GET', `/api/orgs/${orgId}/api-keys`, { token }), 404, 'not_found', 'keys');
      const create = await api(server, 'POST', `/api/orgs/${orgId}/api-keys`, {
        token,
        json: { name: 'escape', scopes: ['read'] },
      });
      refused(create, 404, 'not_found', 'create a key');
      refused(await upload(token, orgId), 404, 'not_found', 'upload');
      refused(await streamChunk(token, `?org_id=${orgId}`), 404, 'not_found', 'stream');
    }
    refused(await api(server, 'GET', `/api/recordings/${personalRecording}`, { token }), 404, 'not_found', 'get');
    refused(
      await api(server, 'GET', `/api/recordings/${personalRecording}/audio`, { token }),
      404,
      'not_found',
      'audio',
    );
    refused(await api(server, 'DELETE', `/api/recordings/${personalRecording}`, { token }), 404, 'not_found', 'delete');
  });

  // ---- the token itself ----

  it('refuses malformed, unknown and forged esk_ tokens with 401 invalid_token', async () => {
    const { token, id } = await createKey(owner.token, teamId, ['read']);
    const secret = TOKEN.exec(token)?.[2] as string;
    const forged = `esk_${id}_${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    const tokens = ['esk_', `esk_${id}`, `${token}x`, `esk_${randomUUID()}_${secret}`, forged, token.toUpperCase()];
    for (const bad of tokens) {
      const res = await api(server, 'GET', '/api/recordings', { token: bad });
      refused(res, 401, 'invalid_token', bad);
      assert.match(res.headers.get('www-authenticate') ?? '', /invalid_token/);
    }
    assert.equal((await api(server, 'GET', '/api/recordings', { token })).status, 200, 'the real one works');
  });

  it('is not accepted in the audio URL (?access_token=), only in the header', async () => {
    const { token } = await createKey(owner.token, teamId, ['read']);
    const res = await api(server, 'GET', `/api/recordings/${teamRecording}/audio?access_token=${token}`);
    refused(res, 401, 'invalid_token', 'key in a URL');
  });

  it('records last_used_at, at most once a minute', async () => {
    const { token, id } = await createKey(owner.token, teamId, ['read']);
    const lastUsed = () =>
      withDb((db) => db.selectFrom('api_keys').select('last_used_at').where('id', '=', id).executeTakeFirstOrThrow());
    assert.equal((await lastUsed()).last_used_at, null);
    assert.equal((await api(server, 'GET', '/api/recordings', { token })).status, 200);
    const first = (await lastUsed()).last_used_at;
    assert.ok(first);
    assert.equal((await api(server, 'GET', '/api/recordings', { token })).status, 200);
    assert.equal((await lastUsed()).last_used_at, first, 'not written again within the minute');

    const longAgo = new Date(Date.now() - 5 * 60_000).toISOString();
    await withDb((db) => db.updateTable('api_keys').set({ last_used_at: longAgo }).where('id', '=', id).execute());
    assert.equal((await api(server, 'GET', '/api/recordings', { token })).status, 200);
    const advanced = (await lastUsed()).last_used_at;
    assert.ok(advanced && advanced > longAgo, `advanced from ${longAgo} to ${advanced}`);
    const listed = await api(server, 'GET', `/api/orgs/${teamId}/api-keys`, { token: owner.token });
    assert.equal(listed.body.api_keys.find((k: any) => k.id === id).last_used_at, advanced);
  });

  // ---- revocation and expiry ----

  it('revoked: refused at once on HTTP and the socket, no longer listed', async () => {
    const { token, id } = await createKey(owner.token, teamId, ['read', 'record']);
    assert.equal((await api(server, 'GET', '/api/recordings', { token })).status, 200);
    assert.equal(
      (await api(server, 'DELETE', `/api/orgs/${teamId}/api-keys/${id}`, { token: owner.token })).status,
      204,
    );

    const res = await api(server, 'GET', '/api/recordings', { token });
    refused(res, 401, 'invalid_token', 'revoked key');
    assert.match(res.body.message, /revoked/);
    const live = await liveStart(token, {});
    assert.equal(live.closed?.code, 1008);
    assert.equal(live.first?.error, 'invalid_token');

    const listed = await api(server, 'GET', `/api/orgs/${teamId}/api-keys`, { token: owner.token });
    assert.ok(!listed.body.api_keys.some((k: any) => k.id === id));
    const again = await api(server, 'DELETE', `/api/orgs/${teamId}/api-keys/${id}`, { token: owner.token });
    refused(again, 404, 'not_found', 'revoking twice');
    const foreign = await api(server, 'DELETE', `/api/orgs/${outsider.orgId}/api-keys/${id}`, {
      token: outsider.token,
    });
    refused(foreign, 404, 'not_found', "revoking another org's key");
  });

  it('expired: refused once its expires_at has passed', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const { token } = await createKey(owner.token, teamId, ['read'], { expires_at: expiresAt });
    assert.equal((await api(server, 'GET', '/api/recordings', { token })).status, 200);
    const res = await eventually(async () => {
      const attempt = await api(server, 'GET', '/api/recordings', { token });
      assert.equal(attempt.status, 401);
      return attempt;
    }, 10_000);
    assert.equal(res.body.error, 'invalid_token');
    assert.match(res.body.message, /expired/);
  });

  it('stops working when its creator is removed from the org (revoked there)', async () => {
    const colleague = await registerUser(server);
    await joinOrg(server, owner, teamId, colleague, 'admin');
    const { token, id } = await createKey(colleague.token, teamId, ['read']);
    assert.equal((await api(server, 'GET', '/api/recordings', { token })).status, 200);
    assert.equal(
      (await api(server, 'DELETE', `/api/orgs/${teamId}/members/${colleague.id}`, { token: owner.token })).status,
      204,
    );
    refused(await api(server, 'GET', '/api/recordings', { token }), 401, 'invalid_token', 'removed creator');
    const row = await withDb((db) =>
      db.selectFrom('api_keys').select('revoked_at').where('id', '=', id).executeTakeFirstOrThrow(),
    );
    assert.ok(row.revoked_at);
  });

  // ---- the live socket ----

  it('live: a record key starts a recording in its org; others are refused with 1008', async () => {
    const { token } = await createKey(admin.token, teamId, ['record']);
    const started = await liveStart(token, { org_id: teamId });
    assert.equal(started.first?.status, 'recording_started', JSON.stringify(started.first));
    const recording = await api(server, 'GET', `/api/recordings/${started.first.recording_id}`, {
      token: admin.token,
    });
    assert.equal(recording.body.org_id, teamId);
    started.client.ws.close(1000);
    await started.client.closed;
    // The seed's three keys are required of keys too: a missing org_id is not guessed.
    const unnamed = await liveStart(token, {});
    assert.equal(unnamed.closed?.code, 1008);
    assert.equal(unnamed.first?.error, 'validation_failed');

    const foreign = await liveStart(token, { org_id: admin.orgId });
    assert.equal(foreign.closed?.code, 1008, "the creator's personal org is not the key's");
    assert.equal(foreign.first?.error, 'forbidden');

    const reader = await createKey(owner.token, teamId, ['read', 'admin']);
    const noScope = await liveStart(reader.token, { org_id: teamId });
    assert.equal(noScope.closed?.code, 1008);
    assert.equal(noScope.first?.error, 'insufficient_scope');
    assert.match(noScope.first?.message, /"record" scope/);

    const unknown = await liveStart(`esk_${randomUUID()}_${'A'.repeat(43)}`, {});
    assert.equal(unknown.closed?.code, 1008);
    assert.equal(unknown.first?.error, 'invalid_token');
  });
});
