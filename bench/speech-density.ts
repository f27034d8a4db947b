/**
 * How few input bytes a second of real speech takes at the lowest settings of real encoders: the evidence
 * for MIN_BYTES_PER_SEC in src/media/audio-budget.ts. Run: `npx node bench/speech-density.ts` (needs the
 * ffmpeg/ffprobe CLIs and opusenc from opus-tools: the ffmpeg 5.1 CLI cannot switch on Opus DTX).
 * Results are printed and written into BENCHMARKS.md between the speech-density markers.
 *
 * For each encode: the average over the file; the sparsest 4 minutes (a long silence) as the demuxer
 * reads the file (ffprobe packet positions, so an MP4 index at the end is not counted, as in the engine);
 * the highest floor the file would pass with the engine's grace (min over t of bytes(t) / (t - grace));
 * and whether the engine accepts it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GRACE_SEC, MIN_BYTES_PER_SEC } from '../src/media/audio-budget.ts';
import { createMediaEngine } from '../src/media/index.ts';
import { writeMeetingWav } from '../src/media/test-helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench/out/density');
const WINDOW_SEC = 240;

/** Seconds of talk and silence, alternating, starting with talk (src/media/test-helpers.ts). */
const MATERIALS: Record<string, { what: string; segments: number[] }> = {
  meeting: {
    what: '15 min meeting, 3.5 min of talk, silences up to 5 min',
    segments: [60, 60, 60, 300, 30, 240, 60, 90],
  },
  muted: { what: '20 min, 15 s of talk then a muted microphone', segments: [15, 1185] },
  'quiet-start': { what: '15 min, 10 min of silence before anyone talks', segments: [0, 600, 300] },
};

const ff = (...args: string[]): void => {
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args]);
};
const opusenc = (wav: string, out: string, frameMs: number, dtx: boolean): void => {
  const ctl = dtx ? ['--set-ctl-int', '4016=1'] : []; // OPUS_SET_DTX_REQUEST
  execFileSync('opusenc', ['--quiet', '--bitrate', '6', '--framesize', String(frameMs), ...ctl, wav, out]);
};
const remux = (from: string, out: string, format: string): void => ff('-i', from, '-c', 'copy', '-f', format, out);

const ENCODES: Array<{ name: string; ext: string; encode: (wav: string, out: string) => void }> = [
  {
    name: 'MP3 8 kbps CBR, 8 kHz (libmp3lame)',
    ext: 'mp3',
    encode: (w, o) => ff('-i', w, '-ar', '8000', '-c:a', 'libmp3lame', '-b:a', '8k', o),
  },
  {
    name: 'Speex NB quality 0, VAD + DTX, Ogg (libspeex)',
    ext: 'spx.ogg',
    encode: (w, o) => ff('-i', w, '-ar', '8000', '-c:a', 'libspeex', '-cbr_quality', '0', '-vad', '1', '-dtx', '1', o),
  },
  {
    name: 'Opus 6 kbps, 20 ms, Ogg (ffmpeg libopus, no DTX)',
    ext: 'ff.ogg',
    encode: (w, o) => ff('-i', w, '-c:a', 'libopus', '-b:a', '6k', '-application', 'voip', o),
  },
  { name: 'Opus 6 kbps DTX, 20 ms, Ogg (opusenc)', ext: 'dtx20.ogg', encode: (w, o) => opusenc(w, o, 20, true) },
  {
    name: 'Opus 6 kbps DTX, 20 ms, WebM',
    ext: 'dtx20.webm',
    encode: (w, o) => {
      opusenc(w, `${o}.ogg`, 20, true);
      remux(`${o}.ogg`, o, 'webm');
    },
  },
  {
    name: 'Opus 6 kbps DTX, 20 ms, MP4',
    ext: 'dtx20.mp4',
    encode: (w, o) => {
      opusenc(w, `${o}.ogg`, 20, true);
      remux(`${o}.ogg`, o, 'mp4');
    },
  },
  { name: 'Opus 6 kbps DTX, 60 ms, Ogg (opusenc)', ext: 'dtx60.ogg', encode: (w, o) => opusenc(w, o, 60, true) },
  {
    name: 'Opus 6 kbps DTX, 60 ms, MP4',
    ext: 'dtx60.mp4',
    encode: (w, o) => {
      opusenc(w, `${o}.ogg`, 60, true);
      remux(`${o}.ogg`, o, 'mp4');
    },
  },
];

