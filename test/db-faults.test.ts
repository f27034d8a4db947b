import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../src/db/index.ts';
import { DatabaseStartupError } from '../src/db/startup.ts';
import { DatabaseUnavailableError } from '../src/db/unavailable.ts';
import {
  api,
  eventually,
  registerUser,
  startTestServer,
  type TestServer,
  testDialect,
  testPostgresUrl,
} from './helpers.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

/**
 * The real app talks to PostgreSQL through a TCP proxy that the tests cut (connections reset, new
 * ones refused) and freeze (connections open, nothing moves). The app runs in this process, so a
 * crash would be an 'uncaughtException' here: every test checks none happened.
 */
const skip =
  testDialect === 'postgres' ? false : 'PostgreSQL only: SQLite runs inside the process, with no connection to lose';

// Short limits so a frozen database is detected quickly; the bounds below leave ample slack. Both
// paths to a frozen database (a new connection, a query on a pooled one) take 2 s to give up, longer
// than /readyz may take: its answer in time is its own doing.
const CONNECT_TIMEOUT_MS = 2000;
const STATEMENT_TIMEOUT_MS = 1000;
/** Longest a request may take while the database is away: its limits plus generous slack (no hang). */
const OUTAGE_BOUND_MS = CONNECT_TIMEOUT_MS + STATEMENT_TIMEOUT_MS + 1000 + 3000;
/** /readyz promises an answer within about a second. */
const READY_BOUND_MS = 1500;

const faults: unknown[] = [];
const recordFault = (error: unknown) => faults.push(error);

