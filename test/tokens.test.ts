import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type JWTPayload, SignJWT } from 'jose';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';

/**
 * Every way an access token can be wrong (RFC 8725) must end in 401 at a real endpoint, GET /api/auth/me.
 * Forged tokens are built with jose or by hand against a server whose secret the test knows.
 */
const SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
const OLD_SECRET = 'an-older-secret-still-accepted-after-rotation-98765';
const key = new TextEncoder().encode(SECRET);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('access tokens', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer({ env: { JWT_SECRET: SECRET, JWT_PREVIOUS_SECRETS: `k0:${OLD_SECRET}` } });
    user = await registerUser(server);
  });
  after(() => server.close());

  const now = () => Math.floor(Date.now() / 1000);
  const claims = (overrides: JWTPayload = {}): JWTPayload => ({
    iss: server.config.jwt.issuer,
    aud: server.config.jwt.audience,
    sub: user.id,
    iat: now(),
    exp: now() + 300,
    jti: randomUUID(),
    ...overrides,
  });
  const sign = (payload: JWTPayload, header: Record<string, unknown> = {}, secret: Uint8Array = key, alg = 'HS256') =>
    new SignJWT(payload).setProtectedHeader({ alg, typ: 'at+jwt', kid: 'k1', ...header }).sign(secret);
  const withoutClaim = (name: string) => {
    const payload = claims();
    delete payload[name];
    return payload;
  };
  const me = (token: string) => api(server, 'GET', '/api/auth/me', { token });
  const assertRejected = async (token: string, label: string) => {
    const res = await me(token);
    assert.equal(res.status, 401, label);
    assert.equal(res.body.error, 'invalid_token', label);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/, label);
  };

  it('accepts a correctly forged token (the baseline for the cases below)', async () => {
    assert.equal((await me(await sign(claims()))).status, 200);
    assert.equal((await me(user.token)).status, 200);
  });

  it('requires an Authorization: Bearer header', async () => {
    const none = await api(server, 'GET', '/api/auth/me');
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'unauthenticated');
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', `Token ${user.token}`]) {
      const res = await api(server, 'GET', '/api/auth/me', { headers: { authorization: header } });
      assert.equal(res.status, 401, header);
    }
    await assertRejected('not.a.jwt', 'garbage');
    await assertRejected('x'.repeat(5000), 'oversized');
  });

  it('rejects alg "none" and any algorithm other than HS256', async () => {
    const unsigned = `${b64({ alg: 'none', typ: 'at+jwt', kid: 'k1' })}.${b64(claims())}.`;
    await assertRejected(unsigned, 'alg none');
    await assertRejected(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims())}.`, 'alg none, no kid');
    await assertRejected(await sign(claims(), {}, key, 'HS512'), 'HS512 with the right key');
  });

  it('rejects a wrong key, a tampered payload and a tampered header', async () => {
    await assertRejected(await sign(claims(), {}, randomBytes(32)), 'wrong key, right kid');
    const [header, , signature] = user.token.split('.');
    const payload = JSON.parse(Buffer.from(user.token.split('.')[1]!, 'base64url').toString());
    await assertRejected(`${header}.${b64({ ...payload, sub: randomUUID() })}.${signature}`, 'tampered sub');
    await assertRejected(`${header}.${b64({ ...payload, exp: payload.exp + 3600 })}.${signature}`, 'tampered exp');
    const otherHeader = b64({ alg: 'HS256', typ: 'at+jwt', kid: 'k1', x: 1 });
    await assertRejected(`${otherHeader}.${user.token.split('.')[1]}.${signature}`, 'tampered header');
  });

  it('rejects tokens expired beyond the clock skew and accepts those within it', async () => {
    await assertRejected(await sign(claims({ iat: now() - 600, exp: now() - 60 })), 'expired 60 s ago');
    const withinSkew = await me(await sign(claims({ iat: now() - 600, exp: now() - 10 })));
    assert.equal(withinSkew.status, 200, 'expired 10 s ago, skew is 30 s');
    await assertRejected(await sign(claims({ nbf: now() + 600 })), 'not valid before 10 minutes from now');
    await assertRejected(await sign(claims({ iat: now() + 600, exp: now() + 900 })), 'issued in the future');
  });

  it('rejects the wrong typ, issuer or audience', async () => {
    await assertRejected(await sign(claims(), { typ: 'JWT' }), 'typ JWT');
    await assertRejected(await sign(claims(), { typ: undefined }), 'no typ');
    await assertRejected(await sign(claims({ iss: 'someone-else' })), 'issuer');
    await assertRejected(await sign(claims({ aud: 'another-api' })), 'audience');
  });

  it('rejects tokens missing any required claim', async () => {
    for (const name of ['iss', 'aud', 'sub', 'exp', 'iat', 'jti']) {
      await assertRejected(await sign(withoutClaim(name)), `without ${name}`);
    }
    await assertRejected(await sign(claims({ sub: '' })), 'empty sub');
    await assertRejected(await sign(claims({ jti: 42 as unknown as string })), 'numeric jti');
  });

  it('resolves keys by kid: unknown or missing kid is rejected, a previous key still works', async () => {
    await assertRejected(await sign(claims(), { kid: 'k9' }), 'unknown kid');
    await assertRejected(await sign(claims(), { kid: undefined }), 'no kid');
    await assertRejected(await sign(claims(), { kid: 'k0' }), 'current secret under the old kid');
    const old = await sign(claims(), { kid: 'k0' }, new TextEncoder().encode(OLD_SECRET));
    assert.equal((await me(old)).status, 200);
  });

  it('rejects a valid token for an account that does not exist', async () => {
    const res = await me(await sign(claims({ sub: randomUUID() })));
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'invalid_token');
  });
});
