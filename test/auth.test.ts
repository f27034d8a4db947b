import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/index.ts';
import { api, registerUser, startTestServer, type TestServer } from './helpers.ts';

type Server = TestServer & { schema?: string };

let counter = 0;
const freshEmail = () => `auth${++counter}-${Date.now()}@example.com`;
const goodPassword = 'violet tugboat 93 lanterns';

const form = (fields: Record<string, string>) => ({
  body: new URLSearchParams(fields).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
});

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await fn();
  return { ms: performance.now() - start, result };
}

describe('auth: register', () => {
  let server: Server;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('creates the user and their personal organisation, never returning the hash', async () => {
    const res = await api(server, 'POST', '/api/auth/register', {
      json: { email: '  Alice.Smith@Example.COM ', password: goodPassword, name: 'Alice' },
    });
    assert.equal(res.status, 201);
    assert.deepEqual(Object.keys(res.body).sort(), ['created_at', 'email', 'id', 'name', 'personal_org_id']);
    assert.equal(res.body.email, 'alice.smith@example.com');
    assert.equal(res.body.name, 'Alice');
    assert.doesNotMatch(JSON.stringify(res.body), /argon2/);

    const login = await api(server, 'POST', '/api/auth/login', {
      json: { email: 'ALICE.smith@example.com', password: goodPassword },
    });
    assert.equal(login.status, 200);
    const me = await api(server, 'GET', '/api/auth/me', { token: login.body.access_token });
    assert.equal(me.status, 200);
    assert.equal(me.body.id, res.body.id);
    assert.deepEqual(
      me.body.orgs.map((o: any) => ({ id: o.id, name: o.name, personal: o.personal, role: o.role })),
      [{ id: res.body.personal_org_id, name: "Alice's recordings", personal: true, role: 'owner' }],
    );
  });

  it('refuses a duplicate address whatever its case (409)', async () => {
    const email = freshEmail();
    assert.equal(
      (await api(server, 'POST', '/api/auth/register', { json: { email, password: goodPassword } })).status,
      201,
    );
    const again = await api(server, 'POST', '/api/auth/register', {
      json: { email: ` ${email.toUpperCase()}`, password: goodPassword },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'email_taken');
  });

  it('refuses malformed addresses (422)', async () => {
    for (const email of [
      '',
      '   ',
      'no-at-sign',
      'two@@example.com',
      'a@b',
      'a b@example.com',
      `${'x'.repeat(250)}@ex.com`,
    ]) {
      const res = await api(server, 'POST', '/api/auth/register', { json: { email, password: goodPassword } });
      assert.equal(res.status, 422, email);
      assert.equal(res.body.error, 'validation_failed');
    }
  });

  it('refuses short, long and common passwords with a reason (422)', async () => {
    const cases: [string, RegExp][] = [
      ['seven77', /at least 8/],
      ['x'.repeat(257), /at most 256/],
      ['🎵'.repeat(7), /at least 8/], // 14 UTF-16 units, but 7 characters
      ['Password1', /commonly used/],
      ['ILOVEYOU1', /commonly used/],
      ['Trustno1', /commonly used/],
    ];
    for (const [password, reason] of cases) {
      const res = await api(server, 'POST', '/api/auth/register', { json: { email: freshEmail(), password } });
      assert.equal(res.status, 422, password);
      assert.equal(res.body.error, 'weak_password');
      assert.match(res.body.message, reason);
    }
    for (const password of ['🎵'.repeat(8), 'y'.repeat(256)]) {
      const res = await api(server, 'POST', '/api/auth/register', { json: { email: freshEmail(), password } });
      assert.equal(res.status, 201, password);
    }
  });

  it('answers bad input with 4xx, never 500', async () => {
    const raw = (body: string, type = 'application/json') =>
      api(server, 'POST', '/api/auth/register', { body, headers: { 'content-type': type } });
    assert.equal((await raw('{"email": ')).status, 400);
    assert.equal((await raw('')).status, 400);
    assert.equal((await raw('[]')).status, 422);
    assert.equal((await raw('null')).status, 422);
    assert.equal((await raw('"text"')).status, 422);
    assert.equal((await raw('email=a@b.co', 'text/plain')).status, 415);
    const wrongTypes = [
      { email: freshEmail(), password: 12345678 },
      { email: ['a@example.com'], password: goodPassword },
      { email: { x: 1 }, password: goodPassword },
      { email: freshEmail(), password: goodPassword, name: 42 },
      { email: freshEmail() },
      { email: freshEmail(), password: goodPassword, admin: true },
    ];
    for (const json of wrongTypes) {
      const res = await api(server, 'POST', '/api/auth/register', { json });
      assert.equal(res.status, 422, JSON.stringify(json));
      assert.equal(res.body.error, 'validation_failed');
    }
    const huge = await api(server, 'POST', '/api/auth/register', {
      json: { email: freshEmail(), password: goodPassword, name: 'n'.repeat(70 * 1024) },
    });
    assert.equal(huge.status, 413);
    const hugeLogin = await api(
      server,
      'POST',
      '/api/auth/login',
      form({ username: 'a@b.co', password: 'p'.repeat(70 * 1024) }),
    );
    assert.equal(hugeLogin.status, 413);
  });
});

describe('auth: login', () => {
  let server: Server;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('accepts the OAuth2 password form with username', async () => {
    const user = await registerUser(server);
    const res = await api(
      server,
      'POST',
      '/api/auth/login',
      form({ username: user.email, password: user.password, grant_type: 'password' }),
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.token_type, 'bearer');
    assert.equal(res.body.expires_in, server.config.jwt.accessTtlSec);
    assert.equal(typeof res.body.refresh_token, 'string');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal((await api(server, 'GET', '/api/auth/me', { token: res.body.access_token })).status, 200);

    const wrongGrant = await api(
      server,
      'POST',
      '/api/auth/login',
      form({ username: user.email, password: user.password, grant_type: 'client_credentials' }),
    );
    assert.equal(wrongGrant.status, 422);
    const missing = await api(server, 'POST', '/api/auth/login', form({ username: user.email }));
    assert.equal(missing.status, 422);
    const wrong = await api(
      server,
      'POST',
      '/api/auth/login',
      form({ username: user.email, password: 'not the password' }),
    );
    assert.equal(wrong.status, 401);
  });

  it('gives the same 401 for an unknown user and a wrong password, both after a real hash check', async () => {
    const user = await registerUser(server);
    const wrong = await timed(() =>
      api(server, 'POST', '/api/auth/login', { json: { email: user.email, password: 'wrong password 1' } }),
    );
    const unknown = await timed(() =>
      api(server, 'POST', '/api/auth/login', { json: { email: freshEmail(), password: 'wrong password 1' } }),
    );
    assert.equal(wrong.result.status, 401);
    assert.equal(unknown.result.status, 401);
    assert.deepEqual(wrong.result.body, unknown.result.body);
    assert.equal(wrong.result.body.error, 'invalid_credentials');
    // Argon2id at m=19 MiB, t=2 takes tens of milliseconds; a skipped check would take about one.
    assert.ok(wrong.ms > 5, `wrong password answered in ${wrong.ms} ms`);
    assert.ok(unknown.ms > 5, `unknown user answered in ${unknown.ms} ms`);
  });

  it('normalises passwords with NFKC but never case-folds or truncates them', async () => {
    const email = freshEmail();
    const typed = 'Ｃｏｒｒｅｃｔ Ｈｏｒｓｅ ４２ ﬁsh'; // full-width letters and a ligature
    assert.equal((await api(server, 'POST', '/api/auth/register', { json: { email, password: typed } })).status, 201);
    const login = (password: string) => api(server, 'POST', '/api/auth/login', { json: { email, password } });
    assert.equal((await login('Correct Horse 42 fish')).status, 200);
    assert.equal((await login(typed)).status, 200);
    assert.equal((await login('correct horse 42 fish')).status, 401);
    assert.equal((await login('Correct Horse 42 fish ')).status, 401);

    const longEmail = freshEmail();
    const long = `${'a1b2c3d4'.repeat(20)}-end`;
    assert.equal(
      (await api(server, 'POST', '/api/auth/register', { json: { email: longEmail, password: long } })).status,
      201,
    );
    const prefix = await api(server, 'POST', '/api/auth/login', {
      json: { email: longEmail, password: long.slice(0, 72) },
    });
    assert.equal(prefix.status, 401);
  });

  it('answers an empty or absurd login with 401 or 422, not 500', async () => {
    const cases = [
      { email: '', password: 'x' },
      { email: 'x', password: '' },
      { email: 'not-an-email', password: 'whatever password' },
      { email: 5, password: 'x' },
    ];
    for (const json of cases) {
      const res = await api(server, 'POST', '/api/auth/login', { json });
      assert.ok([401, 422].includes(res.status), `${JSON.stringify(json)} -> ${res.status}`);
    }
  });
});

describe('auth: refresh tokens', () => {
  let server: Server;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const refresh = (token: unknown) => api(server, 'POST', '/api/auth/refresh', { json: { refresh_token: token } });

  it('rotates on every use and revokes the family when a rotated token is reused', async () => {
    const user = await registerUser(server);
    const first = await refresh(user.refreshToken);
    assert.equal(first.status, 200);
    assert.notEqual(first.body.refresh_token, user.refreshToken);
    assert.match(first.body.refresh_token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await api(server, 'GET', '/api/auth/me', { token: first.body.access_token })).status, 200);
    const second = await refresh(first.body.refresh_token);
    assert.equal(second.status, 200);

    // The original token again: theft. It fails, and so does the newest token of the same family.
    const reuse = await refresh(user.refreshToken);
    assert.equal(reuse.status, 401);
    assert.equal(reuse.body.error, 'invalid_token');
    assert.equal((await refresh(second.body.refresh_token)).status, 401);

    // Another sign-in of the same user is a different family and keeps working.
    const other = await api(server, 'POST', '/api/auth/login', {
      json: { email: user.email, password: user.password },
    });
    assert.equal((await refresh(other.body.refresh_token)).status, 200);
  });

  it('lets exactly one of two simultaneous uses of a token win', async () => {
    const user = await registerUser(server);
    const results = await Promise.all([refresh(user.refreshToken), refresh(user.refreshToken)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 401]);
  });

  it('refuses unknown and malformed refresh tokens', async () => {
    assert.equal((await refresh('A'.repeat(43))).status, 401);
    assert.equal((await refresh('')).status, 422);
    assert.equal((await refresh(123)).status, 422);
    assert.equal((await refresh('x'.repeat(600))).status, 422);
    assert.equal((await api(server, 'POST', '/api/auth/refresh', { json: {} })).status, 422);
  });

  it('logout revokes the family (204) and is quiet about unknown tokens', async () => {
    const user = await registerUser(server);
    const rotated = await refresh(user.refreshToken);
    const out = await api(server, 'POST', '/api/auth/logout', { json: { refresh_token: user.refreshToken } });
    assert.equal(out.status, 204);
    assert.equal((await refresh(rotated.body.refresh_token)).status, 401);
    assert.equal((await api(server, 'POST', '/api/auth/logout', { json: { refresh_token: 'unknown' } })).status, 204);
    assert.equal((await api(server, 'POST', '/api/auth/logout', { json: {} })).status, 422);
  });
});