function proxiedUrl(proxy: TcpProxy): string {
  const url = new URL(testPostgresUrl);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return url.toString();
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

function assertUnavailable(response: Awaited<ReturnType<typeof api>>): void {
  assert.equal(response.status, 503, JSON.stringify(response.body));
  assert.equal(response.body.error, 'database_unavailable');
  assert.equal(response.headers.get('retry-after'), '5');
}

async function assertReadyzUnavailable(server: TestServer): Promise<void> {
  const { result, ms } = await timed(() => api(server, 'GET', '/readyz'));
  assert.equal(result.status, 503);
  assert.deepEqual(result.body, { error: 'database_unavailable', message: 'database unreachable' });
  assert.ok(ms < READY_BOUND_MS, `/readyz took ${Math.round(ms)} ms`);
  assert.equal((await api(server, 'GET', '/healthz')).status, 200);
}

/** Works again without a restart: ready, and a new account can register and log in. */
async function assertRecovered(server: TestServer, user: { token: string }): Promise<void> {
  await eventually(async () => assert.equal((await api(server, 'GET', '/readyz')).status, 200));
  assert.equal((await api(server, 'GET', '/api/recordings', { token: user.token })).status, 200);
  await registerUser(server);
}

describe('database faults', { skip }, () => {
  let proxy: TcpProxy;
  let server: TestServer & { schema?: string };

  before(async () => {
    process.on('uncaughtException', recordFault);
    process.on('unhandledRejection', recordFault);
    const target = new URL(testPostgresUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    server = await startTestServer({
      env: {
        DATABASE_URL: proxiedUrl(proxy),
        DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
        DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
        AUTH_RATE_LIMIT_PER_ACCOUNT: '100000',
      },
    });
  });
  after(async () => {
    await server?.close();
    await proxy?.close();
    process.off('uncaughtException', recordFault);
    process.off('unhandledRejection', recordFault);
  });
  afterEach(() => {
    proxy.restore();
    proxy.thaw();
    assert.deepEqual(faults, [], 'no uncaught exception or unhandled rejection');
  });

  it('cut: requests answer 503 at once, /readyz 503, /healthz 200; restore: works again', async () => {
    const user = await registerUser(server);
    proxy.cut();

    const list = await timed(() => api(server, 'GET', '/api/recordings', { token: user.token }));
    assertUnavailable(list.result);
    assert.ok(list.ms < OUTAGE_BOUND_MS, `took ${Math.round(list.ms)} ms`);
    assertUnavailable(
      await api(server, 'POST', '/api/auth/login', { json: { email: user.email, password: user.password } }),
    );
    await assertReadyzUnavailable(server);

    proxy.restore();
    await assertRecovered(server, user);
  });

  it('freeze: requests answer 503 within the time limits instead of hanging; thaw: works again', async () => {
    const user = await registerUser(server);
    proxy.freeze();

    // Both ways a frozen database shows: a pooled connection whose query gets no answer, and a new
    // connection that never completes its start-up.
    const requests = await timed(() =>
      Promise.all([
        api(server, 'GET', '/api/recordings', { token: user.token }),
        api(server, 'POST', '/api/auth/login', { json: { email: user.email, password: user.password } }),
        api(server, 'GET', '/api/auth/me', { token: user.token }),
      ]),
    );
    for (const response of requests.result) assertUnavailable(response);
    assert.ok(requests.ms < OUTAGE_BOUND_MS, `took ${Math.round(requests.ms)} ms`);
    await assertReadyzUnavailable(server);

    proxy.thaw();
    await assertRecovered(server, user);
  });

  it('a connection reset in the middle of a query answers 503, and the server carries on', async () => {
    const user = await registerUser(server);
    await withTableLocked(server.schema!, async (waiters) => {
      // Login's first query waits for the lock, so it is running on the server when the proxy cuts.
      const login = api(server, 'POST', '/api/auth/login', { json: { email: user.email, password: user.password } });
      await eventually(async () => assert.ok((await waiters()) > 0, 'login is waiting on the lock'));
      proxy.cut();
      assertUnavailable(await login);
    });
    proxy.restore();
    await assertRecovered(server, user);
  });

  it('a statement longer than DB_STATEMENT_TIMEOUT_MS is cancelled by the server: 503, not a hang', async () => {
    const user = await registerUser(server);
    await withTableLocked(server.schema!, async () => {
      const login = await timed(() =>
        api(server, 'POST', '/api/auth/login', { json: { email: user.email, password: user.password } }),
      );
      assertUnavailable(login.result);
      assert.ok(login.ms < OUTAGE_BOUND_MS, `took ${Math.round(login.ms)} ms`);
    });
    await assertRecovered(server, user);
  });

  it('a connection whose query got no answer is discarded, not handed out again', async () => {
    const handle = openTestHandle(proxy);
    try {
      const backend = sql<{ pid: number }>`select pg_backend_pid() as pid`;
      const before = (await backend.execute(handle.db)).rows[0]?.pid;
      proxy.freeze();
      await assert.rejects(backend.execute(handle.db), (error) => {
        assert.ok(error instanceof DatabaseUnavailableError);
        assert.equal(error.reason, 'Query read timeout');
        return true;
      });
      proxy.thaw();
      // One query at a time: a pool that kept the connection would hand out that same one again.
      const after = (await backend.execute(handle.db)).rows[0]?.pid;
      assert.ok(before && after);
      assert.notEqual(after, before);
    } finally {
      await handle.close();
    }
  });

  it('longDb runs statements past the request limit, and leaves request connections at the short limit', async () => {
    const handle = openTestHandle(proxy);
    try {
      const slow = sql`select pg_sleep(1.5)`;
      await assert.rejects(slow.execute(handle.db), (error) => {
        assert.ok(error instanceof DatabaseUnavailableError);
        assert.equal((error.cause as { code?: string }).code, '57014');
        return true;
      });
      await slow.execute(handle.longDb);
      // Ten at once take every connection the pool may hold, the one longDb used among them.
      const settings = await Promise.all(
        Array.from({ length: 10 }, () => sql<{ statement_timeout: string }>`show statement_timeout`.execute(handle.db)),
      );
      assert.deepEqual(new Set(settings.map((r) => r.rows[0]?.statement_timeout)), new Set(['1s']));
    } finally {
      await handle.close();
    }
  });
});

describe('database down at start-up', { skip }, () => {
  let proxy: TcpProxy;
  before(async () => {
    const target = new URL(testPostgresUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  });
  after(() => proxy?.close());

  it('retries for DB_STARTUP_TIMEOUT_MS, then fails with a clear error', async () => {
    proxy.cut();
    const { ms } = await timed(() =>
      assert.rejects(
        startTestServer({ env: { DATABASE_URL: proxiedUrl(proxy), DB_STARTUP_TIMEOUT_MS: '1500' } }),
        (error) => {
          assert.ok(error instanceof DatabaseStartupError);
          assert.match(
            error.message,
            /^database unreachable after \d+ attempt\(s\) in 1.5 s \(DB_STARTUP_TIMEOUT_MS\): \w+ ECONNRESET/,
          );
          return true;
        },
      ),
    );
    assert.ok(ms >= 1500 && ms < 10_000, `gave up after ${Math.round(ms)} ms`);
  });

  it('the server process exits 1, saying why, when the database stays away', async () => {
    proxy.cut();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'earshot-test-'));
    try {
      const child = spawn(process.execPath, [path.join(import.meta.dirname, '..', 'src', 'main.ts')], {
        env: {
          ...process.env,
          DATA_DIR: dataDir,
          PORT: '0',
          LOG_LEVEL: 'silent',
          DATABASE_URL: proxiedUrl(proxy),
          DB_STARTUP_TIMEOUT_MS: '500',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        stderr += text;
      });
      const [code] = await once(child, 'exit');
      assert.equal(code, 1);
      assert.match(
        stderr,
        /^earshot: database unreachable after \d+ attempt\(s\) in 0.5 s \(DB_STARTUP_TIMEOUT_MS\): /,
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('fails at once on what waiting cannot fix (no such database)', async () => {
    const url = new URL(testPostgresUrl);
    url.pathname = '/earshot_no_such_database';
    const { ms } = await timed(() =>
      assert.rejects(
        startTestServer({ env: { DATABASE_URL: url.toString(), DB_STARTUP_TIMEOUT_MS: '30000' } }),
        (error: { code?: string }) => error.code === '3D000',
      ),
    );
    assert.ok(ms < 10_000, `gave up after ${Math.round(ms)} ms`);
  });

  it('starts once the database comes back within DB_STARTUP_TIMEOUT_MS', async () => {
    proxy.cut();
    const starting = startTestServer({ env: { DATABASE_URL: proxiedUrl(proxy), DB_STARTUP_TIMEOUT_MS: '30000' } });
    setTimeout(() => proxy.restore(), 500);
    const server = await starting;
    try {
      assert.equal((await api(server, 'GET', '/readyz')).status, 200);
      await registerUser(server);
    } finally {
      await server.close();
    }
  });
});

/** The app's database module on its own, through the proxy, with the test's limits. */
function openTestHandle(proxy: TcpProxy) {
  return openDatabase(proxiedUrl(proxy), {
    limits: {
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
      longStatementTimeoutMs: 10_000,
      idleInTransactionTimeoutMs: 60_000,
    },
  });
}

/**
 * Holds an ACCESS EXCLUSIVE lock on the app's users table (from a connection of its own, not through
 * the proxy) while `work` runs; `waiters()` counts the sessions waiting for it.
 */
async function withTableLocked(schema: string, work: (waiters: () => Promise<number>) => Promise<void>) {
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  try {
    await admin.query('begin');
    await admin.query(`lock table ${schema}.users in access exclusive mode`);
    await work(async () => {
      const { rows } = await admin.query(
        `select count(*)::int as n from pg_locks where relation = '${schema}.users'::regclass and not granted`,
      );
      return rows[0].n as number;
    });
  } finally {
    await admin.query('rollback').catch(() => {});
    await admin.end();
  }
}
