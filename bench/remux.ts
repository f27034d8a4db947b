/**
 * Where should the remux run? Its cost in this (the API) process against one IPC round trip to a media
 * worker, which is what every chunk would cost if the remux ran there (live sessions already pay one per
 * chunk today: LiveTranscoder.advance). Both in CPU time (user+sys, so other load on the machine barely
 * skews it; least of REPEAT runs):
 * - the remux: 300 s of raw Opus in the stored format (libopus 16 kHz mono 24 kbps, framed as a client
 *   sends it) pushed through a Remuxer in 250 ms chunks, Ogg pages built; and through a LiveInput, which
 *   also writes the pages to a file as the live path does;
 * - the hop: LiveTranscoder.advance() to a live session in a media worker that has nothing new to read,
 *   so only the IPC is measured, in the API process and in the worker.
 *
 *   npx node bench/remux.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LiveInput } from '../src/live/live-input.ts';
import { createMediaEngine } from '../src/media/index.ts';
import { OggOpusReader } from '../src/media/remux/ogg-reader.ts';
import { Remuxer } from '../src/media/remux/remuxer.ts';
import { opusSpeech, STORED_FORMAT_ARGS } from '../src/media/test-helpers.ts';
import { framePacket } from '../web/src/opus-stream.ts';

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
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
/** The worker's utime + stime (/proc/<pid>/stat), in ms. */
const workerCpuMs = () => {
  const stat = readFileSync(`/proc/${workerPid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
};
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
