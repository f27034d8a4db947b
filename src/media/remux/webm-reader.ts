/**
 * The Opus packets of a live WebM/Matroska stream, chunk by chunk (EBML, RFC 8794; Matroska elements,
 * RFC 9559). A live writer (a browser's MediaRecorder, `ffmpeg -f webm -live 1`) leaves the Segment and
 * its Clusters of unknown size, so master elements are not delimited here: the reader walks into every
 * master element it knows and reads the leaves it needs in stream order. It takes exactly one track, an
 * Opus audio track, whose CodecPrivate is the OpusHead, and one packet per block (no lacing); anything
 * else is a StreamError, and FFmpeg's demuxer takes the stream instead.
 */
import type { PacketReader, PacketSink } from './packet-reader.ts';
import { StreamError } from './packet-reader.ts';

// Element IDs (with their length marker, as written).
const SEGMENT = 0x18538067;
const CLUSTER = 0x1f43b675;
const TRACKS = 0x1654ae6b;
const TRACK_ENTRY = 0xae;
const TRACK_NUMBER = 0xd7;
const TRACK_TYPE = 0x83;
const CODEC_ID = 0x86;
const CODEC_PRIVATE = 0x63a2;
const BLOCK_GROUP = 0xa0;
const BLOCK = 0xa1;
const SIMPLE_BLOCK = 0xa3;
/** Masters whose children are read in place; Segment and Cluster may have an unknown size. */
const MASTERS = new Set([SEGMENT, CLUSTER, TRACKS, TRACK_ENTRY, BLOCK_GROUP]);
const LEAVES = new Set([TRACK_NUMBER, TRACK_TYPE, CODEC_ID, CODEC_PRIVATE, BLOCK, SIMPLE_BLOCK]);
/** Leaves are held whole before they are read: blocks of Opus are under 61 kB, headers far smaller. */
const MAX_LEAF_BYTES = 256 * 1024;
const AUDIO_TRACK = 2;

interface Track {
  number?: number;
  type?: number;
  codec?: string;
  head?: Uint8Array;
}

/** A variable-length integer (RFC 8794 §4): [value, length]; `keepMarker` for IDs. null: need more bytes. */
function vint(data: Buffer, at: number, keepMarker: boolean): [number, number] | null {
  const first = data[at];
  if (first === undefined) return null;
  const length = Math.clz32(first) - 23;
  if (length < 1 || length > 8) throw new StreamError('an invalid EBML variable-length integer');
  if (data.length - at < length) return null;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const byte = data[at + i]!;
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  // All value bits set: "unknown size" (RFC 8794 §6.2).
  return [!keepMarker && allOnes ? -1 : value, length];
}

/** An EBML unsigned integer element's value (0 to 8 bytes, big-endian). */
function unsigned(bytes: Buffer): number {
  let value = 0;
  for (const byte of bytes) value = value * 256 + byte;
  return value;
}

export class WebmOpusReader implements PacketReader {
  #carry: Buffer = Buffer.alloc(0);
  /** Bytes of an uninteresting element still to drop. */
  #skip = 0;
  #tracks: Track[] = [];
  #track: number | undefined;
  #sawHeader = false;

  push(chunk: Uint8Array, sink: PacketSink): void {
    let data =
      this.#carry.length > 0
        ? Buffer.concat([this.#carry, chunk])
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#skip > 0) {
      const dropped = Math.min(this.#skip, data.length);
      this.#skip -= dropped;
      data = data.subarray(dropped);
    }
    let at = 0;
    for (;;) {
      const id = vint(data, at, true);
      if (!id) break;
      const size = vint(data, at + id[1], false);
      if (!size) break;
      const body = at + id[1] + size[1];
      if (!this.#sawHeader) {
        if (id[0] !== 0x1a45dfa3) throw new StreamError('not an EBML stream');
        this.#sawHeader = true;
      }
      if (MASTERS.has(id[0])) {
        if (size[0] === -1 && id[0] !== SEGMENT && id[0] !== CLUSTER) {
          throw new StreamError('an element of unknown size that cannot have one');
        }
        this.#enter(id[0], sink);
        at = body;
        continue;
      }
      if (size[0] === -1) throw new StreamError('an element of unknown size that cannot have one');
      if (LEAVES.has(id[0])) {
        if (size[0] > MAX_LEAF_BYTES) throw new StreamError('a WebM block or header element is too large');
        if (data.length - body < size[0]) break;
        this.#leaf(id[0], data.subarray(body, body + size[0]), sink);
        at = body + size[0];
        continue;
      }
      // Anything else (EBML header, SeekHead, Info, Cues, Tags, Void, Timestamp, …) is skipped.
      const available = Math.min(size[0], data.length - body);
      this.#skip = size[0] - available;
      at = body + available;
      if (this.#skip > 0) break;
    }
    this.#carry = at >= data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(at));
  }

  #enter(id: number, sink: PacketSink): void {
    if (id === TRACK_ENTRY) {
      if (this.#track !== undefined) throw new StreamError('a WebM track added after the audio started');
      this.#tracks.push({});
    } else if (id === CLUSTER && this.#track === undefined) {
      this.#start(sink);
    }
  }

  #leaf(id: number, bytes: Buffer, sink: PacketSink): void {
    const track = this.#tracks.at(-1);
    if (id === SIMPLE_BLOCK || id === BLOCK) {
      if (this.#track === undefined) this.#start(sink);
      this.#block(bytes, sink);
    } else if (track && this.#track === undefined) {
      if (id === TRACK_NUMBER) track.number = unsigned(bytes);
      else if (id === TRACK_TYPE) track.type = unsigned(bytes);
      else if (id === CODEC_ID) track.codec = bytes.toString('latin1').replace(/\0+$/, '');
      else if (id === CODEC_PRIVATE) track.head = Buffer.from(bytes);
    }
  }

  /** The first cluster or block: the track list is complete. */
  #start(sink: PacketSink): void {
    const [track, ...others] = this.#tracks;
    if (!track || others.length > 0) throw new StreamError('the remux path takes WebM with exactly one track');
    if (track.type !== AUDIO_TRACK || track.codec !== 'A_OPUS' || !track.head || track.number === undefined) {
      throw new StreamError('the WebM track is not Opus audio with its OpusHead');
    }
    this.#track = track.number;
    sink.head(track.head);
  }

  /** RFC 9559 §10: track number (vint), 16-bit relative timestamp, flags, then the frame(s). */
  #block(bytes: Buffer, sink: PacketSink): void {
    const track = vint(bytes, 0, false);
    if (!track || bytes.length < track[1] + 3) throw new StreamError('a truncated WebM block');
    if (track[0] !== this.#track) throw new StreamError('a WebM block of another track');
    const flags = bytes[track[1] + 2]!;
    if (flags & 0x06) throw new StreamError('a laced WebM block (several packets in one)');
    sink.packet(bytes.subarray(track[1] + 3));
  }
}
