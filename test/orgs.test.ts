import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { api, joinOrg, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';

describe('organisations', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const createOrg = async (user: TestUser, name = 'Team') => {
    const res = await api(server, 'POST', '/api/orgs', { token: user.token, json: { name } });
    assert.equal(res.status, 201);
    return res.body.id as string;
  };
  const invite = (by: TestUser, orgId: string, email: string, role: string) =>
    api(server, 'POST', `/api/orgs/${orgId}/invitations`, { token: by.token, json: { email, role } });
  const join = (by: TestUser, orgId: string, user: TestUser, role: 'owner' | 'admin' | 'member') =>
    joinOrg(server, by, orgId, user, role);
  const remove = (by: TestUser, orgId: string, userId: string) =>
    api(server, 'DELETE', `/api/orgs/${orgId}/members/${userId}`, { token: by.token });
  const members = async (by: TestUser, orgId: string) => {
    const res = await api(server, 'GET', `/api/orgs/${orgId}/members`, { token: by.token });
    assert.equal(res.status, 200);
    return Object.fromEntries(res.body.members.map((m: any) => [m.user_id, m.role]));
  };

  it('creates an organisation with its creator as owner and lists mine with my role', async () => {
    const alice = await registerUser(server);
    const res = await api(server, 'POST', '/api/orgs', { token: alice.token, json: { name: '  Research  ' } });
    assert.equal(res.status, 201);
    assert.equal(res.body.name, 'Research');
    assert.equal(res.body.role, 'owner');
    assert.equal(res.body.personal, false);
    const list = await api(server, 'GET', '/api/orgs', { token: alice.token });
    assert.deepEqual(
      list.body.orgs.map((o: any) => [o.id, o.role, o.personal]),
      [
        [alice.orgId, 'owner', true],
        [res.body.id, 'owner', false],
      ],
    );
    assert.deepEqual(await members(alice, res.body.id), { [alice.id]: 'owner' });
  });

  it('validates input and requires a token', async () => {
    const alice = await registerUser(server);
    for (const json of [
      { name: '' },
      { name: '   ' },
      {},
      { name: 5 },
      { name: 'x'.repeat(201) },
      { name: 'a', extra: 1 },
    ]) {
      const res = await api(server, 'POST', '/api/orgs', { token: alice.token, json });
      assert.equal(res.status, 422, JSON.stringify(json));
    }
    const malformed = await api(server, 'POST', '/api/orgs', {
      token: alice.token,
      body: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(malformed.status, 400);
    assert.equal((await api(server, 'GET', '/api/orgs')).status, 401);
    assert.equal((await api(server, 'POST', '/api/orgs', { json: { name: 'x' } })).status, 401);
    assert.equal((await api(server, 'GET', `/api/orgs/${alice.orgId}/members`)).status, 401);
  });

  it('hides organisations from non-members with 404', async () => {
    const alice = await registerUser(server);
    const mallory = await registerUser(server);
    const orgId = await createOrg(alice);
    for (const target of [orgId, alice.orgId, randomUUID(), 'not-a-uuid']) {
      assert.equal((await api(server, 'GET', `/api/orgs/${target}/members`, { token: mallory.token })).status, 404);
      assert.equal((await invite(mallory, target, mallory.email, 'owner')).status, 404);
      assert.equal((await api(server, 'GET', `/api/orgs/${target}/invitations`, { token: mallory.token })).status, 404);
      assert.equal((await remove(mallory, target, alice.id)).status, 404);
    }
    assert.deepEqual(await members(alice, orgId), { [alice.id]: 'owner' });
  });

  it('removes members by role, lets anyone leave, and protects the last owner', async () => {
    const owner = await registerUser(server);
    const admin = await registerUser(server);
    const member = await registerUser(server);
    const leaver = await registerUser(server);
    const orgId = await createOrg(owner);
    await join(owner, orgId, admin, 'admin');
    await join(owner, orgId, member, 'member');
    await join(owner, orgId, leaver, 'member');

    assert.equal((await remove(member, orgId, leaver.id)).status, 403, 'member cannot remove others');
    assert.equal((await remove(admin, orgId, owner.id)).status, 403, 'admin cannot remove an owner');
    assert.equal((await remove(leaver, orgId, leaver.id)).status, 204, 'anyone may leave');
    assert.equal((await api(server, 'GET', `/api/orgs/${orgId}/members`, { token: leaver.token })).status, 404);
    assert.equal((await remove(admin, orgId, leaver.id)).status, 404, 'no longer a member');
    assert.equal((await remove(admin, orgId, member.id)).status, 204, 'admin removes a member');
    assert.equal((await remove(owner, orgId, 'nobody')).status, 404);

    const lastOwner = await remove(owner, orgId, owner.id);
    assert.equal(lastOwner.status, 409);
    assert.match(lastOwner.body.message, /last owner/);
    assert.equal((await invite(owner, orgId, admin.email, 'owner')).status, 409, 'already a member');

    // With a second owner, the first may leave; the remaining one is then the last.
    const second = await registerUser(server);
    await join(owner, orgId, second, 'owner');
    assert.equal((await remove(owner, orgId, owner.id)).status, 204);
    assert.equal((await remove(second, orgId, second.id)).status, 409);
    assert.deepEqual(await members(second, orgId), { [admin.id]: 'admin', [second.id]: 'owner' });
  });

  it('lets exactly one of two owners removing each other at once succeed', async () => {
    const a = await registerUser(server);
    const b = await registerUser(server);
    const orgId = await createOrg(a);
    await join(a, orgId, b, 'owner');
    const results = await Promise.all([remove(a, orgId, b.id), remove(b, orgId, a.id)]);
    const statuses = results.map((r) => r.status).sort();
    // One removal wins; the other finds the org gone for its caller (404) or its target the last owner (409).
    assert.equal(statuses[0], 204, statuses.join(','));
    assert.ok([404, 409].includes(statuses[1]!), statuses.join(','));
    const list = await api(server, 'GET', `/api/orgs/${orgId}/members`, { token: a.token });
    const remaining =
      list.status === 200 ? list : await api(server, 'GET', `/api/orgs/${orgId}/members`, { token: b.token });
    assert.equal(remaining.body.members.length, 1);
    assert.equal(remaining.body.members[0].role, 'owner');
  });
});
