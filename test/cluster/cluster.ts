/**
 * A real Earshot cluster on loopback for the cluster suites and bench/cluster.ts: N nodes, each the real
 * `src/main.ts` in its own process with its own data folder, sharing a fresh PostgreSQL database and a
 * fresh prefix of the S3-compatible server (scripts/s3-server.sh: Ceph radosgw), behind HAProxy from
 * Debian balancing round-robin with no stickiness. Nodes can be killed (SIGKILL, data folder gone),
 * restarted and added while the cluster runs.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { createBlobStore } from '../../src/storage/index.ts';
import { freePort } from '../../src/test-support/free-port.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ADMIN_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

export interface ClusterNode {
  readonly index: number;
  readonly id: string;
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  readonly running: boolean;
  /** The node's log (stdout and stderr), for a failing test's report. */
  readonly logFile: string;
}

export interface Cluster {
  /** The load balancer: what clients use. */
  url: string;
  wsUrl: string;
  nodes: ClusterNode[];
  /** Environment every node gets (database, storage, secret, …). */
  env: Record<string, string>;
  databaseUrl: string;
  store: BlobStore;
  /** Kills node `index` with `signal`; with `wipe`, its data folder goes too (the machine is gone). */
  kill(index: number, options?: { signal?: NodeJS.Signals; wipe?: boolean }): Promise<void>;
  /** Starts node `index` again (same id, port and data folder unless wiped). */
  start(index: number): Promise<void>;
  /** Stops everything and removes the database, the stored objects and the folders. */
  close(): Promise<void>;
}

export interface ClusterOptions {
  nodes?: number;
  /** Extra environment for every node. */
  env?: Record<string, string>;
  /** Reach the S3 server through this endpoint instead (a counting proxy in bench/cluster.ts). */
  s3Endpoint?: string;
}

