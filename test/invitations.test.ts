import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, mock } from 'node:test';
import { api, joinOrg, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';

type Role = 'owner' | 'admin' | 'member';

/** An address nobody has registered, of a fixed length (so two answers can be compared byte for byte). */
const freshEmail = (prefix = 'x') => `${prefix}-${randomBytes(6).toString('hex')}@example.com`;

function client(server: TestServer) {
  const createOrg = async (user: TestUser, name = 'Team') => {
    const res = await api(server, 'POST', '/api/orgs', { token: user.token, json: { name } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const invite = (by: TestUser, orgId: string, email: string, role: Role = 'member') =>
    api(server, 'POST', `/api/orgs/${orgId}/invitations`, { token: by.token, json: { email, role } });
  const accept = (user: TestUser, id: string, token: string) =>
    api(server, 'POST', `/api/invitations/${id}/accept`, { token: user.token, json: { token } });
  const decline = (user: TestUser, id: string) =>
    api(server, 'POST', `/api/invitations/${id}/decline`, { token: user.token });
  const revoke = (by: TestUser, orgId: string, id: string) =>
    api(server, 'DELETE', `/api/orgs/${orgId}/invitations/${id}`, { token: by.token });
  const mine = async (user: TestUser) => {
    const res = await api(server, 'GET', '/api/invitations', { token: user.token });
    assert.equal(res.status, 200);
    return res.body.invitations as any[];
  };
  const pending = async (by: TestUser, orgId: string) => {
    const res = await api(server, 'GET', `/api/orgs/${orgId}/invitations`, { token: by.token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.invitations as any[];
  };
  const memberIds = async (by: TestUser, orgId: string) => {
    const res = await api(server, 'GET', `/api/orgs/${orgId}/members`, { token: by.token });
    assert.equal(res.status, 200);
    return res.body.members.map((m: any) => m.user_id).sort();
  };
  return { createOrg, invite, accept, decline, revoke, mine, pending, memberIds };
}

describe('invitations', () => {
  let server: TestServer;
  let c: ReturnType<typeof client>;
  before(async () => {
    // A short lifetime (the minimum) so a test can move the clock past it.
    server = await startTestServer({ env: { INVITATION_TTL_SECONDS: '60' } });
    c = client(server);
  });
  after(() => server.close());

  it('makes a member only when the invitee accepts with the link, signed in as the invited address', async () => {
    const owner = await registerUser(server);
    const invitee = await registerUser(server);
    const orgId = await c.createOrg(owner, 'Research');

    const res = await c.invite(owner, orgId, `  ${invitee.email.toUpperCase()} `, 'admin');
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const { invitation, delivery } = res.body;
    assert.equal(invitation.email, invitee.email, 'normalised like account e-mails');
    assert.equal(invitation.role, 'admin');
    assert.equal(invitation.org_name, 'Research');
    assert.equal(invitation.inviter_email, owner.email);
    assert.equal(delivery.via, 'inviter');
    assert.match(delivery.token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!JSON.stringify(invitation).includes(delivery.token), 'the invitation itself never carries the token');

    // Nothing is pushed into the invitee's workspace: not a member until they accept.
    assert.deepEqual(await c.memberIds(owner, orgId), [owner.id]);
    const orgsBefore = await api(server, 'GET', '/api/orgs', { token: invitee.token });
    assert.ok(!orgsBefore.body.orgs.some((o: any) => o.id === orgId));
    assert.equal((await api(server, 'GET', `/api/recordings?org_id=${orgId}`, { token: invitee.token })).status, 404);

    assert.deepEqual(
      (await c.pending(owner, orgId)).map((i) => [i.id, i.email, i.role]),
      [[invitation.id, invitee.email, 'admin']],
    );
    const incoming = await c.mine(invitee);
    assert.deepEqual(incoming, [invitation]);
    assert.deepEqual(await c.mine(owner), [], 'only the invited address sees it');

    const joined = await c.accept(invitee, invitation.id, delivery.token);
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    assert.deepEqual([joined.body.id, joined.body.role, joined.body.name], [orgId, 'admin', 'Research']);
    assert.deepEqual(await c.memberIds(owner, orgId), [owner.id, invitee.id].sort());
    const me = await api(server, 'GET', '/api/auth/me', { token: invitee.token });
    assert.equal(me.body.orgs.find((o: any) => o.id === orgId)?.role, 'admin');

    assert.deepEqual(await c.mine(invitee), []);
    assert.deepEqual(await c.pending(owner, orgId), []);
    assert.equal((await c.accept(invitee, invitation.id, delivery.token)).status, 404, 'used once');
  });

  it('answers the same whether or not the address has an account', async () => {
    const owner = await registerUser(server);
    const orgId = await c.createOrg(owner);
    const registered = await registerUser(server, freshEmail('r'));
    const unknown = freshEmail('u');
    assert.equal(registered.email.length, unknown.length);

    const answers = [await c.invite(owner, orgId, registered.email), await c.invite(owner, orgId, unknown)];
    const masked = answers.map((res) => {
      const { id, email, created_at, expires_at, ...rest } = res.body.invitation;
      assert.ok(id && email && created_at && expires_at);
      return {
        status: res.status,
        headers: [...res.headers.keys()].filter((k) => k !== 'date').sort(),
        length: res.headers.get('content-length'),
        invitation: rest,
        delivery: { via: res.body.delivery.via, token: res.body.delivery.token.length },
      };
    });
    assert.equal(masked[0]!.status, 202);
    assert.deepEqual(masked[0], masked[1]);
    // Someone who registers later with the invited address finds the invitation waiting.
    const late = await registerUser(server, unknown);
    const waiting = await c.mine(late);
    assert.deepEqual(
      waiting.map((i) => i.id),
      [answers[1]!.body.invitation.id],
    );
    assert.equal((await c.accept(late, waiting[0].id, answers[1]!.body.delivery.token)).status, 200);
  });

  it('lets owners and admins invite; only owners invite or revoke an owner; not into personal orgs', async () => {
    const owner = await registerUser(server);
    const admin = await registerUser(server);
    const member = await registerUser(server);
    const orgId = await c.createOrg(owner);
    await joinOrg(server, owner, orgId, admin, 'admin');
    await joinOrg(server, admin, orgId, member, 'member');

    assert.equal((await c.invite(admin, orgId, freshEmail(), 'admin')).status, 202);
    const denied = await c.invite(admin, orgId, freshEmail(), 'owner');
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error, 'forbidden');
    assert.equal((await c.invite(member, orgId, freshEmail(), 'member')).status, 403, 'members do not invite');
    assert.equal((await api(server, 'GET', `/api/orgs/${orgId}/invitations`, { token: member.token })).status, 403);

    const asOwner = await c.invite(owner, orgId, freshEmail(), 'owner');
    assert.equal(asOwner.status, 202);
    assert.equal((await c.revoke(admin, orgId, asOwner.body.invitation.id)).status, 403, 'admin cannot revoke it');
    assert.equal((await c.revoke(member, orgId, asOwner.body.invitation.id)).status, 403);

    const existing = await c.invite(admin, orgId, member.email.toUpperCase(), 'admin');
    assert.equal(existing.status, 409, 'already a member');
    for (const json of [
      { email: 'not-an-address', role: 'member' },
      { email: '', role: 'member' },
      { email: freshEmail(), role: 'superuser' },
      { email: freshEmail() },
      { email: freshEmail(), role: 'member', extra: 1 },
    ]) {
      const res = await api(server, 'POST', `/api/orgs/${orgId}/invitations`, { token: owner.token, json });
      assert.equal(res.status, 422, JSON.stringify(json));
    }
    const personal = await c.invite(owner, owner.orgId, admin.email);
    assert.equal(personal.status, 409);
    assert.match(personal.body.message, /personal/);
    const anonymous = { json: { email: freshEmail(), role: 'member' } };
    assert.equal((await api(server, 'POST', `/api/orgs/${orgId}/invitations`, anonymous)).status, 401);
    assert.equal((await api(server, 'GET', '/api/invitations')).status, 401);
  });

  it('needs both the invited address and the token to accept; the invitee may decline', async () => {
    const owner = await registerUser(server);
    const invitee = await registerUser(server);
    const mallory = await registerUser(server);
    const orgId = await c.createOrg(owner);
    const { body } = await c.invite(owner, orgId, invitee.email);
    const { id } = body.invitation;
    const { token } = body.delivery;

    const stolen = await c.accept(mallory, id, token);
    assert.equal(stolen.status, 404, 'a forwarded link is useless to another account');
    assert.equal((await c.decline(mallory, id)).status, 404);
    const guessed = await c.accept(invitee, id, 'x'.repeat(43));
    assert.equal(guessed.status, 403);
    assert.match(guessed.body.message, /link/);
    assert.equal((await c.accept(invitee, 'no-such-invitation', token)).status, 404);
    assert.deepEqual(await c.memberIds(owner, orgId), [owner.id]);

    assert.equal((await c.decline(invitee, id)).status, 204);
    assert.deepEqual(await c.mine(invitee), []);
    assert.deepEqual(await c.pending(owner, orgId), []);
    assert.equal((await c.accept(invitee, id, token)).status, 404);
    assert.equal((await c.decline(invitee, id)).status, 404);
  });

  it('replaces a pending invitation when the address is invited again', async () => {
    const owner = await registerUser(server);
    const invitee = await registerUser(server);
    const orgId = await c.createOrg(owner);
    const first = await c.invite(owner, orgId, invitee.email, 'member');
    const second = await c.invite(owner, orgId, invitee.email, 'admin');
    assert.notEqual(second.body.invitation.id, first.body.invitation.id);
    assert.deepEqual(
      (await c.pending(owner, orgId)).map((i) => [i.id, i.role]),
      [[second.body.invitation.id, 'admin']],
    );
    assert.equal((await c.accept(invitee, first.body.invitation.id, first.body.delivery.token)).status, 404);
    const accepted = await c.accept(invitee, second.body.invitation.id, second.body.delivery.token);
    assert.equal(accepted.body.role, 'admin');

    // Two invitations of one address at once leave exactly one pending.
    const other = freshEmail();
    const both = await Promise.all([c.invite(owner, orgId, other), c.invite(owner, orgId, other)]);
    assert.deepEqual(
      both.map((r) => r.status),
      [202, 202],
    );
    assert.equal((await c.pending(owner, orgId)).filter((i) => i.email === other).length, 1);
  });

  it('lets admins revoke, and revokes what a removed member sent', async () => {
    const owner = await registerUser(server);
    const admin = await registerUser(server);
    const invitee = await registerUser(server);
    const orgId = await c.createOrg(owner);
    await joinOrg(server, owner, orgId, admin, 'admin');

    const byOwner = (await c.invite(owner, orgId, invitee.email)).body;
    assert.equal((await c.revoke(admin, orgId, byOwner.invitation.id)).status, 204);
    assert.equal((await c.revoke(admin, orgId, byOwner.invitation.id)).status, 404, 'no longer pending');
    assert.deepEqual(await c.mine(invitee), []);
    assert.equal((await c.accept(invitee, byOwner.invitation.id, byOwner.delivery.token)).status, 404);
    const elsewhere = await c.createOrg(owner, 'Elsewhere');
    const again = (await c.invite(owner, orgId, invitee.email)).body;
    assert.equal((await c.revoke(owner, elsewhere, again.invitation.id)).status, 404, 'revoked only in its own org');

    const target = await registerUser(server);
    const byAdmin = (await c.invite(admin, orgId, target.email)).body;
    const removed = await api(server, 'DELETE', `/api/orgs/${orgId}/members/${admin.id}`, { token: owner.token });
    assert.equal(removed.status, 204);
    assert.deepEqual(
      (await c.pending(owner, orgId)).map((i) => i.id),
      [again.invitation.id],
      "the removed admin's invitation is revoked, the owner's stays",
    );
    assert.deepEqual(await c.mine(target), []);
    assert.equal((await c.accept(target, byAdmin.invitation.id, byAdmin.delivery.token)).status, 404);
  });

  it('lets exactly one of two concurrent accepts join', async () => {
    const owner = await registerUser(server);
    const invitee = await registerUser(server);
    const orgId = await c.createOrg(owner);
    const { body } = await c.invite(owner, orgId, invitee.email);
    const results = await Promise.all([
      c.accept(invitee, body.invitation.id, body.delivery.token),
      c.accept(invitee, body.invitation.id, body.delivery.token),
    ]);
    const statuses = results.map((r) => r.status).sort();
    assert.equal(statuses[0], 200, statuses.join(','));
    assert.ok([404, 409].includes(statuses[1]!), statuses.join(','));
    assert.deepEqual(await c.memberIds(owner, orgId), [owner.id, invitee.id].sort());
  });

  it('stops offering and accepting an invitation once it expires', async (t) => {
    const owner = await registerUser(server);
    const invitee = await registerUser(server);
    const orgId = await c.createOrg(owner);
    const { body } = await c.invite(owner, orgId, invitee.email);
    // Only Date moves (the server runs in this process): 61 s later the 60-second invitation has expired,
    // while the 15-minute access tokens are still good.
    mock.timers.enable({ apis: ['Date'], now: Date.now() + 61_000 });
    t.after(() => mock.timers.reset());
    assert.deepEqual(await c.mine(invitee), []);
    assert.deepEqual(await c.pending(owner, orgId), []);
    const late = await c.accept(invitee, body.invitation.id, body.delivery.token);
    assert.equal(late.status, 404);
    assert.match(late.body.message, /expired/);
    // Inviting again gives a fresh link that works.
    const fresh = (await c.invite(owner, orgId, invitee.email)).body;
    assert.equal((await c.accept(invitee, fresh.invitation.id, fresh.delivery.token)).status, 200);
  });

  it('documents the endpoints in OpenAPI', async () => {
    const spec = await api(server, 'GET', '/docs/json');
    for (const route of [
      '/api/orgs/{id}/invitations',
      '/api/orgs/{id}/invitations/{invitationId}',
      '/api/invitations',
      '/api/invitations/{id}/accept',
      '/api/invitations/{id}/decline',
    ]) {
      assert.ok(spec.body.paths[route], `missing ${route}`);
    }
    assert.equal(spec.body.paths['/api/orgs/{id}/members'].post, undefined, 'members join by invitation only');
  });
});

describe('invitation rate limits', () => {
  let server: TestServer;
  let c: ReturnType<typeof client>;
  before(async () => {
    server = await startTestServer({ env: { INVITE_RATE_LIMIT_PER_INVITER: '3', INVITE_RATE_LIMIT_PER_ORG: '4' } });
    c = client(server);
  });
  after(() => server.close());

  const assertLimited = (res: Awaited<ReturnType<typeof c.invite>>, message: RegExp) => {
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.error, 'rate_limited');
    assert.match(res.body.message, message);
    const retryAfter = Number(res.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
  };

  it('limits invitations per inviter and per organisation per hour', async () => {
    const owner = await registerUser(server);
    const admin = await registerUser(server);
    const orgId = await c.createOrg(owner);
    await joinOrg(server, owner, orgId, admin, 'admin'); // owner 1, org 1

    const again = freshEmail();
    assert.equal((await c.invite(owner, orgId, again)).status, 202); // owner 2, org 2
    assert.equal((await c.invite(owner, orgId, again)).status, 202, 'a replacement counts too'); // owner 3, org 3
    assertLimited(await c.invite(owner, orgId, freshEmail()), /you have sent 3 invitations/);
    const otherOrg = await c.createOrg(owner, 'Other');
    assertLimited(await c.invite(owner, otherOrg, freshEmail()), /you have sent 3/);

    assert.equal((await c.invite(admin, orgId, freshEmail())).status, 202); // admin 1, org 4
    assertLimited(await c.invite(admin, orgId, freshEmail()), /organisation has sent 4 invitations/);

    // Refused attempts cost nothing, and other inviters and organisations are not affected.
    const stranger = await registerUser(server);
    assert.equal((await c.invite(stranger, await c.createOrg(stranger), freshEmail())).status, 202);
    assert.equal((await c.invite(admin, await c.createOrg(admin), freshEmail())).status, 202); // admin 2
    assert.equal((await c.pending(owner, orgId)).length, 2);
  });
});
