/**
 * Which live container a stream starts with, from its first bytes alone: the allowed live demuxers
 * (WebM/Matroska, Ogg, MP4; src/media/live-session.ts) each start with a signature. This is how a live
 * stream that is not audio at all is refused within its first bytes, whatever its bitrate, instead of
 * after the 32 KiB the transcoder reads before it opens.
 */

export type LiveContainer = 'webm' | 'ogg' | 'mp4';

const EBML = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);
const OGG = Buffer.from('OggS', 'latin1');

/** Bytes needed to decide. */
export const SNIFF_BYTES = 8;

/**
 * ISO BMFF box types FFmpeg's mov demuxer accepts at the start of a file (libavformat/mov.c, mov_probe):
 * browsers start fragmented MP4 with `ftyp`, and a stream may also begin with these.
 */
const MP4_FIRST_BOXES = new Set([
  'ftyp',
  'styp',
  'moov',
  'moof',
  'mdat',
  'free',
  'skip',
  'wide',
  'junk',
  'pnot',
  'udta',
  'uuid',
  'sidx',
]);

/** The container, null when the bytes are none of them, 'more' when fewer than SNIFF_BYTES decide nothing. */
export function sniffContainer(head: Uint8Array): LiveContainer | null | 'more' {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const prefix = (signature: Buffer) =>
    bytes.subarray(0, signature.length).equals(signature.subarray(0, Math.min(signature.length, bytes.length)));
  if (prefix(EBML)) return bytes.length >= EBML.length ? 'webm' : 'more';
  if (prefix(OGG)) return bytes.length >= OGG.length ? 'ogg' : 'more';
  if (bytes.length < SNIFF_BYTES) return 'more';
  return MP4_FIRST_BOXES.has(bytes.toString('latin1', 4, 8)) ? 'mp4' : null;
}
