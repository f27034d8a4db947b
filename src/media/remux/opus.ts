/**
 * Opus packets and headers read and written as bytes, without a codec: the TOC byte and frame layout of
 * a packet (RFC 6716 §3) and the identification header, OpusHead (RFC 7845 §5.1). The remux path uses
 * them to decide whether what a client sends already is the stored format, and to write it into Ogg.
 */

/** Audio bandwidth a packet was coded with (RFC 6716 §2, Table 1). */
export type Bandwidth = 'narrowband' | 'mediumband' | 'wideband' | 'superwideband' | 'fullband';

/** Opus always counts time in 48 kHz samples (RFC 7845 §4), whatever the input rate was. */
export const OPUS_RATE = 48_000;
/** RFC 6716 §3.2.1: no frame is longer than 1275 bytes. */
const MAX_FRAME_BYTES = 1275;
/** RFC 6716 §3.2.5: a packet holds at most 120 ms of audio. */
const MAX_PACKET_SAMPLES = 5760;

export interface PacketShape {
  bandwidth: Bandwidth;
  stereo: boolean;
  /** Length of each frame in 48 kHz samples (120 = 2.5 ms … 2880 = 60 ms). */
  frameSamples: number;
  frames: number;
  /** Duration of the packet in 48 kHz samples. */
  samples: number;
}

// RFC 6716 §3.1, Table 2: the TOC's 5-bit configuration number gives the mode, bandwidth and frame size.
const SILK_SIZES = [480, 960, 1920, 2880];
const CELT_SIZES = [120, 240, 480, 960];
function configOf(config: number): { bandwidth: Bandwidth; frameSamples: number } {
  if (config < 12) {
    const bandwidth = (['narrowband', 'mediumband', 'wideband'] as const)[config >> 2]!;
    return { bandwidth, frameSamples: SILK_SIZES[config & 3]! };
  }
  if (config < 16) {
    return { bandwidth: config < 14 ? 'superwideband' : 'fullband', frameSamples: config & 1 ? 960 : 480 };
  }
  const bandwidth = (['narrowband', 'wideband', 'superwideband', 'fullband'] as const)[(config - 16) >> 2]!;
  return { bandwidth, frameSamples: CELT_SIZES[config & 3]! };
}

/** A frame length coded in one or two bytes (RFC 6716 §3.2.1); [length, bytes used], or null past the end. */
function frameLength(packet: Uint8Array, at: number): [number, number] | null {
  const first = packet[at];
  if (first === undefined) return null;
  if (first < 252) return [first, 1];
  const second = packet[at + 1];
  return second === undefined ? null : [first + 4 * second, 2];
}

/**
 * What a packet holds, or why it is not a well-formed Opus packet: the TOC byte plus the frame count and
 * lengths of codes 0–3, checked against requirements R1–R7 of RFC 6716 §3.4. Nothing is decoded.
 */
