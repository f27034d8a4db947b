/**
 * What one live recording's bytes are, and which way they become its file, decided in the API process as
 * the bytes arrive (each chunk right after it is appended to the raw log):
 *
 * - **remux**: the client already sends the stored format (raw Opus packets, or an Ogg or WebM stream of
 *   16 kHz mono Opus within the bitrate bound): its packets are copied into `remuxPath` as Ogg pages,
 *   with no media worker involved (src/media/remux/);
 * - **transcode**: anything else; a media worker reads the raw log (or, for raw Opus packets, which
 *   FFmpeg cannot read as they are, the Ogg file of them this module keeps writing) and transcodes it.
 *
 * A recording starts as remux when its format allows and turns to transcode at the first header or
 * packet that does not match; the transcoder then reads from the first byte, so no audio is lost.
 *
 * It also refuses what cannot be audio as early as the bytes allow (the error is thrown from push()): a
 * container stream whose first bytes are no accepted container, raw packets that break their framing,
 * and audio running ahead of real time, which raw formats measure exactly (PCM by its byte rate, Opus
 * by each packet's duration) without a media worker.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { AppError } from '../errors.ts';
import { AudioBudget, type LivePace } from '../media/audio-budget.ts';
import { type InputFormat, pcmBytesPerSecond } from '../media/input-format.ts';
import { Remuxer } from '../media/remux/remuxer.ts';
import { SNIFF_BYTES, sniffContainer } from '../media/remux/sniff.ts';
import type { AudioInfo } from '../media/types.ts';

export type Pipeline = 'pending' | 'remux' | 'transcode';

/** Remuxed pages are written in batches this large (a few seconds of audio): fewer writes per session. */
const WRITE_BATCH_BYTES = 32 * 1024;

export interface LiveInputOptions {
  format: InputFormat;
  /** The remuxed file (or the Ogg of raw Opus packets to transcode). Created (emptied) at the first page. */
  remuxPath: string;
  maxDurationSec: number;
  pace: LivePace;
}

export class LiveInput {
  readonly format: InputFormat;
  #options: LiveInputOptions;
  #remuxer: Remuxer | null = null;
  /** A container stream's first bytes, until they say which container it is. */
  #head: Buffer | null = null;
  #pipeline: Pipeline;
  #bytes = 0;
  #pcmBudget: AudioBudget | null = null;
  #file: Promise<FileHandle> | null = null;
  #queued: Buffer[] = [];
  #queuedBytes = 0;
  #writes: Promise<void> = Promise.resolve();
  #written = 0;
  #writeError: unknown;

