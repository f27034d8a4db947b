/**
 * Raw Opus packets as a live client may send them (`"format": "opus"`, docs/live-protocol.md §3): each
 * packet preceded by its length, 2 bytes big-endian, the first packet being the OpusHead identification
 * header (RFC 7845 §5.1), every later one an audio packet. The client's binary frames are a byte stream:
 * they may split a length or a packet anywhere, so the unfinished tail is carried to the next push.
 */
import type { PacketReader, PacketSink } from './packet-reader.ts';
import { StreamError } from './packet-reader.ts';

/** Bytes of the length before each packet. */
export const LENGTH_BYTES = 2;

export class FramedOpusReader implements PacketReader {
  #carry: Buffer = Buffer.alloc(0);
  #packets = 0;
  /** Where the carried bytes start in the stream (for messages). */
  #offset = 0;

  push(chunk: Uint8Array, sink: PacketSink): void {
    const data =
      this.#carry.length > 0
        ? Buffer.concat([this.#carry, chunk])
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let at = 0;
    while (data.length - at >= LENGTH_BYTES) {
      const length = data.readUInt16BE(at);
      if (length === 0) {
        throw new StreamError(`a packet length of 0 at byte ${this.#offset + at} (every Opus packet has a TOC byte)`);
      }
      if (data.length - at - LENGTH_BYTES < length) break;
      const packet = data.subarray(at + LENGTH_BYTES, at + LENGTH_BYTES + length);
      at += LENGTH_BYTES + length;
      if (this.#packets++ === 0) sink.head(packet);
      else sink.packet(packet);
    }
    // A copy: a few carried bytes should not keep the caller's whole chunk alive.
    this.#carry = at === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(at));
    this.#offset += at;
  }
}

/** A packet with its length in front: the client side of the framing, for tests and tools. */
export function framePacket(packet: Uint8Array): Buffer {
  if (packet.length === 0 || packet.length > 0xffff) throw new Error(`cannot frame a packet of ${packet.length} bytes`);
  const framed = Buffer.alloc(LENGTH_BYTES + packet.length);
  framed.writeUInt16BE(packet.length, 0);
  framed.set(packet, LENGTH_BYTES);
  return framed;
}