/** A free TCP port on 127.0.0.1 (bound and released: another process could take it first, rarely). */

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The S3 server's settings (started when not running); what scripts/s3-server.sh prints. */
function s3Settings(): Record<string, string> {
  const started = spawnSync('bash', [path.join(ROOT, 'scripts/s3-server.sh'), 'start'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (started.status !== 0) throw new Error('scripts/s3-server.sh start failed');
  return Object.fromEntries([...started.stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map(([, k, v]) => [k!, v!]));
}

/** HAProxy: round-robin per request, no stickiness, quick health checks so a dead node leaves the pool. */
function haproxyConfig(port: number, statsPort: number, nodes: { id: string; port: number }[]): string {
  return [
    'global',
    // Two descriptors per proxied connection must fit the process's file limit.
    '  maxconn 8000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    // A node busy on a loaded machine may answer /readyz slowly; a dead one refuses at once.
    '  timeout check 2s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  timeout tunnel 1h',
    '  option http-server-close',
    '  retries 2',
    '  option redispatch',
    'frontend earshot',
    `  bind 127.0.0.1:${port}`,
    '  option forwardfor',
    '  default_backend nodes',
    'backend nodes',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    ...nodes.map((node) => `  server ${node.id} 127.0.0.1:${node.port} check inter 300 fall 2 rise 2`),
    // Which nodes the balancer counts as up (CSV at /stats;csv), so the tests wait for that, not a guess.
    'listen stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

const isRunning = (state: { proc?: ChildProcess | undefined }) =>
  !!state.proc && state.proc.exitCode === null && state.proc.signalCode === null;

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Whether the node answers /readyz with 200, itself (its id in x-earshot-node), not whatever took its port. */
const isNode = async (state: { id: string; port: number }) => {
  const res = await fetch(`http://127.0.0.1:${state.port}/readyz`, { signal: AbortSignal.timeout(1000) });
  return res.status === 200 && res.headers.get('x-earshot-node') === state.id;
};

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.nodes ?? 3;
  const dir = await mkdtemp(path.join(tmpdir(), 'earshot-cluster-'));
  const database = `earshot_c_${randomBytes(5).toString('hex')}`;
  await adminQuery(`create database ${database}`);
  const databaseUrl = (() => {
    const url = new URL(ADMIN_URL);
    url.pathname = `/${database}`;
    return url.toString();
  })();
  const s3 = s3Settings();
  // A prefix of its own in the shared bucket: clusters of different test files never see each other.
  let storageUrl = s3.STORAGE_URL!.replace(/^s3:\/\/([^/?]+)/, `s3://$1/${database}`);
  if (options.s3Endpoint) storageUrl = storageUrl.replace(/endpoint=[^&]+/, `endpoint=${options.s3Endpoint}`);
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    STORAGE_URL: storageUrl,
    AWS_ACCESS_KEY_ID: s3.AWS_ACCESS_KEY_ID!,
    AWS_SECRET_ACCESS_KEY: s3.AWS_SECRET_ACCESS_KEY!,
    JWT_SECRET: randomBytes(32).toString('hex'),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    MEDIA_WORKERS: '1',
    AUTH_RATE_LIMIT_PER_IP: '100000',
    TRUST_PROXY: '127.0.0.1',
    LEASE_TTL_MS: '3000',
    LIVE_COMMIT_INTERVAL_MS: '500',
    ...options.env,
  };
  const store = createBlobStore(loadConfig({ DATA_DIR: dir, ...env }).storage);

  type NodeState = { index: number; id: string; port: number; dataDir: string; logFile: string; proc?: ChildProcess };
  const states: NodeState[] = [];
  // Ids unique to this cluster, so a port that another cluster's node answers on is not taken for ours.
  const clusterTag = randomBytes(2).toString('hex');
  for (let index = 0; index < count; index++) {
    states.push({
      index,
      id: `node-${index + 1}-${clusterTag}`,
      port: await freePort(),
      dataDir: path.join(dir, `node-${index + 1}`),
      logFile: path.join(dir, `node-${index + 1}.log`),
    });
  }

  async function startNode(state: NodeState): Promise<void> {
    await mkdir(state.dataDir, { recursive: true });
    const log = createWriteStream(state.logFile, { flags: 'a' });
    const proc = spawn(process.execPath, [path.join(ROOT, 'src/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...env, PORT: String(state.port), DATA_DIR: state.dataDir, NODE_ID: state.id },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    state.proc = proc;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    await Promise.race([
      waitUntil(`${state.id} ready`, () => isNode(state), 60_000),
      exited.then(() => {
        throw new Error(`${state.id} exited at start; see ${state.logFile}`);
      }),
    ]);
  }

  async function stopNode(state: NodeState, signal: NodeJS.Signals): Promise<void> {
    const proc = state.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  }

  let lbPort = 0;
  let statsPort = 0;
  let haproxy: ChildProcess | undefined;
  async function tearDown(): Promise<void> {
    haproxy?.kill('SIGKILL');
    await Promise.all(states.map((state) => stopNode(state, 'SIGKILL')));
    if (process.env.EARSHOT_KEEP_CLUSTER) {
      await store.close();
      console.log(`cluster kept for a look: files in ${dir}, database ${database}, objects under ${storageUrl}`);
      return;
    }
    await store.deletePrefix('inputs/').catch(() => {});
    await store.deletePrefix('recordings/').catch(() => {});
    await store.close();
    await adminQuery(`drop database if exists ${database} with (force)`).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
  /** The nodes the balancer's health checks count as up. */
  async function poolUp(): Promise<Set<string>> {
    const csv = await (
      await fetch(`http://127.0.0.1:${statsPort}/stats;csv`, { signal: AbortSignal.timeout(1000) })
    ).text();
    const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n');
    const column = (name: string) => header!.split(',').indexOf(name);
    const [proxy, server, status] = [column('pxname'), column('svname'), column('status')];
    return new Set(
      rows
        .map((row) => row.split(','))
        .filter((cells) => cells[proxy] === 'nodes' && cells[status]!.startsWith('UP'))
        .map((cells) => cells[server]!),
    );
  }

  /** Until the balancer counts every running node as up; false if the balancer exited meanwhile. */
  async function poolReady(): Promise<boolean> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!isRunning({ proc: haproxy })) return false;
      const up = await poolUp().catch(() => new Set<string>());
      if (states.every((state) => !isRunning(state) || up.has(state.id))) return true;
      if (Date.now() > deadline) throw new Error('the balancer did not count every running node as up within 20 s');
      await sleep(100);
    }
  }

  try {
    await Promise.all(states.map(startNode));
    const configFile = path.join(dir, 'haproxy.cfg');
    // Ports found free may be taken by another process (another suite's node) before haproxy binds them:
    // haproxy then exits, and it is started again on other ports.
    for (let attempt = 1; ; attempt++) {
      [lbPort, statsPort] = [await freePort(), await freePort()];
      await writeFile(configFile, haproxyConfig(lbPort, statsPort, states));
      haproxy = spawn('haproxy', ['-f', configFile, '-db', '-q'], { stdio: ['ignore', 'ignore', 'inherit'] });
      if (await poolReady()) break;
      if (attempt === 3) throw new Error('haproxy exited at start three times');
    }
  } catch (error) {
    await tearDown();
    throw error;
  }

  const nodes: ClusterNode[] = states.map((state) => ({
    index: state.index,
    id: state.id,
    port: state.port,
    url: `http://127.0.0.1:${state.port}`,
    dataDir: state.dataDir,
    logFile: state.logFile,
    get running() {
      return isRunning(state);
    },
  }));

  const url = `http://127.0.0.1:${lbPort}`;
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    nodes,
    env,
    databaseUrl,
    store,
    async kill(index, { signal = 'SIGKILL', wipe = false } = {}) {
      const state = states[index]!;
      await stopNode(state, signal);
      if (wipe) await rm(state.dataDir, { recursive: true, force: true });
    },
    async start(index) {
      await startNode(states[index]!);
      if (!(await poolReady())) throw new Error('haproxy exited');
    },
    close: tearDown,
  };
}

/** Whether the Debian packages the cluster needs are here (.ci/run installs them). */
export const clusterToolsPresent = () => existsSync('/usr/sbin/haproxy') && existsSync('/usr/bin/radosgw');