interface Density {
  seconds: number;
  average: number;
  sparsest: number;
  highestFloor: number;
}

/** Bytes read by the end of each packet of audio, from ffprobe's packet positions. */
function density(file: string): Density {
  const csv = execFileSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'packet=pts_time,duration_time,size,pos'].concat([
      '-of',
      'csv=p=0',
      file,
    ]),
    { encoding: 'utf8', maxBuffer: 1 << 28 },
  );
  const points: Array<[number, number]> = []; // [audio end time, bytes read]
  let bytes = 0;
  let start: number | undefined;
  for (const line of csv.trim().split('\n')) {
    const [pts, dur, size, pos] = line.split(',').map(Number) as [number, number, number, number];
    start ??= pts;
    if (pos >= 0) bytes = Math.max(bytes, pos + size);
    points.push([pts + (dur || 0) - start, bytes]);
  }
  const seconds = points.at(-1)?.[0] ?? 0;
  let sparsest = Number.POSITIVE_INFINITY;
  let highestFloor = Number.POSITIVE_INFINITY;
  for (let i = 0, j = 0; i < points.length; i++) {
    const [t, b] = points[i]!;
    if (t > GRACE_SEC) highestFloor = Math.min(highestFloor, b / (t - GRACE_SEC));
    while (j < points.length && points[j]![0] - t < WINDOW_SEC) j++;
    if (j < points.length) sparsest = Math.min(sparsest, (points[j]![1] - b) / (points[j]![0] - t));
  }
  return { seconds, average: statSync(file).size / seconds, sparsest, highestFloor };
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const engine = createMediaEngine({ workers: 2, jobTimeoutMs: 600_000, maxDurationSec: 6 * 3600, opusComplexity: 0 });
  const rows: string[] = [];
  try {
    for (const [material, { what, segments }] of Object.entries(MATERIALS)) {
      const wav = join(OUT, `${material}.wav`);
      if (!existsSync(wav)) writeMeetingWav(wav, segments);
      const results = await Promise.all(
        ENCODES.map(async ({ name, ext, encode }) => {
          const file = join(OUT, `${material}.${ext}`);
          if (!existsSync(file)) encode(wav, file);
          const d = density(file);
          const accepted = await engine.normalize(file, `${file}.out.ogg`).then(
            () => 'yes',
            (err: { code?: string }) => `no (${err.code})`,
          );
          return `| ${what} | ${name} | ${d.average.toFixed(0)} | ${d.sparsest.toFixed(0)} | ${d.highestFloor.toFixed(0)} | ${accepted} |`;
        }),
      );
      for (const row of results) console.log(row);
      rows.push(...results);
    }
  } finally {
    await engine.close();
  }
  writeReport(rows);
}

function writeReport(rows: string[]): void {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const ffmpeg = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' })
    .split('\n')[0]
    ?.replace(/ Copyright.*/, '');
  const opus = execFileSync('opusenc', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  const section = [
    '<!-- speech-density-bench:start -->',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (${cpu}), ${ffmpeg}, ${opus}. ` +
      `Speech: the espeak-ng fixture looped, silences digital. Bytes per second of audio; "sparsest ${WINDOW_SEC / 60} min" ` +
      `is the least dense stretch as the demuxer reads the file; "highest floor" is the largest bytes-per-second ` +
      `floor the whole file would pass after the engine's ${GRACE_SEC} s grace; "accepted" is the engine with its ` +
      `floor of ${MIN_BYTES_PER_SEC} B/s.`,
    '',
    `| Speech | Encoding | Average B/s | Sparsest ${WINDOW_SEC / 60} min, B/s | Highest floor, B/s | Accepted |`,
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Reproduce: `npx node bench/speech-density.ts`.',
    '<!-- speech-density-bench:end -->',
  ].join('\n');
  const path = join(ROOT, 'BENCHMARKS.md');
  const current = readFileSync(path, 'utf8');
  const re = /<!-- speech-density-bench:start -->[\s\S]*<!-- speech-density-bench:end -->/;
  writeFileSync(path, re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}\n`);
  console.log(`updated ${path}`);
}

await main();
