/**
 * Cost and quality of the live pipeline per libopus complexity, in one process (no IPC, no server):
 * the 300 s WebM/Opus speech input of bench/live.ts (48 kHz stereo, 64 kbps) goes through the media
 * worker's LiveSession, which reads the file itself and is advanced 250 ms of it at a time as if it were
 * a growing raw log (so only the worker's side of a live session is measured). Reports CPU time (user+sys, so a busy machine barely skews it)
 * per second of audio = % of one core per live session (least of REPEAT runs), the output bitrate, and the log-spectral
 * distance between the output and the input downmixed to 16 kHz mono by the ffmpeg CLI (speech frames
 * only; lower is closer, a crude but cheap quality signal).
 *
 *   npx node bench/live-encoder.ts            # complexities 10,8,5,3,1,0
 *   LEVELS=5,3 npx node bench/live-encoder.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LiveSession } from '../src/media/live-session.ts';

const INPUT = path.join(import.meta.dirname, 'out', 'live-speech-300s.webm');
if (!existsSync(INPUT)) throw new Error(`${INPUT} missing: run bench/live.ts once to make it`);
const SECONDS = 300;
const LEVELS = (process.env.LEVELS ?? '10,8,5,3,1,0').split(',').map(Number);
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
console.log('| complexity | CPU per audio second (% of a core per session) | output bitrate | log-spectral distance |');
console.log('| --- | --- | --- | --- |');
try {
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
} finally {
  rmSync(dir, { recursive: true, force: true });
}
