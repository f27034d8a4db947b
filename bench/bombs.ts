/**
 * Media bombs: how much media-worker time each hostile input costs before it is refused (or accepted).
 * Run: `npx node bench/bombs.ts` (needs the ffmpeg CLI). One media worker, the default 6 h limit. Worker
 * CPU is the worker process's utime+stime from /proc over the job; wall is the engine call's own time.
 * Results are printed and written into BENCHMARKS.md between the bombs markers.
 * BENCH_BOMBS=flac,live picks cases by name.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAppError } from '../src/errors.ts';
import { writeLowRateWav, writeOpusPacketBomb, writeSilentFlac } from '../src/media/bomb-inputs.ts';
import { createMediaEngine, type MediaEngineWithStats } from '../src/media/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench/out/bombs');
const MAX_DURATION_SEC = 6 * 3600;
const LIVE_CHUNK = 64 * 1024;

interface Bomb {
  name: string;
  what: string;
  make: (path: string) => void;
  ext: string;
  live?: boolean;
}

const BOMBS: Bomb[] = [
  {
    name: 'flac',
    what: 'FLAC, 7 h of silence, no declared length',
    ext: 'flac',
    make: (p) => writeSilentFlac(p, 7 * 3600),
  },
  {
    name: 'flac-declared',
    what: 'FLAC, 7 h of silence, length declared',
    ext: 'flac',
    make: (p) => writeSilentFlac(p, 7 * 3600, true),
  },
  { name: 'wav', what: 'WAV, 8-bit at 1 Hz, 5.6 h', ext: 'wav', make: (p) => writeLowRateWav(p, 20_000, 1) },
  {
    name: 'ogg',
    what: 'Ogg/Opus, 2-byte packets, 5.5 h',
    ext: 'ogg',
    make: (p) => writeOpusPacketBomb(p, 'ogg', 5.5 * 3600),
  },
  {
    name: 'webm',
    what: 'WebM/Opus, 2-byte packets, 5.5 h',
    ext: 'webm',
    make: (p) => writeOpusPacketBomb(p, 'webm', 5.5 * 3600),
  },
  {
    name: 'live',
    what: 'live WebM/Opus, 2-byte packets, 20 min sent at once',
    ext: 'webm',
    live: true,
    make: (p) => writeOpusPacketBomb(p, 'webm', 20 * 60),
  },
];

/** utime+stime of a process in seconds (/proc/<pid>/stat fields 14 and 15, in clock ticks of 1/100 s). */
function cpuSec(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Outcome {
  result: string;
  decodedSec: number | undefined;
}

async function runFile(engine: MediaEngineWithStats, input: string): Promise<Outcome> {
  try {
    const info = await engine.normalize(input, join(OUT, 'out.ogg'));
    return { result: 'accepted', decodedSec: info.durationSec };
  } catch (err) {
    return refused(err);
  }
}

/** As the live layer does: append to the raw log, then tell the worker how long it is; here as fast as possible. */
async function runLive(engine: MediaEngineWithStats, input: string): Promise<Outcome> {
  const data = readFileSync(input);
  const log = join(OUT, 'live.input');
  writeFileSync(log, '');
  const live = await engine.openLive(join(OUT, 'live.ogg'), log, { startedAtMs: Date.now(), slackSec: 30 });
  try {
    for (let i = 0; i < data.length; i += LIVE_CHUNK) {
      const chunk = data.subarray(i, i + LIVE_CHUNK);
      appendFileSync(log, chunk);
      await live.advance(i + chunk.length);
    }
    const info = await live.finish();
    return { result: 'accepted', decodedSec: info.durationSec };
  } catch (err) {
    await live.abort();
    return refused(err);
  }
}

function refused(err: unknown): Outcome {
  if (!isAppError(err)) throw err;
  const decoded = err.details?.decodedSec;
  return { result: err.code, decodedSec: typeof decoded === 'number' ? decoded : undefined };
}

/** Refusals without decodedSec in their details come before decoding (this code) or from older code. */
const duration = (sec: number | undefined): string =>
  sec === undefined ? '—' : sec >= 3600 ? `${(sec / 3600).toFixed(2)} h` : `${sec.toFixed(0)} s`;
const size = (bytes: number): string =>
  bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${Math.round(bytes / 1e3)} kB`;

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const only = process.env.BENCH_BOMBS?.split(',');
  const engine = createMediaEngine({ workers: 1, jobTimeoutMs: 3_600_000, maxDurationSec: MAX_DURATION_SEC });
  const rows: string[] = [];
  try {
    for (const bomb of BOMBS) {
      if (only && !only.includes(bomb.name)) continue;
      const input = join(OUT, `${bomb.name}.${bomb.ext}`);
      if (!existsSync(input)) bomb.make(input);
      // The worker is up and has loaded node-av before anything is timed.
      await engine.probe(join(ROOT, 'test/fixtures/speech.wav'));
      const pid = engine.stats().workers[0]?.pid;
      if (!pid) throw new Error('no media worker');
      const cpu0 = cpuSec(pid);
      const t0 = performance.now();
      const outcome = bomb.live ? await runLive(engine, input) : await runFile(engine, input);
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSec(pid) - cpu0;
      const row =
        `| ${bomb.what} | ${size(statSync(input).size)} | ${outcome.result} | ${duration(outcome.decodedSec)} | ` +
        `${cpu.toFixed(2)} s | ${wall.toFixed(2)} s |`;
      console.log(row);
      rows.push(row);
    }
  } finally {
    await engine.close();
  }
  if (!only) writeReport(rows);
}

function writeReport(rows: string[]): void {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const section = [
    '<!-- bombs-bench:start -->',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (${cpu}), Node ${process.version}, ` +
      'one media worker, `MAX_RECORDING_SECONDS` 6 h:',
    '',
    '| Input | Size | Result | Audio decoded | Worker CPU | Wall |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Reproduce: `npx node bench/bombs.ts` (`BENCH_BOMBS=flac,live` for some of them).',
    '<!-- bombs-bench:end -->',
  ].join('\n');
  const path = join(ROOT, 'BENCHMARKS.md');
  const current = readFileSync(path, 'utf8');
  const re = /<!-- bombs-bench:start -->[\s\S]*<!-- bombs-bench:end -->/;
  writeFileSync(path, re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}\n`);
  console.log(`updated ${path}`);
}

await main();
