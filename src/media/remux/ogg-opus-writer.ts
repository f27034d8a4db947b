/**
 * Opus packets into Ogg pages (RFC 3533, mapped as RFC 7845 §3 says): the identification header alone on
 * the first page (beginning of stream), the comment header on the second, then audio pages, each ending
 * on a packet boundary and carrying as granule position the 48 kHz sample count at its last packet's end
 * (RFC 7845 §4: the count includes the pre-skip, which players drop), the last one flagged end of stream.
 * Pages hold about a second of audio, as FFmpeg's Ogg muxer writes them (its page_duration), so a remuxed
 * file is paged like a transcoded one. Pure computation: the caller writes the bytes where it likes.
 */
import { randomInt } from 'node:crypto';
import { oggCrc } from '../../recordings/ogg-pages.ts';
import { OPUS_RATE } from './opus.ts';

const HEADER_BYTES = 27;
const MAX_SEGMENTS = 255;
/** Audio per page before a new one is started (FFmpeg's default page_duration, 1 s). */
const PAGE_SAMPLES = OPUS_RATE;

const FLAG_BOS = 0x02;
const FLAG_EOS = 0x04;

export class OggOpusWriter {
  readonly serial: number;
  #sequence = 0;
  #granule = 0;
  #packets: Uint8Array[] = [];
  #segments = 0;
  #pageSamples = 0;
  #ended = false;

  constructor(serial = randomInt(0, 2 ** 32)) {
    this.serial = serial;
  }

  /** 48 kHz samples in every packet added so far (pre-skip included). */
  get samples(): number {
    return this.#granule + this.#pageSamples;
  }

  /** The two header pages; call first. */
  headers(head: Uint8Array, tags: Uint8Array): Buffer {
    return Buffer.concat([this.#page([head], 0, FLAG_BOS), this.#page([tags], 0, 0)]);
  }

  /**
   * Adds one audio packet of `samples` (48 kHz). Returns the page it completed, if adding it started a
   * new one, else null.
   */
  add(packet: Uint8Array, samples: number): Buffer | null {
    if (this.#ended) throw new Error('Ogg stream already ended');
    const segments = Math.floor(packet.length / 255) + 1;
    let full: Buffer | null = null;
    if (this.#packets.length > 0 && (this.#pageSamples >= PAGE_SAMPLES || this.#segments + segments > MAX_SEGMENTS)) {
      full = this.#flush(0);
    }
    this.#packets.push(packet);
    this.#segments += segments;
    this.#pageSamples += samples;
    return full;
  }

  /** The last page, flagged end of stream (empty when no audio packet was ever added). */
  end(): Buffer {
    if (this.#ended) return Buffer.alloc(0);
    this.#ended = true;
    return this.#packets.length > 0 ? this.#flush(FLAG_EOS) : Buffer.alloc(0);
  }

  #flush(flags: number): Buffer {
    this.#granule += this.#pageSamples;
    const page = this.#page(this.#packets, this.#granule, flags);
    this.#packets = [];
    this.#segments = 0;
    this.#pageSamples = 0;
    return page;
  }

  /** One page of whole packets (every packet here fits one page: Opus packets are under 61 kB). */
  #page(packets: Uint8Array[], granule: number, flags: number): Buffer {
    let segments = 0;
    let body = 0;
    for (const packet of packets) {
      segments += Math.floor(packet.length / 255) + 1;
      body += packet.length;
    }
    const page = Buffer.alloc(HEADER_BYTES + segments + body);
    page.write('OggS', 0, 'latin1');
    page[5] = flags;
    page.writeBigUInt64LE(BigInt(granule), 6);
    page.writeUInt32LE(this.serial, 14);
    page.writeUInt32LE(this.#sequence++, 18);
    page[26] = segments;
    let lacing = HEADER_BYTES;
    let at = HEADER_BYTES + segments;
    for (const packet of packets) {
      // RFC 3533 §6: 255 per full segment, then the remainder (0 when the length is a multiple of 255).
      for (let left = packet.length; ; left -= 255) {
        page[lacing++] = Math.min(left, 255);
        if (left < 255) break;
      }
      page.set(packet, at);
      at += packet.length;
    }
    page.writeUInt32LE(oggCrc(page), 22);
    return page;
  }
}