describe('auth: password hash upgrade', () => {
  it('rehashes on login when the configured Argon2 parameters rise', async () => {
    const first = await startTestServer();
    let second: Server | undefined;
    try {
      const user = await registerUser(first);
      await first.stop();
      second = await startTestServer({
        reuse: { dataDir: first.dataDir, ...(first.schema ? { schema: first.schema } : {}) },
        env: { ARGON2_TIME_COST: '3' },
      });
      const storedHash = async () => {
        const handle = openDatabase(second!.config.databaseUrl, first.schema ? { schema: first.schema } : {});
        try {
          const row = await handle.db
            .selectFrom('users')
            .select('password_hash')
            .where('id', '=', user.id)
            .executeTakeFirstOrThrow();
          return row.password_hash;
        } finally {
          await handle.close();
        }
      };
      assert.match(await storedHash(), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      const login = () =>
        api(second!, 'POST', '/api/auth/login', { json: { email: user.email, password: user.password } });
      assert.equal((await login()).status, 200);
      assert.match(await storedHash(), /^\$argon2id\$v=19\$m=19456,t=3,p=1\$/);
      assert.equal((await login()).status, 200);
    } finally {
      await second?.stop();
      await first.close();
    }
  });
});

describe('auth: refresh token housekeeping', () => {
  it('deletes expired refresh tokens at start, keeping live ones', async () => {
    const first = await startTestServer();
    let second: Server | undefined;
    try {
      const user = await registerUser(first);
      await first.stop();
      const handle = openDatabase(first.config.databaseUrl, first.schema ? { schema: first.schema } : {});
      const tokenIds = () =>
        handle.db.selectFrom('refresh_tokens').select('id').where('user_id', '=', user.id).execute();
      try {
        const [live] = await tokenIds();
        await handle.db
          .insertInto('refresh_tokens')
          .values({
            id: 'expired-token',
            family_id: 'expired-family',
            user_id: user.id,
            token_hash: 'x'.repeat(43),
            expires_at: new Date(Date.now() - 1000).toISOString(),
            created_at: new Date(Date.now() - 60_000).toISOString(),
            used_at: null,
            revoked_at: null,
          })
          .execute();
        assert.equal((await tokenIds()).length, 2);
        second = await startTestServer({
          reuse: { dataDir: first.dataDir, ...(first.schema ? { schema: first.schema } : {}) },
        });
        assert.deepEqual(await tokenIds(), [live]);
        const refreshed = await api(second, 'POST', '/api/auth/refresh', {
          json: { refresh_token: user.refreshToken },
        });
        assert.equal(refreshed.status, 200);
      } finally {
        await handle.close();
      }
    } finally {
      await second?.stop();
      await first.close();
    }
  });
});

describe('auth: rate limits and overload', () => {
  it('limits attempts per address with 429 and Retry-After', async () => {
    const server = await startTestServer({ env: { AUTH_RATE_LIMIT_PER_IP: '3' } });
    try {
      const statuses: number[] = [];
      let limited: Awaited<ReturnType<typeof api>> | undefined;
      for (let i = 0; i < 4; i++) {
        const res = await api(server, 'POST', '/api/auth/login', {
          json: { email: freshEmail(), password: 'whatever pw' },
        });
        statuses.push(res.status);
        if (res.status === 429) limited = res;
      }
      assert.deepEqual(statuses, [401, 401, 401, 429]);
      assert.equal(limited?.body.error, 'rate_limited');
      assert.ok(Number(limited?.headers.get('retry-after')) > 0);
      const register = await api(server, 'POST', '/api/auth/register', {
        json: { email: freshEmail(), password: goodPassword },
      });
      assert.equal(register.status, 201, 'register has its own budget');
    } finally {
      await server.close();
    }
  });

  it('limits failed attempts per account with 429 and Retry-After; successful logins do not count', async () => {
    const server = await startTestServer({ env: { AUTH_RATE_LIMIT_PER_ACCOUNT: '3' } });
    try {
      const user = await registerUser(server); // the registration is one of the three attempts
      for (let i = 0; i < 5; i++) {
        const ok = await api(server, 'POST', '/api/auth/login', {
          json: { email: user.email, password: user.password },
        });
        assert.equal(ok.status, 200, 'bots sharing an account sign in often');
      }
      for (let i = 0; i < 2; i++) {
        const wrong = await api(server, 'POST', '/api/auth/login', {
          json: { email: user.email, password: 'nope nope' },
        });
        assert.equal(wrong.status, 401);
      }
      const limited = await api(server, 'POST', '/api/auth/login', {
        json: { email: ` ${user.email.toUpperCase()} `, password: user.password },
      });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.error, 'rate_limited');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      const other = await registerUser(server);
      assert.ok(other.token);
    } finally {
      await server.close();
    }
  });

  it('rejects a burst beyond the hashing pool with 503 busy and Retry-After, and keeps serving', async () => {
    const server = await startTestServer({
      env: { ARGON2_MAX_CONCURRENT: '1', ARGON2_MAX_QUEUED: '0', AUTH_RATE_LIMIT_PER_ACCOUNT: '1000' },
    });
    try {
      const user = await registerUser(server);
      const burst = await Promise.all(
        Array.from({ length: 12 }, () =>
          api(server, 'POST', '/api/auth/login', { json: { email: user.email, password: user.password } }),
        ),
      );
      const statuses = burst.map((r) => r.status);
      assert.ok(
        statuses.every((s) => s === 200 || s === 503),
        statuses.join(','),
      );
      const busy = burst.filter((r) => r.status === 503);
      assert.ok(busy.length > 0, 'some logins are turned away');
      assert.ok(statuses.includes(200), 'some logins succeed');
      for (const res of busy) {
        assert.equal(res.body.error, 'busy');
        assert.ok(Number(res.headers.get('retry-after')) >= 1);
      }
      assert.equal((await api(server, 'GET', '/healthz')).status, 200);
      const later = await api(server, 'POST', '/api/auth/login', {
        json: { email: user.email, password: user.password },
      });
      assert.equal(later.status, 200);
    } finally {
      await server.close();
    }
  });
});
