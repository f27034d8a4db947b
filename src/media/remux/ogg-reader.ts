/**
 * The packets of an Ogg/Opus stream (RFC 3533 pages, RFC 7845 mapping), chunk by chunk: pages are checked
 * (capture pattern, version, CRC), packets are put back together from their lacing values, also across
 * pages, and the first two packets are the identification and comment headers. Only a single logical
 * stream is read: a second one (multiplexed or chained) is a StreamError, as is any damage, since the
 * remux path only takes what it can copy exactly; FFmpeg's demuxer is more forgiving and takes the rest.
 */
import { oggCrc } from '../../recordings/ogg-pages.ts';
import type { PacketReader, PacketSink } from './packet-reader.ts';
import { StreamError } from './packet-reader.ts';

const HEADER_BYTES = 27;
const CRC_AT = 22;
const FLAG_CONTINUED = 0x01;
const FLAG_BOS = 0x02;
/** Longest header packet we hold together (an OpusTags with cover art is not worth keeping). */
const MAX_HEADER_PACKET = 64 * 1024;

export class OggOpusReader implements PacketReader {
  #carry: Buffer = Buffer.alloc(0);
  #serial: number | undefined;
  #packets = 0;
  /** Pieces of a packet continued on the next page. */
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  #ended = false;
  #offset = 0;

  push(chunk: Uint8Array, sink: PacketSink): void {
    const data =
      this.#carry.length > 0
        ? Buffer.concat([this.#carry, chunk])
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let at = 0;
    while (data.length - at >= HEADER_BYTES) {
      const where = this.#offset + at;
      if (data.readUInt32BE(at) !== 0x4f676753 || data[at + 4] !== 0) {
        throw new StreamError(`no Ogg page starts at byte ${where}`);
      }
      const segments = data[at + 26]!;
      const headerBytes = HEADER_BYTES + segments;
      if (data.length - at < headerBytes) break;
      let bodyBytes = 0;
      for (let i = 0; i < segments; i++) bodyBytes += data[at + HEADER_BYTES + i]!;
      if (data.length - at < headerBytes + bodyBytes) break;
      const page = data.subarray(at, at + headerBytes + bodyBytes);
      if (oggCrc(page, CRC_AT) !== page.readUInt32LE(CRC_AT)) {
        throw new StreamError(`the Ogg page at byte ${where} fails its CRC check`);
      }
      this.#page(page, segments, sink);
      at += page.length;
    }
    this.#carry = at === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(at));
    this.#offset += at;
  }

  #page(page: Buffer, segments: number, sink: PacketSink): void {
    const flags = page[5]!;
    const serial = page.readUInt32LE(14);
    if (this.#serial === undefined) {
      if (!(flags & FLAG_BOS)) throw new StreamError('the first Ogg page is not a beginning-of-stream page');
      this.#serial = serial;
    } else if (serial !== this.#serial || flags & FLAG_BOS || this.#ended) {
      throw new StreamError('more than one Ogg logical stream (multiplexed or chained)');
    }
    if (flags & 0x04) this.#ended = true;
    if (!(flags & FLAG_CONTINUED) && this.#partialBytes > 0) {
      throw new StreamError('an Ogg packet is cut short by a page that does not continue it');
    }
    let at = HEADER_BYTES + segments;
    let start = at;
    for (let i = 0; i < segments; i++) {
      const lacing = page[HEADER_BYTES + i]!;
      at += lacing;
      if (lacing === 255) continue;
      this.#emit(page.subarray(start, at), sink);
      start = at;
    }
    if (start < at) {
      this.#partial.push(page.subarray(start, at));
      this.#partialBytes += at - start;
      if (this.#packets < 2 && this.#partialBytes > MAX_HEADER_PACKET) {
        throw new StreamError('an Ogg header packet is too long');
      }
    }
  }

  #emit(piece: Uint8Array, sink: PacketSink): void {
    let packet = piece;
    if (this.#partialBytes > 0) {
      packet = Buffer.concat([...this.#partial, piece]);
      this.#partial = [];
      this.#partialBytes = 0;
    }
    const index = this.#packets++;
    if (index === 0) sink.head(packet);
    else if (index > 1) sink.packet(packet); // index 1: OpusTags, which the output does not copy
  }
}