export function parsePacket(packet: Uint8Array): PacketShape | { invalid: string } {
  const toc = packet[0];
  if (toc === undefined) return { invalid: 'an empty packet (every Opus packet has a TOC byte)' };
  const { bandwidth, frameSamples } = configOf(toc >> 3);
  const shape = (frames: number): PacketShape | { invalid: string } =>
    frames * frameSamples > MAX_PACKET_SAMPLES
      ? { invalid: `${frames} frames of ${frameSamples / 48} ms are more than 120 ms` }
      : { bandwidth, stereo: (toc & 4) !== 0, frameSamples, frames, samples: frames * frameSamples };
  const payload = packet.length - 1;
  switch (toc & 3) {
    case 0:
      return payload > MAX_FRAME_BYTES ? { invalid: 'a frame longer than 1275 bytes' } : shape(1);
    case 1:
      if (payload % 2 !== 0) return { invalid: 'two equal frames in an odd number of bytes' };
      return payload / 2 > MAX_FRAME_BYTES ? { invalid: 'a frame longer than 1275 bytes' } : shape(2);
    case 2: {
      const first = frameLength(packet, 1);
      if (!first) return { invalid: 'a code 2 packet without its first frame length' };
      const rest = payload - first[1];
      if (first[0] > rest) return { invalid: 'a first frame longer than the packet' };
      if (first[0] > MAX_FRAME_BYTES || rest - first[0] > MAX_FRAME_BYTES) {
        return { invalid: 'a frame longer than 1275 bytes' };
      }
      return shape(2);
    }
    default: {
      const countByte = packet[1];
      if (countByte === undefined) return { invalid: 'a code 3 packet without its frame count' };
      const frames = countByte & 0x3f;
      if (frames === 0) return { invalid: 'a code 3 packet of 0 frames' };
      let at = 2;
      let padding = 0;
      if (countByte & 0x40) {
        for (;;) {
          const value = packet[at++];
          if (value === undefined) return { invalid: 'padding that runs past the packet' };
          padding += value === 255 ? 254 : value;
          if (value !== 255) break;
        }
      }
      let left = packet.length - at - padding;
      if (left < 0) return { invalid: 'padding longer than the packet' };
      if (countByte & 0x80) {
        // VBR: every frame but the last gives its length; the last one takes what is left.
        for (let i = 0; i < frames - 1; i++) {
          const length = frameLength(packet, at);
          if (!length) return { invalid: 'frame lengths that run past the packet' };
          at += length[1];
          left -= length[1] + length[0];
          if (length[0] > MAX_FRAME_BYTES || left < 0) return { invalid: 'frames longer than the packet' };
        }
        if (left > MAX_FRAME_BYTES) return { invalid: 'a frame longer than 1275 bytes' };
      } else if (left % frames !== 0 || left / frames > MAX_FRAME_BYTES) {
        return { invalid: 'CBR frames that do not divide the packet' };
      }
      return shape(frames);
    }
  }
}

/** The fields of an identification header (RFC 7845 §5.1). */
export interface OpusHead {
  channels: number;
  /** Samples (at 48 kHz) to drop from the start of the decoded audio. */
  preSkip: number;
  /** The rate the audio was sampled at before encoding (informative: decoders always run at 48 kHz). */
  inputRate: number;
  /** Q7.8 dB. */
  outputGain: number;
  mappingFamily: number;
}

/** An identification header, or why the bytes are not one. */
export function parseOpusHead(bytes: Uint8Array): OpusHead | { invalid: string } {
  if (bytes.length < 19 || Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1') !== 'OpusHead') {
    return { invalid: 'the first packet is not an OpusHead header (RFC 7845 §5.1)' };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  // RFC 7845 §5.1: a version with 0 in its major nibble is one we can read.
  if (view.getUint8(8) > 15) return { invalid: `OpusHead version ${view.getUint8(8)} is not supported` };
  const head: OpusHead = {
    channels: view.getUint8(9),
    preSkip: view.getUint16(10, true),
    inputRate: view.getUint32(12, true),
    outputGain: view.getInt16(16, true),
    mappingFamily: view.getUint8(18),
  };
  if (head.channels === 0) return { invalid: 'OpusHead declares 0 channels' };
  if (head.mappingFamily === 0 && head.channels > 2) {
    return { invalid: 'OpusHead mapping family 0 allows 1 or 2 channels' };
  }
  if (head.mappingFamily !== 0 && bytes.length < 21 + head.channels) {
    return { invalid: 'OpusHead is shorter than its channel mapping table' };
  }
  return head;
}

/** A 19-byte identification header of mapping family 0 (mono or stereo). */
export function opusHead(head: Pick<OpusHead, 'channels' | 'preSkip' | 'inputRate'>): Buffer {
  const bytes = Buffer.alloc(19);
  bytes.write('OpusHead', 0, 'latin1');
  bytes[8] = 1;
  bytes[9] = head.channels;
  bytes.writeUInt16LE(head.preSkip, 10);
  bytes.writeUInt32LE(head.inputRate, 12);
  return bytes;
}

/** A comment header (RFC 7845 §5.2) with a vendor string and no comments. */
export function opusTags(vendor: string): Buffer {
  const name = Buffer.from(vendor, 'utf8');
  const bytes = Buffer.alloc(8 + 4 + name.length + 4);
  bytes.write('OpusTags', 0, 'latin1');
  bytes.writeUInt32LE(name.length, 8);
  name.copy(bytes, 12);
  return bytes;
}
