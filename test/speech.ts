/**
 * Longer speech material for tests and benchmarks, made from the committed fixture with the ffmpeg CLI
 * (a fixture generator, never used by the server) and cached on disk between runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const FIXTURES = path.join(import.meta.dirname, 'fixtures');

export interface SpeechOptions {
  format: 'webm' | 'ogg' | 'mp4';
  seconds: number;
  /** 2 for what a browser's MediaRecorder sends from a stereo source. */
  channels?: 1 | 2;
  bitrate?: string;
  dir?: string;
}

/** Opus speech of `seconds`, muxed as a browser or bot streams it (WebM live, Ogg, fragmented MP4). */
export function longSpeech(options: SpeechOptions): { bytes: Buffer; seconds: number } {
  const { format, seconds, channels = 1, bitrate = '32k' } = options;
  const dir = options.dir ?? path.join(tmpdir(), 'earshot-live-fixtures');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `speech-${seconds}s-${channels}ch-${bitrate}.${format}`);
  if (!existsSync(file)) {
    const muxer =
      format === 'mp4'
        ? ['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof']
        : format === 'webm'
          ? ['-f', 'webm', '-live', '1']
          : ['-f', 'ogg'];
    execFileSync('ffmpeg', [
      ...['-v', 'error', '-y', '-stream_loop', '-1', '-i', path.join(FIXTURES, 'speech.wav')],
      ...['-t', String(seconds), '-ac', String(channels), '-ar', '48000', '-c:a', 'libopus', '-b:a', bitrate],
      ...muxer,
      `${file}.tmp`,
    ]);
    renameSync(`${file}.tmp`, file);
  }
  return { bytes: readFileSync(file), seconds };
}

/** Seconds of audio a (possibly truncated) input decodes to, per the ffmpeg CLI. */
export function decodedSeconds(bytes: Buffer): number {
  const pcm = execFileSync(
    'ffmpeg',
    ['-v', 'quiet', '-i', 'pipe:0', '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1'],
    { input: bytes, maxBuffer: 1 << 30 },
  );
  return pcm.length / 32000;
}

/** The speech fixture's WAV repeated `copies` times (5 s each): a long upload, made in memory. */
export function longWav(copies: number): Buffer {
  const source = readFileSync(path.join(FIXTURES, 'speech.wav'));
  const dataAt = source.indexOf('data') + 8;
  const pcm = source.subarray(dataAt);
  const header = Buffer.from(source.subarray(0, dataAt));
  const total = pcm.length * copies;
  header.writeUInt32LE(36 + total, 4);
  header.writeUInt32LE(total, dataAt - 4);
  return Buffer.concat([header, ...Array.from({ length: copies }, () => pcm)]);
}
