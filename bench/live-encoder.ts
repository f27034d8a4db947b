/**
 * Quality and cost of the live encoders. First (LEVELS) the server's live pipeline per libopus complexity,
 * in one process (no IPC, no server):
 * the 300 s WebM/Opus speech input of bench/live.ts (48 kHz stereo, 64 kbps) goes through the media
 * worker's LiveSession, which reads the file itself and is advanced 250 ms of it at a time as if it were
 * a growing raw log (so only the worker's side of a live session is measured). Reports CPU time (user+sys, so a busy machine barely skews it)
 * per second of audio = % of one core per live session (least of REPEAT runs), the output bitrate, and the log-spectral
 * distance between the output and the input downmixed to 16 kHz mono by the ffmpeg CLI (speech frames
 * only; lower is closer, a crude but cheap quality signal).
 *
 * Then (EDGE=1, the default) edge against server encoding, against the same source: the speech the inputs
 * were made from, at 16 kHz mono. Edge: Chromium's WebCodecs AudioEncoder with the page's settings
 * (@earshot/live-client opus-stream.ts, STORED_FORMAT_ENCODER) fed that PCM, its packets remuxed by the server's
 * Remuxer. Server: the live transcoder at LIVE_COMPLEXITY (default 3) fed the WebM a MediaRecorder sends
 * (two lossy generations, as today), and fed the same 16 kHz PCM (the encoders alone).
 *
 *   npx node bench/live-encoder.ts            # complexities 10,8,5,3,1,0, then edge vs server
 *   LEVELS=5,3 EDGE=0 npx node bench/live-encoder.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { framePacket, opusHeadFromEncoder, STORED_FORMAT_ENCODER } from '@earshot/live-client';
import type { PcmFormat } from '../src/media/input-format.ts';
import { LiveSession } from '../src/media/live-session.ts';
import { Remuxer } from '../src/media/remux/remuxer.ts';
import { longSpeech } from '../test/speech.ts';
import { edgeEncode } from './edge-encode.ts';

const SECONDS = 300;
// bench/live.ts's transcoded sessions' input (made on first use).
longSpeech({
  format: 'webm',
  seconds: SECONDS,
  channels: 2,
  bitrate: '64k',
  dir: path.join(import.meta.dirname, 'out'),
});
const INPUT = path.join(import.meta.dirname, 'out', `speech-${SECONDS}s-2ch-64k.webm`);
const LEVELS = (process.env.LEVELS ?? '10,8,5,3,1,0').split(',').filter(Boolean).map(Number);
const EDGE = process.env.EDGE !== '0';
const LIVE_COMPLEXITY = Number(process.env.LIVE_OPUS_COMPLEXITY ?? 3);
/** Runs per level; the least CPU counts (other load on the machine only ever adds). */
const REPEAT = Number(process.env.REPEAT ?? 3);
const bytes = readFileSync(INPUT);
const chunk = Math.round((bytes.length / SECONDS) * 0.25);
const dir = mkdtempSync(path.join(tmpdir(), 'earshot-encoder-'));

const pcm16k = (file: string): Int16Array => {
  const out = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1'], {
    maxBuffer: 1 << 30,
  });
  return new Int16Array(out.buffer, out.byteOffset, out.length >> 1);
};

const N = 512;
const HANN = Float64Array.from({ length: N }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N));
/** Power spectrum (bins 0..N/2) of a real frame, radix-2 FFT. */
function power(frame: Float64Array): Float64Array {
  const re = Float64Array.from(frame);
  const im = new Float64Array(N);
  for (let i = 1, j = 0; i < N; i++) {
    let bit = N >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) [re[i], re[j]] = [re[j] as number, re[i] as number];
  }
  for (let len = 2; len <= N; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    for (let i = 0; i < N; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(ang * k);
        const wi = Math.sin(ang * k);
        const a = i + k;
        const b = a + len / 2;
        const vr = (re[b] as number) * wr - (im[b] as number) * wi;
        const vi = (re[b] as number) * wi + (im[b] as number) * wr;
        re[b] = (re[a] as number) - vr;
        im[b] = (im[a] as number) - vi;
        re[a] = (re[a] as number) + vr;
        im[a] = (im[a] as number) + vi;
      }
    }
  }
  const p = new Float64Array(N / 2 + 1);
  for (let k = 0; k <= N / 2; k++) p[k] = (re[k] as number) ** 2 + (im[k] as number) ** 2;
  return p;
}

/** Mean log-spectral distance (dB) over the first 120 s, frames where the reference has speech. */
function lsd(ref: Int16Array, out: Int16Array): number {
  let sum = 0;
  let frames = 0;
  const a = new Float64Array(N);
  const b = new Float64Array(N);
  for (let f = 0; f + N < Math.min(120 * 16_000, ref.length, out.length); f += N / 2) {
    let energy = 0;
    for (let i = 0; i < N; i++) {
      const r = ref[f + i] as number;
      a[i] = r * (HANN[i] as number);
      b[i] = (out[f + i] as number) * (HANN[i] as number);
      energy += r * r;
    }
    if (energy < N * 300 * 300) continue;
    const pa = power(a);
    const pb = power(b);
    let d = 0;
    for (let k = 2; k <= N / 2; k++) d += (10 * Math.log10(((pa[k] as number) + 1e3) / ((pb[k] as number) + 1e3))) ** 2;
    sum += Math.sqrt(d / (N / 2 - 1));
    frames += 1;
  }
  return sum / frames;
}