  constructor(options: LiveInputOptions) {
    this.#options = options;
    this.format = options.format;
    const budget = () => new AudioBudget(options.maxDurationSec, () => this.#bytes, options.pace);
    switch (options.format.kind) {
      case 'container':
        this.#head = Buffer.alloc(0);
        this.#pipeline = 'pending';
        break;
      case 'opus':
        this.#remuxer = new Remuxer('opus', budget());
        this.#pipeline = 'remux';
        break;
      case 'pcm':
        this.#pcmBudget = budget();
        this.#pipeline = 'transcode';
        break;
    }
  }

  get pipeline(): Pipeline {
    return this.#pipeline;
  }

  /** Why the recording is transcoded although its format could have been remuxed, if it is. */
  get mismatch(): string | null {
    return this.#remuxer?.mismatch ?? null;
  }

  /** Whether the bytes so far are known to be what the format says (the fail-fast timer's question). */
  get recognised(): boolean {
    if (this.format.kind === 'container') return this.#head === null;
    if (this.format.kind === 'opus') return this.#remuxer?.headRead ?? false;
    return true;
  }

  /** What a transcoder reads: the raw log, or the Ogg file of raw Opus packets this module writes. */
  get transcodeSource(): 'raw-log' | 'remux-file' {
    return this.format.kind === 'opus' ? 'remux-file' : 'raw-log';
  }

  /** The next bytes of the stream, in order; throws an AppError when the stream is refused. */
  push(chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (this.#pcmBudget && this.format.kind === 'pcm') {
      this.#pcmBudget.check(this.#bytes / pcmBytesPerSecond(this.format));
      return;
    }
    if (this.#head) {
      // Undecided: every earlier byte is in #head (fewer than SNIFF_BYTES decide nothing).
      const earlier = this.#head;
      this.#head = Buffer.concat([earlier, chunk.subarray(0, SNIFF_BYTES)]);
      if (!this.#sniff(false)) return;
      if (earlier.length > 0) this.#remuxer?.push(earlier);
    }
    if (!this.#remuxer?.writing) return;
    this.#remuxer.push(chunk);
    this.#afterPush();
  }

  /** The end of the stream: the last decision (it may still turn to transcode), or a refusal. */
  end(): void {
    if (this.#head) {
      const earlier = this.#head;
      this.#sniff(true);
      this.#remuxer?.push(earlier);
    }
    if (!this.#remuxer?.writing) return;
    this.#remuxer.end();
    this.#afterPush();
  }

  /** Writes everything produced so far; resolves with the file's length (rejects if a write failed). */
  async flushed(): Promise<number> {
    this.#write();
    await this.#writes;
    if (this.#writeError !== undefined) throw this.#writeError;
    return this.#written;
  }

  /** Facts of the remuxed file (after end() and flushed(), when the pipeline is remux). */
  info(): AudioInfo {
    if (!this.#remuxer || this.#pipeline !== 'remux') throw new Error('not a remuxed recording');
    return this.#remuxer.info();
  }

  async close(): Promise<void> {
    await this.#writes;
    await (await this.#file?.catch(() => null))?.close().catch(() => {});
    this.#file = null;
  }

  /**
   * Decides the container from the first bytes (all of them when `final`): Ogg and WebM may be remuxed,
   * MP4 is transcoded, anything else refused. True when a remuxer now reads the stream.
   */
  #sniff(final: boolean): boolean {
    const container = sniffContainer(this.#head as Buffer);
    if (container === 'more' && !final) return false;
    if (container === null || container === 'more') {
      throw new AppError(
        'invalid_media',
        'could not recognise the live stream (expected WebM, Ogg or MP4 audio, or a declared "format")',
      );
    }
    this.#head = null;
    if (container === 'mp4') {
      this.#pipeline = 'transcode';
      return false;
    }
    const budget = new AudioBudget(this.#options.maxDurationSec, () => this.#bytes, this.#options.pace);
    this.#remuxer = new Remuxer(container, budget);
    this.#pipeline = 'remux';
    return true;
  }

  #afterPush(): void {
    const remuxer = this.#remuxer as Remuxer;
    if (remuxer.mismatch !== null) this.#pipeline = 'transcode';
    for (const page of remuxer.take()) {
      this.#queued.push(page);
      this.#queuedBytes += page.length;
    }
    // Raw Opus being transcoded: the worker reads these pages, so they go to disk with every chunk.
    if (this.#queuedBytes >= WRITE_BATCH_BYTES || (this.#pipeline === 'transcode' && this.#queuedBytes > 0)) {
      this.#write();
    }
  }

  #write(): void {
    if (this.#queuedBytes === 0) return;
    const batch = Buffer.concat(this.#queued);
    this.#queued = [];
    this.#queuedBytes = 0;
    this.#file ??= open(this.#options.remuxPath, 'w');
    const file = this.#file;
    this.#writes = this.#writes.then(async () => {
      if (this.#writeError !== undefined) return;
      try {
        const handle = await file;
        for (let at = 0; at < batch.length; ) at += (await handle.write(batch, at)).bytesWritten;
        this.#written += batch.length;
      } catch (error) {
        this.#writeError = error;
      }
    });
  }
}
