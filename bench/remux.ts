import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { framePacket } from '@earshot/live-client';
import { LiveInput } from '../src/live/live-input.ts';
import { createMediaEngine } from '../src/media/index.ts';
import { OggOpusReader } from '../src/media/remux/ogg-reader.ts';
import { Remuxer } from '../src/media/remux/remuxer.ts';
import { opusSpeech, STORED_FORMAT_ARGS } from '../src/media/test-helpers.ts';
import { cpuSeconds } from './procfs.ts';

const SECONDS = 300;
const CHUNK_MS = 250;
const REPEAT = Number(process.env.REPEAT ?? 5);
const HOPS = Number(process.env.HOPS ?? 10_000);

const parts: Buffer[] = [];
let packets = 0;
new OggOpusReader().push(opusSpeech(STORED_FORMAT_ARGS, SECONDS), {
  head: (head) => parts.push(Buffer.from(framePacket(head))),
  packet: (packet) => {
    parts.push(Buffer.from(framePacket(packet)));
    packets += 1;
  },
});
const stream = Buffer.concat(parts);
const chunkBytes = Math.round((stream.length / SECONDS) * (CHUNK_MS / 1000));
const chunks = Array.from({ length: Math.ceil(stream.length / chunkBytes) }, (_, i) =>
  stream.subarray(i * chunkBytes, (i + 1) * chunkBytes),
);
const dir = mkdtempSync(path.join(tmpdir(), 'earshot-remux-bench-'));

const cpuMs = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

async function least(run: () => Promise<void> | void): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < REPEAT; i++) {
    const start = process.cpuUsage();
    await run();
    best = Math.min(best, cpuMs(start));
  }
  return best;
}

const remuxMs = await least(() => {
  const remuxer = new Remuxer('opus');
  for (const chunk of chunks) {
    remuxer.push(chunk);
    remuxer.take();
  }
  remuxer.end();
  remuxer.take();
});

const pace = { startedAtMs: Date.now() - SECONDS * 1000, slackSec: 30 };
let run = 0;
const liveInputMs = await least(async () => {
  const input = new LiveInput({
    format: { kind: 'opus' },
    remuxPath: path.join(dir, `remux-${run++}.ogg`),
    maxDurationSec: 3600,
    pace,
  });
  for (const chunk of chunks) input.push(chunk);
  input.end();
  await input.flushed();
  await input.close();
});

// The hop: a live session that has read everything it was told about answers at once.
const engine = createMediaEngine({ workers: 1, jobTimeoutMs: 60_000, maxDurationSec: 3600 });
const empty = path.join(dir, 'empty.input');
writeFileSync(empty, '');
const live = await engine.openLive(path.join(dir, 'hop.ogg'), empty);
const workerPid = engine.stats().workers[0]?.pid as number;
/** The worker's CPU time, in ms. */
const workerCpuMs = () => cpuSeconds(workerPid) * 1000;
for (let i = 0; i < 200; i++) await live.advance(0); // warm up
const hopStart = process.cpuUsage();
const workerStart = workerCpuMs();
const wallStart = performance.now();
for (let i = 0; i < HOPS; i++) await live.advance(0);
const hopApiMs = cpuMs(hopStart) / HOPS;
const hopWorkerMs = (workerCpuMs() - workerStart) / HOPS;
const hopWallMs = (performance.now() - wallStart) / HOPS;
await live.abort();
await engine.close();
rmSync(dir, { recursive: true, force: true });

const perSecond = (ms: number) => `${((ms / SECONDS / 1000) * 100).toFixed(4)}%`;
const chunksPerSecond = 1000 / CHUNK_MS;
console.log(
  `input: ${SECONDS} s, ${packets} packets, ${stream.length} bytes, ${chunks.length} chunks of ${CHUNK_MS} ms`,
);
console.log('| what | CPU per 300 s | per packet | per chunk | % of a core per session |');
console.log('| --- | --- | --- | --- | --- |');
const row = (what: string, ms: number) =>
  console.log(
    `| ${what} | ${ms.toFixed(1)} ms | ${((ms * 1000) / packets).toFixed(2)} µs | ${((ms * 1000) / chunks.length).toFixed(1)} µs | ${perSecond(ms)} |`,
  );
row('Remuxer (parse, check, page)', remuxMs);
row('LiveInput (the same, and the file writes)', liveInputMs);
const hopMs = (hopApiMs + hopWorkerMs) * chunks.length;
console.log(
  `| one IPC round trip per chunk (API ${(hopApiMs * 1000).toFixed(1)} µs + worker ${(hopWorkerMs * 1000).toFixed(1)} µs, ${(hopWallMs * 1000).toFixed(0)} µs wall) | ${hopMs.toFixed(1)} ms | — | ${((hopApiMs + hopWorkerMs) * 1000).toFixed(1)} µs | ${perSecond(hopMs)} |`,
);
console.log(`(${chunksPerSecond} chunks a second per session)`);