const reference = pcm16k(INPUT);
try {
  if (LEVELS.length > 0) {
    console.log(
      '| complexity | CPU per audio second (% of a core per session) | output bitrate | log-spectral distance |',
    );
    console.log('| --- | --- | --- | --- |');
  }
  for (const complexity of LEVELS) {
    const out = path.join(dir, `c${complexity}.ogg`);
    let cpu = Number.POSITIVE_INFINITY;
    for (let run = 0; run < REPEAT; run++) {
      const session = new LiveSession(out, INPUT, 3600, { complexity });
      const t0 = process.cpuUsage();
      for (let i = chunk; i < bytes.length + chunk; i += chunk) await session.advance(Math.min(i, bytes.length));
      await session.finish();
      const used = process.cpuUsage(t0);
      cpu = Math.min(cpu, (used.user + used.system) / 1e6);
    }
    const kbps = (statSync(out).size * 8) / SECONDS / 1000;
    console.log(
      `| ${complexity} | ${((cpu / SECONDS) * 100).toFixed(2)}% | ${kbps.toFixed(1)} kbps | ${lsd(reference, pcm16k(out)).toFixed(2)} dB |`,
    );
  }
  if (EDGE) await edgeAgainstServer();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** The same 300 s of speech before any encoding: what every encoder here is judged against. */
function sourcePcm(): Buffer {
  return execFileSync(
    'ffmpeg',
    [
      ...[
        '-v',
        'error',
        '-stream_loop',
        '-1',
        '-i',
        path.join(import.meta.dirname, '..', 'test', 'fixtures', 'speech.wav'),
      ],
      ...['-t', String(SECONDS), '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1'],
    ],
    { maxBuffer: 1 << 30 },
  );
}

/** The live transcoder over an input file (a WebM, or raw PCM when `pcm` is given). */
async function transcode(input: string, out: string, pcm?: PcmFormat): Promise<void> {
  const session = new LiveSession(out, input, 3600, { complexity: LIVE_COMPLEXITY }, undefined, pcm);
  const size = statSync(input).size;
  const step = Math.round((size / SECONDS) * 0.25);
  for (let i = step; i < size + step; i += step) await session.advance(Math.min(i, size));
  await session.finish();
}

async function edgeAgainstServer(): Promise<void> {
  const source = sourcePcm();
  const samples = new Int16Array(source.buffer, source.byteOffset, source.length >> 1);
  const sourceFile = path.join(dir, 'source.s16le');
  writeFileSync(sourceFile, source);
  const rows: Array<[string, string]> = [];

  // Edge: Chromium's encoder, its packets remuxed as the server does for the page.
  const edge = await edgeEncode(source, STORED_FORMAT_ENCODER);
  const remuxer = new Remuxer('opus');
  remuxer.push(framePacket(opusHeadFromEncoder(edge.description, STORED_FORMAT_ENCODER.sampleRate)));
  for (const packet of edge.packets) remuxer.push(framePacket(packet));
  remuxer.end();
  const edgeFile = path.join(dir, 'edge.ogg');
  writeFileSync(edgeFile, Buffer.concat(remuxer.take()));
  if (remuxer.mismatch) throw new Error(`the edge encode is not the stored format: ${remuxer.mismatch}`);
  rows.push([
    `edge: WebCodecs AudioEncoder in ${edge.browser}, remuxed`,
    `${edge.encodeMs.toFixed(0)} ms to encode ${SECONDS} s in the page (${((edge.encodeMs / 1000 / SECONDS) * 100).toFixed(2)}% of a core)`,
  ]);
  // Server: what a MediaRecorder's WebM becomes today, and the transcoder on the same PCM as the edge.
  const fromWebm = path.join(dir, 'server-webm.ogg');
  await transcode(INPUT, fromWebm);
  rows.push([
    `server: live transcoder (complexity ${LIVE_COMPLEXITY}) from MediaRecorder-like WebM (48 kHz stereo 64 kbps)`,
    '',
  ]);
  const fromPcm = path.join(dir, 'server-pcm.ogg');
  await transcode(sourceFile, fromPcm, { codec: 'pcm_s16le', sampleRate: 16_000, channels: 1 });
  rows.push([`server: live transcoder (complexity ${LIVE_COMPLEXITY}) from the same 16 kHz PCM`, '']);

  console.log('\n| encoded by | output bitrate | log-spectral distance to the source | note |');
  console.log('| --- | --- | --- | --- |');
  for (const [[what, note], file] of rows.map((row, i) => [row, [edgeFile, fromWebm, fromPcm][i]!] as const)) {
    const kbps = (statSync(file).size * 8) / SECONDS / 1000;
    console.log(`| ${what} | ${kbps.toFixed(1)} kbps | ${lsd(samples, pcm16k(file)).toFixed(2)} dB | ${note} |`);
  }
}
