/**
 * Cluster mode on this machine: one node against two (each the real src/main.ts with one media worker,
 * on PostgreSQL and radosgw, behind HAProxy; test/cluster/cluster.ts), in the same run:
 *
 * - uploads to ready per minute (K speech files uploaded at once through the balancer);
 * - live sessions held: S simulated browsers (@earshot/live-client, committed watermark on) streaming
 *   real WebM/Opus at real-time pace, ack and commit latency p50/p99, server CPU per session;
 * - the cost model: object-storage requests (counted by an HTTP proxy in front of radosgw) and database
 *   transactions (pg_stat_database) per recording-hour, and what 1,000 live recordings would need.
 *
 *   npx node bench/cluster.ts
 *   BENCH_LIVE_STEPS_1=50,100 BENCH_LIVE_STEPS_2=100,200 BENCH_SECONDS=30 npx node bench/cluster.ts
 *
 * Results go to the "Cluster mode" section of BENCHMARKS.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LiveRecordingClient } from '@earshot/live-client';
import pg from 'pg';
import { type Cluster, startCluster } from '../test/cluster/cluster.ts';
import { longSpeech, longWav } from '../test/speech.ts';
import { childrenOf, cpuSeconds } from './procfs.ts';

const ROOT = path.join(import.meta.dirname, '..');
const OUT = path.join(import.meta.dirname, 'out');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 12);
const LIVE_STEPS: Record<number, number[]> = {
  1: (process.env.BENCH_LIVE_STEPS_1 ?? '50,100,150').split(',').map(Number),
  2: (process.env.BENCH_LIVE_STEPS_2 ?? '100,150,200').split(',').map(Number),
};
const CHUNK_MS = 250;

// ---- counting object-storage requests: an HTTP/1.1 proxy in front of radosgw ----

interface S3Counts {
  total: number;
  byKind: Record<string, number>;
}

/** Forwards to radosgw and counts requests by kind (PUT object/part, GET, HEAD, LIST, DELETE, POST). */
async function s3CountingProxy(target: {
  host: string;
  port: number;
}): Promise<{ server: Server; port: number; counts: S3Counts }> {
  const counts: S3Counts = { total: 0, byKind: {} };
  const server = createServer((client) => {
    const upstream = tcpConnect(target.port, target.host);
    let buffer = Buffer.alloc(0);
    let bodyLeft = 0;
    client.on('data', (data: Buffer) => {
      upstream.write(data);
      buffer = Buffer.concat([buffer, data]);
      // Walk request heads; skip bodies by Content-Length (the SDK sends no chunked bodies here).
      for (;;) {
        if (bodyLeft > 0) {
          const skip = Math.min(bodyLeft, buffer.length);
          buffer = buffer.subarray(skip);
          bodyLeft -= skip;
          if (bodyLeft > 0) return;
        }
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1');
        buffer = buffer.subarray(end + 4);
        const [method = '', target = ''] = head.split(' ', 2);
        const kind =
          method === 'GET' && /[?&]list-type=|\?$/.test(target) && !/^\/[^/?]+\/.+/.test(target.split('?')[0]!)
            ? 'LIST'
            : method === 'PUT' && /partNumber=/.test(target)
              ? 'PUT part'
              : method;
        counts.total += 1;
        counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1;
        bodyLeft = Number(/\r\ncontent-length:\s*(\d+)/i.exec(`\r\n${head}`)?.[1] ?? 0);
      }
    });
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, counts };
}

const snapshot = (counts: S3Counts): S3Counts => ({ total: counts.total, byKind: { ...counts.byKind } });
function delta(after: S3Counts, before: S3Counts): S3Counts {
  const byKind: Record<string, number> = {};
  for (const [kind, n] of Object.entries(after.byKind)) byKind[kind] = n - (before.byKind[kind] ?? 0);
  return { total: after.total - before.total, byKind };
}

// ---- database transactions and CPU of the nodes ----

/** What a benchmark phase runs against: a cluster behind its balancer, or one embedded node. */
interface Target {
  url: string;
  wsUrl: string;
  /** Ports of the node processes (their CPU is measured with their media workers). */
  ports: number[];
  /** Database transactions so far (NaN where not measured: SQLite). */
  transactions(): Promise<number>;
}

const clusterTarget = (cluster: Cluster): Target => ({
  url: cluster.url,
  wsUrl: cluster.wsUrl,
  ports: cluster.nodes.map((node) => node.port),
  transactions: () => transactions(cluster),
});

async function transactions(cluster: Cluster): Promise<number> {
  // The statistics are reported with a delay of up to about half a second.
  await sleep(1000);
  const client = new pg.Client({ connectionString: cluster.databaseUrl });
  await client.connect();
  try {
    const database = new URL(cluster.databaseUrl).pathname.slice(1);
    const { rows } = await client.query(
      'select xact_commit + xact_rollback as n from pg_stat_database where datname = $1',
      [database],
    );
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

function pidsListening(ports: number[]): number[] {
  const out = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' });
  const pids = new Set<number>();
  for (const line of out.split('\n')) {
    if (!ports.some((port) => line.includes(`127.0.0.1:${port} `))) continue;
    for (const match of line.matchAll(/pid=(\d+)/g)) pids.add(Number(match[1]));
  }
  return [...pids];
}

/** CPU seconds of every node process and its media workers. */
function nodesCpu(target: Target): number {
  const nodes = pidsListening(target.ports);
  return nodes.flatMap((pid) => [pid, ...childrenOf(pid)]).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function json(url: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<any> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.body ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
  return res.json();
}

async function signUp(cluster: Target): Promise<{ token: string; orgId: string }> {
  const email = `bench-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  const password = 'a long enough passphrase 42';
  await json(`${cluster.url}/api/auth/register`, { method: 'POST', body: { email, password } });
  const { access_token: token } = await json(`${cluster.url}/api/auth/login`, {
    method: 'POST',
    body: { email, password },
  });
  const me = await json(`${cluster.url}/api/auth/me`, { token });
  return { token, orgId: me.personal_org_id };
}

async function waitReady(cluster: Target, token: string, ids: string[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(ids);
  let failed = 0;
  while (pending.size > 0 && Date.now() < deadline) {
    for (const id of [...pending]) {
      const recording = await json(`${cluster.url}/api/recordings/${id}`, { token });
      if (recording.status === 'ready') pending.delete(id);
      else if (recording.status === 'failed') {
        pending.delete(id);
        failed += 1;
      }
    }
    if (pending.size > 0) await sleep(250);
  }
  return failed + pending.size;
}

// ---- phase A: uploads to ready ----

interface UploadResult {
  nodes: number;
  uploads: number;
  seconds: number;
  perMinute: number;
  failed: number;
  s3PerUpload: number;
  txPerUpload: number;
}

async function uploadPhase(cluster: Target, counts: S3Counts, nodes: number): Promise<UploadResult> {
  const { token } = await signUp(cluster);
  const wav = longWav(6); // 30 s of speech
  const s3Before = snapshot(counts);
  const txBefore = await cluster.transactions();
  const started = performance.now();
  const ids = await Promise.all(
    Array.from({ length: UPLOADS }, async (_, i) => {
      const form = new FormData();
      form.set('file', new Blob([new Uint8Array(wav)]), `bench-${i}.wav`);
      const res = await fetch(`${cluster.url}/api/recordings/upload?wait=0`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: form,
      });
      return ((await res.json()) as { id: string }).id;
    }),
  );
  const failed = await waitReady(cluster, token, ids, 600_000);
  const seconds = (performance.now() - started) / 1000;
  const s3 = delta(snapshot(counts), s3Before);
  const tx = (await cluster.transactions()) - txBefore;
  return {
    nodes,
    uploads: UPLOADS,
    seconds,
    perMinute: (UPLOADS / seconds) * 60,
    failed,
    s3PerUpload: s3.total / UPLOADS,
    txPerUpload: tx / UPLOADS,
  };
}

// ---- phase B: live sessions ----

interface LiveResult {
  nodes: number;
  sessions: number;
  held: number;
  ackP50: number;
  ackP99: number;
  commitP50: number;
  commitP99: number;
  cpuPerSession: number;
  generatorCpuPerSession: number;
  /** While streaming, beyond the cluster's idle background: per session-hour. */
  putsPerSessionHour: number;
  s3PerSessionHour: number;
  txPerSessionHour: number;
  /** Start and finish of one recording (stop, final file, input removal). */
  s3PerRecording: number;
  txPerRecording: number;
}

/** What an idle cluster does on its own (job polling, lease renewals of periodic tasks): per second. */
interface Background {
  s3PerSec: number;
  txPerSec: number;
}

async function idlePhase(cluster: Target, counts: S3Counts, seconds = 15): Promise<Background> {
  const s3Before = snapshot(counts);
  const txBefore = await cluster.transactions();
  const started = performance.now();
  await sleep(seconds * 1000);
  const tx = (await cluster.transactions()) - txBefore;
  const wall = (performance.now() - started) / 1000;
  return { s3PerSec: delta(snapshot(counts), s3Before).total / wall, txPerSec: tx / wall };
}

async function livePhase(
  cluster: Target,
  counts: S3Counts,
  nodes: number,
  sessions: number,
  audio: Buffer,
  background: Background,
): Promise<LiveResult> {
  const { token, orgId } = await signUp(cluster);
  const bytesPerChunk = Math.ceil((audio.length / 300) * (CHUNK_MS / 1000));
  const acks: number[] = [];
  const commits: number[] = [];
  const clients = Array.from({ length: sessions }, (_, i) => {
    const sentAt: { end: number; at: number }[] = [];
    const latency = (bytes: number, into: number[]) => {
      while (sentAt.length > 0 && sentAt[0]!.end <= bytes) into.push(performance.now() - sentAt.shift()!.at);
    };
    const ackAt: { end: number; at: number }[] = [];
    const client = new LiveRecordingClient({
      url: `${cluster.wsUrl}/api/ws/record`,
      token,
      metadata: { name: `bench ${i}`, meeting_link: '', org_id: orgId },
      onEvent: (event) => {
        if (event.type === 'ack') latency(event.bytes, acks);
        if (event.type === 'committed') {
          while (ackAt.length > 0 && ackAt[0]!.end <= event.bytes) commits.push(performance.now() - ackAt.shift()!.at);
        }
      },
    });
    return { client, sentAt, ackAt };
  });
  await Promise.all(clients.map(({ client }) => client.start()));
  const cpuBefore = nodesCpu(cluster);
  const generatorBefore = process.cpuUsage();
  const s3Before = snapshot(counts);
  const txBefore = await cluster.transactions();
  const started = performance.now();
  const chunks = Math.floor((SECONDS * 1000) / CHUNK_MS);
  for (let n = 0; n < chunks; n++) {
    const due = started + n * CHUNK_MS;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    for (const session of clients) {
      const start = n * bytesPerChunk;
      const chunk = audio.subarray(start, start + bytesPerChunk);
      const at = performance.now();
      session.sentAt.push({ end: start + chunk.length, at });
      session.ackAt.push({ end: start + chunk.length, at });
      session.client.send(chunk);
    }
  }
  await sleep(1500);
  const wall = (performance.now() - started) / 1000;
  const cpu = nodesCpu(cluster) - cpuBefore;
  const generator = process.cpuUsage(generatorBefore);
  const s3Streaming = snapshot(counts);
  const txStreaming = await cluster.transactions();
  const saved = await Promise.allSettled(clients.map(({ client }) => client.stop()));
  const ids = saved.flatMap((result) => (result.status === 'fulfilled' ? [result.value.recordingId] : []));
  const notReady = await waitReady(cluster, token, ids, 600_000);
  const streamingS3 = delta(s3Streaming, s3Before);
  const streamingTx = txStreaming - txBefore;
  const finishS3 = delta(snapshot(counts), s3Streaming).total;
  const finishTx = (await cluster.transactions()) - txStreaming;
  const sessionHours = (sessions * wall) / 3600;
  const beyondIdle = (measured: number, perSec: number) => Math.max(0, measured - perSec * wall) / sessionHours;
  return {
    nodes,
    sessions,
    held: ids.length - notReady,
    ackP50: percentile(acks, 50),
    ackP99: percentile(acks, 99),
    commitP50: percentile(commits, 50),
    commitP99: percentile(commits, 99),
    cpuPerSession: cpu / wall / sessions,
    generatorCpuPerSession: (generator.user + generator.system) / 1e6 / wall / sessions,
    putsPerSessionHour: ((streamingS3.byKind.PUT ?? 0) + (streamingS3.byKind['PUT part'] ?? 0)) / sessionHours,
    s3PerSessionHour: beyondIdle(streamingS3.total, background.s3PerSec),
    txPerSessionHour: beyondIdle(streamingTx, background.txPerSec),
    s3PerRecording: finishS3 / sessions,
    txPerRecording: finishTx / sessions,
  };
}

/** One node as `npm start` runs it (SQLite, a local folder), in a process of its own. */
async function startEmbedded(env: Record<string, string>): Promise<{ target: Target; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'earshot-bench-embedded-'));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const child = spawn(process.execPath, [path.join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if ((await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200) break;
    if (i > 600) throw new Error('the embedded node did not start');
    await sleep(100);
  }
  return {
    target: { url, wsUrl: url.replace('http', 'ws'), ports: [port], transactions: async () => Number.NaN },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---- run ----

const s3Target = new URL(
  /endpoint=([^&]+)/.exec(
    String(execFileSync('bash', [path.join(ROOT, 'scripts/s3-server.sh'), 'start'], { encoding: 'utf8' })),
  )?.[1] ?? 'http://127.0.0.1:7480',
);
const proxy = await s3CountingProxy({ host: s3Target.hostname, port: Number(s3Target.port) });
const audio = longSpeech({ format: 'webm', seconds: 300, channels: 2, bitrate: '64k', dir: OUT }).bytes;
const uploads: UploadResult[] = [];
const live: LiveResult[] = [];
const idle: (Background & { nodes: number })[] = [];
const nodeEnv = {
  MEDIA_WORKERS: '1',
  LIVE_MAX_SESSIONS_PER_USER: '10000',
  PROCESSING_MAX_RUNNING_PER_USER: '64',
  PROCESSING_MAX_RUNNING_PER_ORG: '64',
  LIVE_COMMIT_INTERVAL_MS: '5000',
  LEASE_TTL_MS: '20000',
  LOG_LEVEL: 'error',
};

// The embedded default first (SQLite and a local folder, no balancer): what cluster mode costs per session.
const embedded = await startEmbedded(nodeEnv);
try {
  for (const sessions of LIVE_STEPS[1]!.slice(0, 1)) {
    live.push(await livePhase(embedded.target, proxy.counts, 0, sessions, audio, { s3PerSec: 0, txPerSec: 0 }));
    console.log(JSON.stringify(live.at(-1)));
  }
} finally {
  await embedded.stop();
}

for (const nodes of [1, 2]) {
  const cluster = await startCluster({
    nodes,
    s3Endpoint: `http://127.0.0.1:${proxy.port}`,
    env: nodeEnv,
  });
  try {
    const target = clusterTarget(cluster);
    const background = await idlePhase(target, proxy.counts);
    idle.push({ nodes, ...background });
    console.log(JSON.stringify(idle.at(-1)));
    uploads.push(await uploadPhase(target, proxy.counts, nodes));
    console.log(JSON.stringify(uploads.at(-1)));
    for (const sessions of LIVE_STEPS[nodes]!) {
      live.push(await livePhase(target, proxy.counts, nodes, sessions, audio, background));
      console.log(JSON.stringify(live.at(-1)));
    }
  } finally {
    await cluster.close();
  }
}
proxy.server.close();

const num = (x: number) => (Number.isFinite(x) ? String(Math.round(x)) : '–');
const held = (nodes: number) =>
  live.filter((r) => r.nodes === nodes && r.held === r.sessions && r.ackP99 < 500).at(-1)?.sessions ?? 0;
const reference = live.filter((r) => r.nodes > 0 && r.held === r.sessions).at(-1) ?? live.at(-1)!;
const ms = (x: number) => `${Math.round(x)} ms`;
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const cpuModel = `${cpus().length} × ${cpus()[0]?.model.trim()}`;
const section = `<!-- cluster-bench:start -->
Measured ${new Date().toISOString().slice(0, 10)} on this machine (${cpuModel}, load average before the run
${loadavg()[0]?.toFixed(1)}), Node ${process.version}: nodes are real \`src/main.ts\` processes with one media worker each,
PostgreSQL 15 and radosgw (Ceph 16, memstore) on the same machine, HAProxy round-robin in front, the load
generator in the same machine too (its own CPU is reported apart). Reproduce: \`npx node bench/cluster.ts\`.

**Uploads to ready** (${UPLOADS} uploads of 30 s of speech sent at once through the balancer):

| nodes | time to all ready | uploads/min | failed | S3 requests per upload | DB transactions per upload |
| --- | --- | --- | --- | --- | --- |
${uploads.map((r) => `| ${r.nodes} | ${r.seconds.toFixed(1)} s | ${r.perMinute.toFixed(1)} | ${r.failed} | ${r.s3PerUpload.toFixed(1)} | ${r.txPerUpload.toFixed(1)} |`).join('\n')}

**Live sessions** (WebM/Opus 48 kHz stereo 64 kbps at real-time pace in ${CHUNK_MS} ms chunks for ${SECONDS} s,
committed watermark on with LIVE_COMMIT_INTERVAL_MS=5000; held = every session saved and ready, ack p99 < 500 ms):

| nodes | sessions | held | ack p50 / p99 | commit p50 / p99 (from sending) | server CPU per session | generator CPU per session | S3 PUTs per session-hour | DB transactions per session-hour | per recording at start and finish: S3 requests / DB transactions |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${live.map((r) => `| ${r.nodes === 0 ? '1, embedded (SQLite, local folder)' : r.nodes} | ${r.sessions} | ${r.held} | ${ms(r.ackP50)} / ${ms(r.ackP99)} | ${ms(r.commitP50)} / ${ms(r.commitP99)} | ${pct(r.cpuPerSession)} | ${pct(r.generatorCpuPerSession)} | ${num(r.putsPerSessionHour)} | ${num(r.txPerSessionHour)} | ${r.s3PerRecording.toFixed(1)} / ${Number.isFinite(r.txPerRecording) ? r.txPerRecording.toFixed(1) : '–'} |`).join('\n')}

An idle cluster on its own (job polling, periodic tasks): ${idle.map((r) => `${r.nodes} node(s): ${r.txPerSec.toFixed(1)} DB transactions/s, ${r.s3PerSec.toFixed(2)} S3 requests/s`).join('; ')}; the per-session figures above are beyond that.

Sessions held within the criteria: ${held(1)} on one node, ${held(2)} on two (both on the same ${cpus().length} cores).

**Cost model** (from the run with ${reference.sessions} sessions on ${reference.nodes} node(s)): while recording, a live
recording-hour costs about ${Math.round(reference.putsPerSessionHour)} object-storage PUTs (one segment per commit interval) and
${Math.round(reference.txPerSessionHour)} database transactions (a lease renewal every LEASE_TTL_MS/3 and one per committed
segment); starting and finishing one costs ${reference.s3PerRecording.toFixed(0)} S3 requests and ${reference.txPerRecording.toFixed(0)} transactions more.
1,000 concurrent live recordings (an hour long on average) would therefore need about
${Math.round((reference.putsPerSessionHour * 1000) / 3600 + (reference.s3PerRecording * 1000) / 3600)} S3 requests/s and
${Math.round((reference.txPerSessionHour * 1000) / 3600 + (reference.txPerRecording * 1000) / 3600)} transactions/s, plus each node's idle background, and about
${(reference.cpuPerSession * 1000).toFixed(1)} cores of Earshot nodes at this input (transcoding in the node that holds each session).
<!-- cluster-bench:end -->`;

const file = path.join(ROOT, 'BENCHMARKS.md');
const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
const updated = /<!-- cluster-bench:start -->[\s\S]*<!-- cluster-bench:end -->/.test(current)
  ? current.replace(/<!-- cluster-bench:start -->[\s\S]*<!-- cluster-bench:end -->/, section)
  : `${current.trimEnd()}\n\n## Cluster mode\n\n${section}\n`;
writeFileSync(file, updated);
console.log(section);
