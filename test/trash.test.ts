/**
 * The trash (docs/roles.md, README): deleting moves a recording out of every list and read into the
 * trash, with who deleted it and when it will be purged; restore undoes it; "Delete forever" and
 * emptying the trash delete it for good with its files; the purge does the same once the
 * organisation's retention has passed. Members manage their own recordings there, admins all of them,
 * API keys by scope.
 */
import assert from 'node:assert/strict';
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
  storeOf,
  type TestServer,
  type TestUser,
  waitForRecording,
} from './helpers.ts';
import { sendAudio, startRecording } from './live-helpers.ts';

const SPEECH = path.join(import.meta.dirname, 'fixtures', 'speech.ogg');
const DAY_MS = 24 * 3600 * 1000;

describe('the trash', () => {
  let server: TestServer & { schema?: string };
  let speech: Buffer;
  let owner: TestUser;
  let admin: TestUser;
  let ann: TestUser;
  let ben: TestUser;
  let outsider: TestUser;
  let orgId: string;

  before(async () => {
    // The purge looks every second here, so a recording past its retention goes within the test.
    server = await startTestServer({ env: { TRASH_PURGE_INTERVAL_SECONDS: '1' } });
    speech = await readFile(SPEECH);
    [owner, admin, ann, ben, outsider] = await Promise.all([
      registerUser(server),
      registerUser(server),
      registerUser(server),
      registerUser(server),
      registerUser(server),
    ]);
    orgId = (await api(server, 'POST', '/api/orgs', { token: owner.token, json: { name: 'Shared' } })).body.id;
    await joinOrg(server, owner, orgId, admin, 'admin');
    await joinOrg(server, owner, orgId, ann, 'member');
    await joinOrg(server, owner, orgId, ben, 'member');
  });
  after(() => server.close());

  async function upload(token: string, name: string, org = orgId): Promise<string> {
    const form = new FormData();
    form.append('name', name);
    form.append('org_id', org);
    form.append('file', new Blob([speech]), 'speech.ogg');
    const res = await api(server, 'POST', '/api/recordings/upload', { token, body: form });
    assert.ok(res.status === 201 || res.status === 202, JSON.stringify(res.body));
    return res.body.id;
  }
  const trash = (token: string, id: string) => api(server, 'DELETE', `/api/recordings/${id}`, { token });
  const restore = (token: string, id: string) => api(server, 'POST', `/api/recordings/${id}/restore`, { token });
  const forever = (token: string, id: string) => api(server, 'DELETE', `/api/trash/${id}`, { token });
  const trashList = async (token: string, query = `?org_id=${orgId}&limit=100`) => {
    const res = await api(server, 'GET', `/api/trash${query}`, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.items as any[];
  };
  const inTrash = async (token: string, id: string) => (await trashList(token)).find((item) => item.id === id);
  const listed = async (token: string, query = '') => {
    const res = await api(server, 'GET', `/api/recordings?limit=100${query}`, { token });
    assert.equal(res.status, 200);
    return (res.body.items as any[]).map((item) => item.id);
  };
  /** Every object the store holds for a recording: its input and its audio. */
  const filesOf = async (id: string) => [
    ...(await storeOf(server).list(`inputs/${id}/`)),
    ...(await storeOf(server).list(`recordings/${orgId}/${id}/`)),
  ];

  async function withDb<T>(work: (db: ReturnType<typeof openDatabase>['db']) => Promise<T>): Promise<T> {
    const database = openDatabase(server.config.databaseUrl, server.schema ? { schema: server.schema } : {});
    try {
      return await work(database.db);
    } finally {
      await database.close();
    }
  }
  /** As if the recording had been deleted `days` ago. */
  const deletedDaysAgo = (id: string, days: number) =>
    withDb((db) =>
      db
        .updateTable('recordings')
        .set({ deleted_at: new Date(Date.now() - days * DAY_MS).toISOString() })
        .where('id', '=', id)
        .execute(),
    );

  it('takes a deleted recording out of every list and read, keeps it in the trash, and restores it', async () => {
    const id = await upload(ann.token, 'Planning');
    await waitForRecording(server, ann, id);
    assert.equal((await trash(ann.token, id)).status, 204);

    assert.equal((await api(server, 'GET', `/api/recordings/${id}`, { token: ann.token })).status, 404);
    assert.ok(!(await listed(ann.token)).includes(id), 'not in the list of all orgs');
    assert.ok(!(await listed(ann.token, `&org_id=${orgId}`)).includes(id), "not in the org's list");
    assert.ok(!(await listed(ann.token, '&q=Planning')).includes(id), 'not found by search');
    const audio = await api(server, 'GET', `/api/recordings/${id}/audio`, { token: ann.token });
    assert.equal(audio.status, 404);
    assert.equal((await api(server, 'GET', `/api/recordings/${id}/transcript`, { token: ann.token })).status, 404);
    const rename = await api(server, 'PATCH', `/api/recordings/${id}`, { token: ann.token, json: { name: 'x' } });
    assert.equal(rename.status, 404);
    assert.equal((await trash(ann.token, id)).status, 404, 'deleting again: it is not there to delete');

    const item = await inTrash(ann.token, id);
    assert.ok(item, 'in the trash');
    assert.equal(item.name, 'Planning');
    assert.equal(item.status, 'ready');
    assert.deepEqual(item.deleted_by, { id: ann.id, email: ann.email, name: null });
    assert.equal(Date.parse(item.purge_at) - Date.parse(item.deleted_at), 30 * DAY_MS, 'purged after 30 days');
    assert.ok(
      (await trashList(ann.token, '?limit=100')).some((i) => i.id === id),
      'in the trash of all orgs',
    );
    assert.ok((await filesOf(id)).length > 0, 'the audio is kept while it is in the trash');

    const restored = await restore(ann.token, id);
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(restored.body.status, 'ready');
    assert.ok((await listed(ann.token, `&org_id=${orgId}`)).includes(id));
    const played = await fetch(`${server.url}/api/recordings/${id}/audio`, {
      headers: { authorization: `Bearer ${ann.token}` },
    });
    assert.equal(played.status, 200);
    assert.ok((await played.arrayBuffer()).byteLength > 0);
    assert.equal(await inTrash(ann.token, id), undefined);
    const again = await restore(ann.token, id);
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'conflict');
  });

  it('lets members delete and restore their own recordings and admins anyone’s; others get 403, outsiders 404', async () => {
    const id = await upload(ann.token, "Ann's notes");
    assert.equal((await trash(ben.token, id)).status, 403, "a member cannot delete a colleague's recording");
    assert.equal((await trash(outsider.token, id)).status, 404);
    assert.equal((await trash(admin.token, id)).status, 204, 'an admin deletes anyone’s');

    assert.ok(await inTrash(ben.token, id), 'every member sees the trash, as they see the recordings');
    const refused = await restore(ben.token, id);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'forbidden');
    assert.equal((await forever(ben.token, id)).status, 403);
    assert.equal((await restore(outsider.token, id)).status, 404);
    assert.equal((await forever(outsider.token, id)).status, 404);
    assert.equal((await api(server, 'GET', `/api/trash?org_id=${orgId}`, { token: outsider.token })).status, 404);
    assert.ok(!(await trashList(outsider.token, '?limit=100')).some((i) => i.id === id), "not in an outsider's trash");

    const restored = await restore(ann.token, id);
    assert.equal(restored.status, 200, 'the maker restores what an admin deleted');
    assert.equal((await trash(owner.token, id)).status, 204);
    assert.equal((await restore(owner.token, id)).status, 200);
  });

  it('deletes for good, with the files, one recording or the whole trash; a member empties only their own', async () => {
    const annId = await upload(ann.token, 'Ann, to go');
    const benId = await upload(ben.token, 'Ben, to go');
    const kept = await upload(ben.token, 'Ben, kept');
    await Promise.all([annId, benId, kept].map((id) => waitForRecording(server, owner, id)));
    assert.equal((await forever(ann.token, annId)).status, 404, 'only what is in the trash is deleted for good');

    for (const [user, id] of [
      [ann, annId],
      [ben, benId],
    ] as const)
      assert.equal((await trash(user.token, id)).status, 204);
    const emptied = await api(server, 'DELETE', `/api/trash?org_id=${orgId}`, { token: ann.token });
    assert.equal(emptied.status, 200, JSON.stringify(emptied.body));
    assert.deepEqual(emptied.body, { deleted: 1, kept: 1 }, "Ann's recording goes, Ben's stays");
    assert.equal(await inTrash(owner.token, annId), undefined);
    assert.deepEqual(await filesOf(annId), [], 'its audio and input are gone');
    assert.ok(await inTrash(owner.token, benId));
    assert.equal((await restore(ann.token, annId)).status, 404, 'gone for good');

    assert.equal((await forever(ben.token, benId)).status, 204);
    assert.deepEqual(await filesOf(benId), []);
    assert.equal((await forever(ben.token, benId)).status, 404);
    assert.ok((await listed(ben.token)).includes(kept), 'what was never deleted stays');
    assert.ok((await filesOf(kept)).length > 0);

    // An admin empties everyone's.
    const other = await upload(ann.token, 'Ann again');
    assert.equal((await trash(ann.token, other)).status, 204);
    const byAdmin = await api(server, 'DELETE', `/api/trash?org_id=${orgId}`, { token: admin.token });
    assert.deepEqual(byAdmin.body, { deleted: 1, kept: 0 });
  });

  it('lets API keys act by scope: record keys on their creator’s recordings, admin keys on all, read keys list', async () => {
    const key = async (scopes: string[]) => {
      const res = await api(server, 'POST', `/api/orgs/${orgId}/api-keys`, {
        token: admin.token,
        json: { name: scopes.join(' '), scopes },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.token as string;
    };
    const [recordKey, adminKey, readKey] = [await key(['record']), await key(['admin']), await key(['read'])];
    const adminsOwn = await upload(admin.token, "The admin's");
    const annsOwn = await upload(ann.token, "Ann's, for the keys");

    assert.equal((await trash(recordKey, adminsOwn)).status, 204, "a record key deletes its creator's recording");
    assert.equal((await restore(recordKey, adminsOwn)).status, 200);
    const refused = await trash(recordKey, annsOwn);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'insufficient_scope');
    assert.equal((await trash(readKey, adminsOwn)).status, 403);

    assert.equal((await trash(adminKey, annsOwn)).status, 204, "an admin key deletes anyone's");
    assert.ok(
      (await trashList(readKey)).some((i) => i.id === annsOwn),
      'a read key lists the trash',
    );
    const cannotRead = await api(server, 'GET', '/api/trash', { token: adminKey });
    assert.equal(cannotRead.status, 403, 'listing needs the read scope');
    assert.equal((await restore(readKey, annsOwn)).status, 403);
    assert.equal((await restore(adminKey, annsOwn)).status, 200);

    // A key of another organisation sees nothing of this one.
    const elsewhere = await api(server, 'POST', `/api/orgs/${owner.orgId}/api-keys`, {
      token: owner.token,
      json: { name: 'personal', scopes: ['read', 'record', 'admin'] },
    });
    assert.equal((await trash(elsewhere.body.token, annsOwn)).status, 404);
    assert.equal((await api(server, 'GET', `/api/trash?org_id=${orgId}`, { token: elsewhere.body.token })).status, 404);
  });

  it('refuses to trash a live recording while it is being recorded', async () => {
    const { client, recordingId } = await startRecording(server, ann, { org_id: orgId });
    await sendAudio(client, await readFile(path.join(import.meta.dirname, 'fixtures', 'speech.webm')));
    const refused = await trash(ann.token, recordingId);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error, 'conflict');
    assert.match(refused.body.message, /stop it first/);
    assert.equal((await trash(admin.token, recordingId)).status, 409);
    client.send({ action: 'stop' });
    await client.next((m) => m.status === 'recording_saved');
    await client.closed;
    assert.equal((await trash(ann.token, recordingId)).status, 204, 'once stopped it goes to the trash');
  });

  it("purges what has been in the trash longer than its organisation's retention, with its files", async () => {
    const settings = (token: string, json?: unknown) =>
      api(server, json ? 'PATCH' : 'GET', `/api/orgs/${orgId}/settings`, { token, json });
    assert.equal((await settings(ben.token)).body.trash_retention_days, 30);
    assert.equal((await settings(ben.token, { trash_retention_days: 3 })).status, 403, 'members may not change it');
    for (const bad of [0, 3651, 2.5, '3'])
      assert.equal((await settings(admin.token, { trash_retention_days: bad })).status, 422, String(bad));
    const changed = await settings(admin.token, { trash_retention_days: 3 });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.trash_retention_days, 3);

    const old = await upload(ann.token, 'Four days in the trash');
    const recent = await upload(ann.token, 'Two days in the trash');
    const restored = await upload(ann.token, 'Restored in time');
    await Promise.all([old, recent, restored].map((id) => waitForRecording(server, ann, id)));
    for (const id of [old, recent, restored]) assert.equal((await trash(ann.token, id)).status, 204);
    await deletedDaysAgo(old, 4);
    await deletedDaysAgo(recent, 2);
    await deletedDaysAgo(restored, 5);
    assert.equal((await restore(ann.token, restored)).status, 200);
    const item = await inTrash(ann.token, recent);
    assert.equal(Date.parse(item.purge_at) - Date.parse(item.deleted_at), 3 * DAY_MS, 'the new retention shows');

    // The row goes first, then its files.
    await eventually(async () => {
      assert.equal(await inTrash(ann.token, old), undefined, 'purged');
      assert.deepEqual(await filesOf(old), [], 'with its files');
    }, 15_000);
    assert.equal((await restore(ann.token, old)).status, 404);
    assert.ok(await inTrash(ann.token, recent), 'within the retention it stays');
    assert.ok((await listed(ann.token)).includes(restored), 'a restored recording is not the purge’s');
    assert.ok((await filesOf(restored)).length > 0);

    // A shorter retention applies to what is in the trash already.
    assert.equal((await settings(owner.token, { trash_retention_days: 1 })).status, 200);
    await eventually(async () => {
      assert.equal(await inTrash(ann.token, recent), undefined);
      assert.deepEqual(await filesOf(recent), []);
    }, 15_000);
    assert.equal((await settings(owner.token, { trash_retention_days: 30 })).status, 200);
  });
});
