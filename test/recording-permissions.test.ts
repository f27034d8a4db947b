/**
 * Who may rename and delete a recording in a shared organisation (docs/roles.md): members manage the
 * recordings they made, admins and owners manage all of them, and everyone in the org sees them all.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, joinOrg, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';

const SPEECH = path.join(import.meta.dirname, 'fixtures', 'speech.ogg');

describe('recording permissions in a shared organisation', () => {
  let server: TestServer;
  let owner: TestUser;
  let admin: TestUser;
  let ann: TestUser;
  let ben: TestUser;
  let orgId: string;

  before(async () => {
    server = await startTestServer();
    owner = await registerUser(server);
    admin = await registerUser(server);
    ann = await registerUser(server);
    ben = await registerUser(server);
    const org = await api(server, 'POST', '/api/orgs', { token: owner.token, json: { name: 'Shared' } });
    orgId = org.body.id;
    await joinOrg(server, owner, orgId, admin, 'admin');
    await joinOrg(server, owner, orgId, ann, 'member');
    await joinOrg(server, owner, orgId, ben, 'member');
  });
  after(() => server.close());

  const upload = async (user: TestUser, name: string): Promise<string> => {
    const form = new FormData();
    form.append('name', name);
    form.append('org_id', orgId);
    form.append('file', new Blob([await readFile(SPEECH)]), 'speech.ogg');
    const res = await api(server, 'POST', '/api/recordings/upload', { token: user.token, body: form });
    assert.ok(res.status === 201 || res.status === 202, JSON.stringify(res.body));
    return res.body.id;
  };
  const rename = (user: TestUser, id: string, name: string) =>
    api(server, 'PATCH', `/api/recordings/${id}`, { token: user.token, json: { name } });
  const remove = (user: TestUser, id: string) => api(server, 'DELETE', `/api/recordings/${id}`, { token: user.token });
  const nameOf = async (user: TestUser, id: string) => {
    const res = await api(server, 'GET', `/api/recordings/${id}`, { token: user.token });
    assert.equal(res.status, 200);
    return res.body.name;
  };

  it("refuses a member renaming or deleting another member's recording, and leaves it as it was", async () => {
    const id = await upload(ann, "Ann's standup");
    assert.equal(await nameOf(ben, id), "Ann's standup", 'every member sees every recording of the org');

    const renamed = await rename(ben, id, 'Hijacked');
    assert.equal(renamed.status, 403);
    assert.equal(renamed.body.error, 'forbidden');
    assert.match(renamed.body.message, /recordings they made/);
    const deleted = await remove(ben, id);
    assert.equal(deleted.status, 403);
    assert.equal(deleted.body.error, 'forbidden');

    assert.equal(await nameOf(ann, id), "Ann's standup");
    const audio = await fetch(`${server.url}/api/recordings/${id}/audio`, {
      headers: { authorization: `Bearer ${ann.token}` },
    });
    assert.ok(audio.status === 200 || audio.status === 409, 'the audio (or its processing) is untouched');
    await audio.body?.cancel();
  });

  it('lets a member rename and delete their own recording', async () => {
    const id = await upload(ben, 'Mine');
    const renamed = await rename(ben, id, 'Still mine');
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.name, 'Still mine');
    assert.equal((await remove(ben, id)).status, 204);
    assert.equal((await api(server, 'GET', `/api/recordings/${id}`, { token: ben.token })).status, 404);
  });

  it("lets admins and owners rename and delete anyone's recording", async () => {
    const first = await upload(ann, 'By Ann');
    assert.equal((await rename(admin, first, 'Renamed by an admin')).status, 200);
    assert.equal(await nameOf(ann, first), 'Renamed by an admin');
    assert.equal((await rename(owner, first, 'Renamed by the owner')).status, 200);
    assert.equal((await remove(admin, first)).status, 204);
    assert.equal((await api(server, 'GET', `/api/recordings/${first}`, { token: ann.token })).status, 404);

    const second = await upload(admin, 'By the admin');
    assert.equal((await rename(ann, second, 'x')).status, 403, "a member cannot touch an admin's recording");
    assert.equal((await remove(owner, second)).status, 204);
  });

  it('still answers 404, not 403, outside the organisation', async () => {
    const id = await upload(ann, 'Private to the org');
    const outsider = await registerUser(server);
    assert.equal((await rename(outsider, id, 'x')).status, 404);
    assert.equal((await remove(outsider, id)).status, 404);
  });
});
