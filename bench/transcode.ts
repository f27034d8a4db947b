/**
 * Normalisation speed: Earshot's media engine (node-av in a worker process) against the Debian ffmpeg
 * CLI doing the same conversion on the same file. Run: `npx node bench/transcode.ts` (needs espeak-ng,
 * sox, ffmpeg). Inputs go to bench/out/ (gitignored); results are printed and written into
 * BENCHMARKS.md between the transcode markers. BENCH_RUNS overrides the runs per case (default 3).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMediaEngine } from '../src/media/index.ts';
import { ffmpegOpusArgs } from './ffmpeg-baseline.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench/out');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });

interface Case {
  name: string;
  file: string;
  seconds: number;
}

/** Speech from espeak-ng, looped with sox to the wanted length (48 kHz mono 16-bit WAV). */
function makeInputs(): Case[] {
  mkdirSync(OUT, { recursive: true });
  const base = join(OUT, 'speech-base.wav');
  if (!existsSync(base)) {
    const text =
      'Good morning everyone, thanks for joining. Let us go through the agenda: the release plan, ' +
      'the open incidents from last week, and the hiring update. First, the release is on track for Thursday.';
    sh('espeak-ng', ['-s', '160', '-w', join(OUT, 'espeak.wav'), text]);
    sh('sox', [join(OUT, 'espeak.wav'), '-r', '48000', '-c', '1', '-b', '16', base, 'pad', '0', '0.5']);
  }
  const baseSec = Number(sh('soxi', ['-D', base]));
  const cases: Case[] = [];
  for (const [name, seconds] of [
    ['10 s', 10],
    ['10 min', 600],
    ['1 h', 3600],
  ] as const) {
    const file = join(OUT, `speech-${seconds}s.wav`);
    if (!existsSync(file)) {
      const repeats = Math.ceil(seconds / baseSec);
      sh('sox', [base, file, 'repeat', String(repeats), 'trim', '0', String(seconds)]);
    }
    cases.push({ name: `WAV 48 kHz mono, ${name}`, file, seconds });
  }
  // What a browser uploads: WebM/Opus 48 kHz stereo.
  const webm = join(OUT, 'speech-600s.webm');
  if (!existsSync(webm)) {
    sh('ffmpeg', [
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      '-i',
      join(OUT, 'speech-600s.wav'),
      '-ac',
      '2',
      '-c:a',
      'libopus',
      '-b:a',
      '64k',
      webm,
    ]);
  }
  cases.splice(2, 0, { name: 'WebM/Opus 48 kHz stereo, 10 min', file: webm, seconds: 600 });
  return cases;
}

function runCli(input: string, output: string): number {
  const t = performance.now();
  // libopus's default complexity (10) is what the engine uses for files (OPUS_COMPLEXITY).
  const r = spawnSync('ffmpeg', ffmpegOpusArgs(input, output, 10));
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
  return performance.now() - t;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

async function main(): Promise<void> {
  const cases = makeInputs();
  const engine = createMediaEngine({ workers: 1, jobTimeoutMs: 3_600_000, maxDurationSec: 5 * 3600 });
  await engine.probe(cases[0]!.file); // worker started and node-av loaded before timing
  const rows: string[] = [];
  for (const c of cases) {
    const cli: number[] = [];
    const nodeav: number[] = [];
    const runs = c.seconds >= 3600 ? Math.min(RUNS, 2) : c.seconds <= 10 ? Math.max(RUNS, 5) : RUNS;
    for (let i = 0; i < runs; i++) {
      // Alternate the two so background load on a shared machine hits both alike.
      cli.push(runCli(c.file, join(OUT, 'cli.ogg')));
      const t = performance.now();
      await engine.normalize(c.file, join(OUT, 'nodeav.ogg'));
      nodeav.push(performance.now() - t);
    }
    const [mc, mn] = [median(cli), median(nodeav)];
    const row = `| ${c.name} | ${fmt(mc)} | ${fmt(mn)} | ${(mn / mc).toFixed(2)} | ${Math.round((c.seconds * 1000) / mn)}x |`;
    console.log(row);
    rows.push(row);
  }
  await engine.close();
  writeReport(rows);
}

function writeReport(rows: string[]): void {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const ffmpegVersion = sh('ffmpeg', ['-version'])
    .split('\n')[0]
    ?.replace(/ Copyright.*/, '');
  const section = [
    '<!-- transcode-bench:start -->',
    '## Normalisation: node-av media engine vs ffmpeg CLI',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (${cpu}), Node ${process.version}, ` +
      `${ffmpegVersion} (CLI) vs node-av's bundled FFmpeg 8.1. Median wall time of ${RUNS} runs (5 for 10 s, 2 for 1 h), ` +
      'same input file, same output settings (Ogg/Opus 16 kHz mono 24 kbps, application voip). The engine time ' +
      'is a full `engine.normalize()` call including the worker IPC and the probe of the output; the CLI time ' +
      'includes process start. Ratio = engine / CLI (below 1.0 means the engine is faster).',
    '',
    '| Input | ffmpeg CLI | node-av engine | Ratio | Engine speed |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Reproduce: `npx node bench/transcode.ts`.',
    '<!-- transcode-bench:end -->',
  ].join('\n');
  const path = join(ROOT, 'BENCHMARKS.md');
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const re = /<!-- transcode-bench:start -->[\s\S]*<!-- transcode-bench:end -->/;
  writeFileSync(path, re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}\n`);
  console.log(`updated ${path}`);
}

await main();
