/**
 * The remux path for a whole file: what a processing job does with a live recording's (or a stream's)
 * input when it has no live result to use, so a recording gets the same pipeline whichever node or job
 * finishes it. Either the file is remuxed, or the answer says what the transcoder should read instead.
 */
import { open, rm } from 'node:fs/promises';
import { AudioBudget } from '../audio-budget.ts';
import type { AudioInfo } from '../types.ts';
import { Remuxer, type RemuxSource } from './remuxer.ts';
import { sniffContainer } from './sniff.ts';

export type RemuxOutcome =
  | { pipeline: 'remux'; info: AudioInfo }
  /** `input`: the file to transcode (for raw packets, `output` now holds them in Ogg). */
  | { pipeline: 'transcode'; reason: string; input: string };

const READ_BYTES = 64 * 1024;

/** The remux source of a container stream from its first bytes (Ogg and WebM can be remuxed; MP4 cannot). */
export function containerSource(head: Uint8Array): RemuxSource | null {
  const container = sniffContainer(head);
  return container === 'ogg' || container === 'webm' ? container : null;
}

/**
 * Remuxes `input` into `output` if it is the stored format already. `source` null: a container, found
 * from its first bytes. Throws an AppError when the input is refused (raw packets not framed as
 * documented, more audio than `maxDurationSec`, or than its bytes can carry).
 */
export async function remuxFile(
  input: string,
  output: string,
  source: 'opus' | null,
  maxDurationSec: number,
): Promise<RemuxOutcome> {
  const file = await open(input, 'r');
  let remuxer: Remuxer;
  try {
    // A fresh buffer for every read: packets are views of the chunks they came in.
    const read = async () => {
      const chunk = Buffer.allocUnsafe(READ_BYTES);
      const { bytesRead } = await file.read(chunk, 0, READ_BYTES, null);
      return chunk.subarray(0, bytesRead);
    };
    let chunk = await read();
    const kind = source ?? containerSource(chunk);
    if (!kind) return { pipeline: 'transcode', reason: 'not an Ogg or WebM stream', input };
    const budget = new AudioBudget(maxDurationSec, () => remuxer.bytesIn);
    remuxer = new Remuxer(kind, budget);
    const out = await open(output, 'w');
    try {
      for (; chunk.length > 0 && remuxer.writing; chunk = await read()) {
        remuxer.push(chunk);
        for (const page of remuxer.take()) await out.write(page);
      }
      remuxer.end();
      for (const page of remuxer.take()) await out.write(page);
    } finally {
      await out.close();
    }
  } finally {
    await file.close();
  }
  if (remuxer.mismatch !== null) {
    if (remuxer.source === 'opus') return { pipeline: 'transcode', reason: remuxer.mismatch, input: output };
    await rm(output, { force: true });
    return { pipeline: 'transcode', reason: remuxer.mismatch, input };
  }
  return { pipeline: 'remux', info: remuxer.info() };
}
