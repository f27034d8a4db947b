import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type App, buildApp } from '../src/app.ts';
import { type Config, loadConfig } from '../src/config.ts';

export { eventually } from '../src/test-support/eventually.ts';
export { freePort } from '../src/test-support/free-port.ts';

import type { BlobStore } from '../src/storage/blob-store.ts';
import { createBlobStore } from '../src/storage/index.ts';

/** Which database the integration suites run against; scripts/test.ts runs them once per dialect. */
export const testDialect = process.env.EARSHOT_TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
/** The PostgreSQL server the postgres suite uses (each test app gets its own schema in it). */
export const testPostgresUrl = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

export interface TestServer {
  app: App;
  config: Readonly<Config>;
  /** `http://127.0.0.1:<port>` of the real server listening on a loopback port. */
  url: string;
  /** `ws://127.0.0.1:<port>` */
  wsUrl: string;
  dataDir: string;
  /** Stops the server; the data folder and database stay so a test can start a server on them again. */
  stop(): Promise<void>;
  /** Stops the server and deletes its data folder and database schema. */
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Extra environment, e.g. `{ MAX_UPLOAD_BYTES: '1000' }`. */
  env?: Record<string, string>;
  /** Reuse the data folder (and PostgreSQL schema) of an earlier server: a restart. */
  reuse?: Pick<TestServer, 'dataDir'> & { schema?: string };
}

/** Starts the real app on 127.0.0.1:0 with its own temporary data folder and database. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer & { schema?: string }> {
  const dataDir = options.reuse?.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'earshot-test-')));
  let schema = options.reuse?.schema;
  if (testDialect === 'postgres' && !schema) {
    schema = `t_${randomBytes(6).toString('hex')}`;
    await adminQuery(`create schema ${schema}`);
  }
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    MEDIA_WORKERS: '2',
    // Suites register many users from 127.0.0.1; tests of the per-IP limit pass a lower value.
    AUTH_RATE_LIMIT_PER_IP: '100000',
    ...(testDialect === 'postgres' ? { DATABASE_URL: testPostgresUrl } : {}),
    ...options.env,
  });
  let app: App;
  try {
    app = await buildApp(config, { logger: false, ...(schema ? { dbSchema: schema } : {}) });
  } catch (error) {
    // A server that failed to start (tests of start-up failures) leaves nothing behind unless reused.
    if (!options.reuse) {
      await rm(dataDir, { recursive: true, force: true });
      if (schema) await adminQuery(`drop schema ${schema} cascade`);
    }
    throw error;
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('server has no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
  };
  return {
    app,
    config,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    dataDir,
    ...(schema ? { schema } : {}),
    stop,
    async close() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
      if (schema) await adminQuery(`drop schema ${schema} cascade`);
    },
  };
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: testPostgresUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** fetch against the test server with JSON in and out. */
export async function api(
  server: Pick<TestServer, 'url'>,
  method: string,
  route: string,
  options: { token?: string; json?: unknown; body?: RequestInit['body']; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  const response = await fetch(server.url + route, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed };
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  token: string;
  refreshToken: string;
  /** The user's personal organisation, created at registration. */
  orgId: string;
}

let userCounter = 0;

/** Registers a fresh user through the public API and logs in. */
export async function registerUser(server: Pick<TestServer, 'url'>, email?: string): Promise<TestUser> {
  userCounter += 1;
  const address = email ?? `user${userCounter}-${randomBytes(4).toString('hex')}@example.com`;
  const password = `correct horse ${randomBytes(6).toString('hex')}`;
  const registered = await api(server, 'POST', '/api/auth/register', { json: { email: address, password } });
  if (registered.status !== 201)
    throw new Error(`register failed: ${registered.status} ${JSON.stringify(registered.body)}`);
  const login = await api(server, 'POST', '/api/auth/login', { json: { email: address, password } });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
  const me = await api(server, 'GET', '/api/auth/me', { token: login.body.access_token });
  return {
    id: registered.body.id,
    email: address,
    password,
    token: login.body.access_token,
    refreshToken: login.body.refresh_token,
    orgId: me.body.personal_org_id,
  };
}

/** Polls a recording until it is `ready` or `failed` and returns it; throws after `timeoutMs`. */
export async function waitForRecording(
  server: Pick<TestServer, 'url'>,
  user: Pick<TestUser, 'token'>,
  id: string,
  timeoutMs = 30_000,
  onPoll: (recording: any) => void = () => {},
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api(server, 'GET', `/api/recordings/${id}`, { token: user.token });
    onPoll(res.body);
    if (res.status === 200 && (res.body.status === 'ready' || res.body.status === 'failed')) return res.body;
    if (Date.now() > deadline) throw new Error(`recording ${id} not finished: ${JSON.stringify(res.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The server's object store, opened from its configuration: what is stored, as the server sees it. */
export function storeOf(server: Pick<TestServer, 'config'> | { store: BlobStore }): BlobStore {
  return 'store' in server ? server.store : createBlobStore(server.config.storage);
}

/** The bytes stored under `prefix`, objects concatenated in key order (stream chunks, live segments). */
export async function storedBytes(
  server: Pick<TestServer, 'config'> | { store: BlobStore },
  prefix: string,
): Promise<Buffer> {
  const store = storeOf(server);
  const parts: Buffer[] = [];
  for (const object of await store.list(prefix)) {
    for await (const piece of await store.read(object.key)) parts.push(piece as Buffer);
  }
  return Buffer.concat(parts);
}

/** Makes `user` a member of `orgId` the way people join: `by` invites them and they accept with the token. */
export async function joinOrg(
  server: Pick<TestServer, 'url'>,
  by: Pick<TestUser, 'token'>,
  orgId: string,
  user: Pick<TestUser, 'token' | 'email'>,
  role: 'owner' | 'admin' | 'member',
): Promise<void> {
  const invited = await api(server, 'POST', `/api/orgs/${orgId}/invitations`, {
    token: by.token,
    json: { email: user.email, role },
  });
  if (invited.status !== 202) throw new Error(`invite failed: ${invited.status} ${JSON.stringify(invited.body)}`);
  const accepted = await api(server, 'POST', `/api/invitations/${invited.body.invitation.id}/accept`, {
    token: user.token,
    json: { token: invited.body.delivery.token },
  });
  if (accepted.status !== 200) throw new Error(`accept failed: ${accepted.status} ${JSON.stringify(accepted.body)}`);
}
