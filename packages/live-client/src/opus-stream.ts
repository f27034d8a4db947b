/**
 * Raw Opus for Earshot's live protocol (`"format": "opus"`, docs/live-protocol.md §3), for a client that
 * encodes the stored format itself (the page with WebCodecs, or a bot with libopus): every packet goes
 * after its length (2 bytes, big-endian), the OpusHead identification header (RFC 7845 §5.1) first. The
 * framed bytes are a plain byte stream: send them in binary frames of any size (LiveRecordingClient.send).
 * Also the Ogg file of such packets, for a copy a person can keep. No DOM and no Node APIs: runs anywhere.
 */

export interface OpusHeadFields {
  channels: number;
  /** Samples at 48 kHz the decoder drops at the start (the encoder's lookahead). */
  preSkip: number;
  /** The rate the encoder was fed (16000 for the stored format). */
  inputRate: number;
}

/** A 19-byte OpusHead (mapping family 0). */
export function opusHead({ channels, preSkip, inputRate }: OpusHeadFields): Uint8Array {
  const head = new Uint8Array(19);
  head.set([0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64], 0); // "OpusHead"
  const view = new DataView(head.buffer);
  view.setUint8(8, 1);
  view.setUint8(9, channels);
  view.setUint16(10, preSkip, true);
  view.setUint32(12, inputRate, true);
  return head;
}

/** The fields of an OpusHead (such as a WebCodecs encoder's `decoderConfig.description`). */
export function readOpusHead(head: Uint8Array): OpusHeadFields {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return { channels: view.getUint8(9), preSkip: view.getUint16(10, true), inputRate: view.getUint32(12, true) };
}

/**
 * A WebCodecs AudioEncoder configuration (AudioEncoderConfig) that makes the stored format: Opus at
 * 16 kHz, mono, 24 kbps, 20 ms packets, tuned for speech (`application` is in the WebCodecs Opus codec
 * registration, not yet in TypeScript's DOM types).
 */
export const STORED_FORMAT_ENCODER = {
  codec: 'opus',
  sampleRate: 16_000,
  numberOfChannels: 1,
  bitrate: 24_000,
  opus: { frameDuration: 20_000, application: 'voip' },
} as const;

/** libopus's lookahead for speech (2.5 + 4 ms), in 48 kHz samples: the pre-skip of what it encodes. */
const LOOKAHEAD_48K = 312;

/**
 * The OpusHead to send for a WebCodecs encoder's `decoderConfig.description` (or a default one when the
 * browser gives none), with its pre-skip in 48 kHz samples as RFC 7845 §5.1 has it. Chromium 156 gives
 * libopus's lookahead at the encoder's rate instead (104 at 16 kHz, not 312), which starts every
 * recording 4.3 ms late (measured with a burst at a known time); a pre-skip of exactly that lookahead at
 * the input rate is recognised and scaled.
 */
export function opusHeadFromEncoder(description: Uint8Array | null, inputRate: number): Uint8Array {
  if (!description) return opusHead({ channels: 1, preSkip: LOOKAHEAD_48K, inputRate });
  const head = readOpusHead(description);
  const atInputRate = Math.round((LOOKAHEAD_48K * head.inputRate) / 48_000);
  return opusHead({ ...head, preSkip: head.preSkip === atInputRate ? LOOKAHEAD_48K : head.preSkip });
}

/** One packet as it goes on the wire: its length, then the packet. */
export function framePacket(packet: Uint8Array): Uint8Array<ArrayBuffer> {
  if (packet.byteLength === 0 || packet.byteLength > 0xffff) {
    throw new RangeError(`an Opus packet of ${packet.byteLength} bytes cannot be framed`);
  }
  const framed = new Uint8Array(2 + packet.byteLength);
  framed[0] = packet.byteLength >> 8;
  framed[1] = packet.byteLength & 0xff;
  framed.set(packet, 2);
  return framed;
}

// Ogg (RFC 3533) CRC-32: polynomial 0x04c11db7, not reflected, initial value 0.
const CRC_TABLE = new Uint32Array(256).map((_, i) => {
  let r = i << 24;
  for (let bit = 0; bit < 8; bit++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
  return r >>> 0;
});

function oggPage(
  packets: Uint8Array[],
  granule: number,
  serial: number,
  sequence: number,
  flags: number,
): Uint8Array<ArrayBuffer> {
  const lacing: number[] = [];
  for (const packet of packets) {
    for (let left = packet.byteLength; ; left -= 255) {
      lacing.push(Math.min(left, 255));
      if (left < 255) break;
    }
  }
  const body = packets.reduce((sum, packet) => sum + packet.byteLength, 0);
  const page = new Uint8Array(27 + lacing.length + body);
  const view = new DataView(page.buffer);
  page.set([0x4f, 0x67, 0x67, 0x53], 0); // "OggS"
  page[5] = flags;
  view.setBigUint64(6, BigInt(granule), true);
  view.setUint32(14, serial, true);
  view.setUint32(18, sequence, true);
  page[26] = lacing.length;
  page.set(lacing, 27);
  let at = 27 + lacing.length;
  for (const packet of packets) {
    page.set(packet, at);
    at += packet.byteLength;
  }
  let crc = 0;
  for (const byte of page) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] as number)) >>> 0;
  view.setUint32(22, crc, true);
  return page;
}

/**
 * An Ogg/Opus file (RFC 7845) of `packets` of `samplesPerPacket` (48 kHz) each: the headers, then pages
 * of 50 packets. For the page's local copy of a recording; the server writes its own.
 */
export function oggOpusFile(head: Uint8Array, packets: Uint8Array[], samplesPerPacket = 960): Blob {
  const serial = Math.floor(Math.random() * 0xffffffff);
  const tags = new Uint8Array(8 + 4 + 7 + 4);
  tags.set(new TextEncoder().encode('OpusTags'), 0);
  new DataView(tags.buffer).setUint32(8, 7, true);
  tags.set(new TextEncoder().encode('Earshot'), 12);
  const pages = [oggPage([head], 0, serial, 0, 0x02), oggPage([tags], 0, serial, 1, 0)];
  for (let at = 0; at < packets.length; at += 50) {
    const page = packets.slice(at, at + 50);
    const last = at + 50 >= packets.length;
    pages.push(oggPage(page, (at + page.length) * samplesPerPacket, serial, pages.length, last ? 0x04 : 0));
  }
  return new Blob(pages, { type: 'audio/ogg' });
}
