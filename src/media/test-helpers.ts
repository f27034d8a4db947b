/** Shared helpers for the media engine tests (real files, real worker processes, no mocks). */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([h, data]));
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
