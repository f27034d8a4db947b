/** Shared helpers for the media engine tests (real files, real worker processes, no mocks). */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors.ts';

export const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
export const fixture = (name: string): string => join(FIXTURES, name);
export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'earshot-media-'));

/** A 16-bit PCM WAV of a warbling tone (speech-like enough for an encoder), generated in JS. */
export function writeToneWav(path: string, seconds: number, sampleRate = 16_000, channels = 1): void {
  const frames = Math.round(seconds * sampleRate);
  const data = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < frames; i++) {
    const t = i / sampleRate;
    const v = Math.round(8000 * Math.sin(2 * Math.PI * (300 + 100 * Math.sin(2 * Math.PI * 3 * t)) * t));
    for (let c = 0; c < channels; c++) data.writeInt16LE(v, (i * channels + c) * 2);
  }
  writeFileSync(path, wavFile(data, sampleRate, channels));
}

/** A PCM WAV file (44-byte header) around interleaved little-endian samples. */
export function wavFile(data: Buffer, sampleRate: number, channels = 1, bitsPerSample = 16): Buffer {
  const blockAlign = (channels * bitsPerSample) / 8;
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(bitsPerSample, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** The OpusHead "input sample rate" field of an Ogg/Opus file, read straight from the bytes. */
export function opusHeadInputRate(path: string): number {
  const bytes = readFileSync(path);
  const at = bytes.indexOf('OpusHead');
  if (at < 0) throw new Error(`${path}: no OpusHead`);
  return bytes.readUInt32LE(at + 12);
}

export async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof AppError)) throw new Error(`expected AppError ${code}, got ${String(err)}`);
    if (err.code !== code) throw new Error(`expected AppError ${code}, got ${err.code}: ${err.message}`);
    if (message && !message.test(err.message)) throw new Error(`message "${err.message}" does not match ${message}`);
    return err;
  }
  throw new Error(`expected AppError ${code}, but it succeeded`);
}

/**
 * A mono 16 kHz WAV of speech and digital silence: `segments` alternate between seconds of talk (the
 * 5 s speech fixture, looped) and seconds of silence, starting with talk. Like a meeting with long quiet
 * stretches, which low-bitrate encoders with DTX store in very few bytes.
 */
export function writeMeetingWav(path: string, segments: number[]): void {
  const src = readFileSync(fixture('speech.wav'));
  const at = src.indexOf('data');
  const speech = src.subarray(at + 8, at + 8 + src.readUInt32LE(at + 4));
  const parts: Buffer[] = [];
  segments.forEach((seconds, i) => {
    const bytes = Math.round(seconds * 16_000) * 2;
    if (i % 2 === 1) {
      parts.push(Buffer.alloc(bytes));
      return;
    }
    for (let n = 0; n < bytes; n += speech.length) parts.push(speech.subarray(0, Math.min(speech.length, bytes - n)));
  });
  writeFileSync(path, wavFile(Buffer.concat(parts), 16_000));
}

/**
 * The speech fixture encoded by the ffmpeg CLI's libopus into Ogg (a test input generator; the server
 * never runs ffmpeg), cached per settings. `args` are ffmpeg output options, e.g. ['-ac', '2'].
 */
export function opusSpeech(args: string[], seconds = 5): Buffer {
  const file = join(tmpdir(), `earshot-opus-${seconds}s-${args.join('_').replace(/[^\w.-]/g, '')}.ogg`);
  if (!existsSync(file)) {
    execFileSync('ffmpeg', [
      ...['-v', 'error', '-y', '-stream_loop', '-1', '-i', fixture('speech.wav'), '-t', String(seconds)],
      ...['-c:a', 'libopus', '-application', 'voip', '-frame_duration', '20', ...args],
      `${file}.tmp.ogg`,
    ]);
    renameSync(`${file}.tmp.ogg`, file);
  }
  return readFileSync(file);
}

/** The stored format's settings, as the transcoder encodes it. */
export const STORED_FORMAT_ARGS = ['-ac', '1', '-ar', '16000', '-b:a', '24k'];

/** Packets of an Ogg/Opus file as the ffprobe CLI sees them (an independent demuxer), with the OpusHead. */
export function probePackets(file: string): Buffer[] {
  const out = JSON.parse(
    execFileSync(
      'ffprobe',
      ['-v', 'error', '-select_streams', 'a:0', '-show_packets', '-show_data', '-of', 'json', file],
      { maxBuffer: 1 << 28 },
    ).toString(),
  ) as { packets: { data: string }[] };
  // ffprobe's hex dump: "00000000: 4881 7c86 ...  ascii" per 16 bytes.
  return out.packets.map(({ data }) =>
    Buffer.from(
      data
        .split('\n')
        .filter(Boolean)
        .map((line) => line.slice(10, 49).replace(/\s/g, ''))
        .join(''),
      'hex',
    ),
  );
}
