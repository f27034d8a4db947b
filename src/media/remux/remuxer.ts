/**
 * The remux path: Opus packets a client sends, copied into Ogg/Opus with no decode and no encode. Bytes
 * go in as they arrive (framed packets, or an Ogg or WebM stream); each packet is checked against the
 * stored format (stored-format.ts) and paged (ogg-opus-writer.ts); Ogg pages come out. Pure computation,
 * a few microseconds per packet, so it runs in the API process (BENCHMARKS.md, "Live formats").
 *
 * The first packet or header that is not the stored format sets `mismatch`: the recording must be
 * transcoded. From a container (Ogg, WebM) the transcoder then reads the client's bytes itself and this
 * remuxer stops. Raw packets have no container FFmpeg could read, so for them it carries on, writing the
 * client's packets under the client's own OpusHead: an Ogg file that is then the transcoder's input.
 */
import { AppError } from '../../errors.ts';
import type { AudioBudget } from '../audio-budget.ts';
import { OUTPUT_SAMPLE_RATE } from '../opus-writer.ts';
import type { AudioInfo } from '../types.ts';
import { FramedOpusReader } from './framed-reader.ts';
import { OggOpusWriter } from './ogg-opus-writer.ts';
import { OggOpusReader } from './ogg-reader.ts';
import { OPUS_RATE, opusHead, opusTags, parseOpusHead, parsePacket } from './opus.ts';
import type { PacketReader } from './packet-reader.ts';
import { StreamError } from './packet-reader.ts';
import { headMismatch, PacketRules } from './stored-format.ts';
import { WebmOpusReader } from './webm-reader.ts';

/** What the bytes are: raw framed packets (`"format": "opus"`), or a container recognised as one of these. */
export type RemuxSource = 'opus' | 'ogg' | 'webm';

const VENDOR = 'Earshot remux';

export class Remuxer {
  readonly source: RemuxSource;
  #reader: PacketReader;
  #rules = new PacketRules();
  #writer = new OggOpusWriter();
  #budget: AudioBudget | undefined;
  #preSkip = 0;
  #sawHead = false;
  #mismatch: string | null = null;
  #pages: Buffer[] = [];
  #bytesIn = 0;
  #outputBytes = 0;
  #packets = 0;
  #ended = false;

  /** `budget`: the bounds on audio per input byte and (live) per second of wall time (audio-budget.ts). */
  constructor(source: RemuxSource, budget?: AudioBudget) {
    this.source = source;
    this.#budget = budget;
    this.#reader =
      source === 'opus' ? new FramedOpusReader() : source === 'ogg' ? new OggOpusReader() : new WebmOpusReader();
  }

  /** Why the stream must be transcoded, or null while it can be remuxed. */
  get mismatch(): string | null {
    return this.#mismatch;
  }

  /** Whether push() still produces pages (false once a container stream turned out not to match). */
  get writing(): boolean {
    return this.#mismatch === null || this.source === 'opus';
  }

  /** Whether the OpusHead has been read (a raw Opus stream is recognised then). */
  get headRead(): boolean {
    return this.#sawHead;
  }

  /** Input bytes pushed so far (the budget's measure). */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /**
   * Reads the next bytes. Throws an AppError when the client's stream is refused: raw packets that are
   * not framed as documented, or audio past the budget.
   */
  push(chunk: Uint8Array): void {
    if (!this.writing) return;
    this.#bytesIn += chunk.length;
    try {
      this.#reader.push(chunk, {
        head: (bytes) => this.#head(bytes),
        packet: (bytes) => this.#packet(bytes),
      });
    } catch (error) {
      if (!(error instanceof StreamError)) throw error;
      if (this.source === 'opus') throw new AppError('invalid_media', `raw Opus stream: ${error.message}`);
      this.#mismatched(error.message);
    }
  }

  /** Ogg pages completed since the last call, in order. */
  take(): Buffer[] {
    const pages = this.#pages;
    this.#pages = [];
    return pages;
  }

  /**
   * The end of the stream: judges what is left and completes the Ogg stream (take() the last page).
   * Throws an AppError when raw packets held no audio at all.
   */
  end(): void {
    if (this.#ended || !this.writing) return;
    this.#ended = true;
    if (!this.#sawHead || this.#packets === 0) {
      const what = this.#sawHead ? 'no audio packet' : 'no OpusHead';
      if (this.source === 'opus') throw new AppError('invalid_media', `raw Opus stream with ${what}`);
      this.#mismatched(what);
      return;
    }
    if (this.#mismatch === null) {
      const over = this.#rules.end();
      if (over) this.#mismatched(over);
    }
    this.#emit(this.#writer.end());
  }

  /** Facts of the remuxed file (call after end(), when there was no mismatch). */
  info(): AudioInfo {
    const durationSec = Math.max(0, this.#writer.samples - this.#preSkip) / OPUS_RATE;
    return {
      container: 'ogg',
      codec: 'opus',
      sampleRate: OUTPUT_SAMPLE_RATE,
      channels: 1,
      durationSec,
      bitrate: durationSec > 0 ? (this.#outputBytes * 8) / durationSec : 0,
      sizeBytes: this.#outputBytes,
      pipeline: 'remux',
    };
  }

  #head(bytes: Uint8Array): void {
    const head = parseOpusHead(bytes);
    if ('invalid' in head) {
      if (this.source === 'opus') throw new AppError('invalid_media', `raw Opus stream: ${head.invalid}`);
      this.#mismatched(head.invalid);
      return;
    }
    if (this.source === 'opus' && head.mappingFamily !== 0) {
      throw new AppError(
        'unsupported_media',
        'raw Opus stream: only channel mapping family 0 (mono or stereo) is taken',
      );
    }
    this.#sawHead = true;
    this.#preSkip = head.preSkip;
    const mismatch = headMismatch(head);
    if (mismatch) this.#mismatched(mismatch);
    if (!this.writing) return;
    // The stored format's header when it matches; the client's own when its packets are to be transcoded.
    const written = mismatch ? bytes : opusHead({ channels: 1, preSkip: head.preSkip, inputRate: OUTPUT_SAMPLE_RATE });
    this.#emit(this.#writer.headers(written, opusTags(VENDOR)));
  }

  #packet(bytes: Uint8Array): void {
    if (!this.writing) return;
    let samples: number;
    if (this.#mismatch === null) {
      const checked = this.#rules.check(bytes);
      if (typeof checked === 'string') {
        this.#mismatched(checked);
        if (!this.writing) return;
        samples = packetSamples(bytes);
      } else {
        samples = checked;
      }
    } else {
      samples = packetSamples(bytes);
    }
    this.#packets += 1;
    const page = this.#writer.add(bytes, samples);
    if (page) this.#emit(page);
    this.#budget?.check(Math.max(0, this.#writer.samples - this.#preSkip) / OPUS_RATE);
  }

  #emit(page: Buffer): void {
    if (page.length === 0) return;
    this.#pages.push(page);
    this.#outputBytes += page.length;
  }

  #mismatched(reason: string): void {
    this.#mismatch ??= reason;
    // A container's bytes go to the transcoder as they are: nothing of ours is needed any more.
    if (!this.writing) this.#pages = [];
  }
}

/**
 * A packet's duration when it is not checked (the stream is being transcoded anyway); 20 ms for one the
 * decoder will reject, so the Ogg stream's timing stays plausible.
 */
function packetSamples(packet: Uint8Array): number {
  const shape = parsePacket(packet);
  return 'invalid' in shape ? 960 : shape.samples;
}
