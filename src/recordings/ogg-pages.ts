/**
 * Incremental Ogg page checker (RFC 3533 §6) for chunked streams. Chunks may split a page anywhere, so
 * the checker carries the unfinished tail of the last page between chunks. `check` is pure: it returns
 * the next state without touching the current one, so a refused chunk leaves the stream as it was.
 */

/** CRC-32 as Ogg uses it: polynomial 0x04c11db7, not reflected, initial value 0, no final XOR. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let bit = 0; bit < 8; bit++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

export function oggCrc(bytes: Uint8Array, crcFieldAt = -1): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) {
    // The page's own checksum field (4 bytes) counts as zeros while computing it.
    const byte = i >= crcFieldAt && i < crcFieldAt + 4 && crcFieldAt >= 0 ? 0 : bytes[i]!;
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  }
  return crc;
}

const CAPTURE = Buffer.from('OggS', 'latin1');
const HEADER_FIXED = 27;
const CRC_AT = 22;
/** Largest possible page: 27 + 255 lacing values + 255 × 255 body bytes. */
export const MAX_OGG_PAGE = HEADER_FIXED + 255 + 255 * 255;

export interface OggState {
  /** Bytes of the page that is not complete yet (at most MAX_OGG_PAGE). */
  tail: Buffer;
  /** Complete pages seen so far. */
  pages: number;
  /** Sequence number of the last complete page of each logical stream (by serial number). */
  sequences: Record<string, number>;
}

export const initialOggState = (): OggState => ({ tail: Buffer.alloc(0), pages: 0, sequences: {} });

/** The state as stored in the database (recordings.stream_state), shared by every node. */
export function serialiseOggState(state: OggState): string {
  return JSON.stringify({ tail: state.tail.toString('base64'), pages: state.pages, sequences: state.sequences });
}

export function parseOggState(text: string | null): OggState {
  if (!text) return initialOggState();
  const value = JSON.parse(text) as { tail: string; pages: number; sequences: Record<string, number> };
  return { tail: Buffer.from(value.tail, 'base64'), pages: value.pages, sequences: value.sequences };
}

// RFC 3533 §6: the bitstream serial number is at byte 14 of a page header, the page sequence number at 18.
const pageSerial = (data: Buffer, at: number) => data.readUInt32LE(at + 14);
const pageSequence = (data: Buffer, at: number) => data.readUInt32LE(at + 18);

/**
 * How many leading bytes of a chunk the stream already has, judged by Ogg page identity: complete pages
 * whose (serial, sequence number) were already stored, and then the stored part of the unfinished page.
 * This is how a chunk sent again without an offset (a client retrying after a lost response) is told
 * from new audio. 0 when the chunk starts with audio the stream does not have yet. `read(position,
 * length)` gives bytes of the chunk (fewer at its end), so a large chunk is never read whole.
 */
export function storedPrefixOf(
  state: OggState,
  size: number,
  read: (position: number, length: number) => Buffer,
): number {
  let at = 0;
  for (;;) {
    const header = read(at, HEADER_FIXED + 255);
    if (header.length < HEADER_FIXED || !header.subarray(0, 4).equals(CAPTURE)) break;
    const segments = header[26]!;
    if (header.length < HEADER_FIXED + segments) break;
    let bodySize = 0;
    for (let i = 0; i < segments; i++) bodySize += header[HEADER_FIXED + i]!;
    const last = state.sequences[String(pageSerial(header, 0))];
    if (last === undefined || pageSequence(header, 0) > last) break;
    at += HEADER_FIXED + segments + bodySize;
    if (at >= size) return size;
  }
  // The unfinished page stored so far, repeated at this point, is stored too.
  if (state.tail.length > 0 && size - at >= state.tail.length && read(at, state.tail.length).equals(state.tail)) {
    at += state.tail.length;
  }
  return at;
}

export type OggCheck = { ok: true; state: OggState } | { ok: false; message: string; pageOffset: number };

/**
 * Checks `chunk` as the continuation of a stream in `state`. `streamOffset` is where the state's tail
 * starts in the whole stream (only used for messages).
 */
export function checkOggChunk(state: OggState, chunk: Uint8Array, streamOffset = 0): OggCheck {
  const data = state.tail.length ? Buffer.concat([state.tail, chunk]) : Buffer.from(chunk);
  let at = 0;
  let pages = state.pages;
  const sequences = { ...state.sequences };
  while (data.length - at >= HEADER_FIXED) {
    const where = streamOffset + at;
    if (!data.subarray(at, at + 4).equals(CAPTURE)) {
      return { ok: false, message: `no Ogg page starts at byte ${where} (expected "OggS")`, pageOffset: where };
    }
    if (data[at + 4] !== 0) {
      return { ok: false, message: `unsupported Ogg version ${data[at + 4]} at byte ${where}`, pageOffset: where };
    }
    const flags = data[at + 5]!;
    if (flags & ~0x07) {
      return { ok: false, message: `invalid Ogg header flags at byte ${where}`, pageOffset: where };
    }
    // RFC 3533 §6: the first page of a logical stream carries the "beginning of stream" flag.
    if (pages === 0 && !(flags & 0x02)) {
      return { ok: false, message: 'the first Ogg page must be a beginning-of-stream page', pageOffset: where };
    }
    const segments = data[at + 26]!;
    const headerSize = HEADER_FIXED + segments;
    if (data.length - at < headerSize) break;
    let bodySize = 0;
    for (let i = 0; i < segments; i++) bodySize += data[at + HEADER_FIXED + i]!;
    const pageSize = headerSize + bodySize;
    if (data.length - at < pageSize) break;
    const page = data.subarray(at, at + pageSize);
    const expected = page.readUInt32LE(CRC_AT);
    if (oggCrc(page, CRC_AT) !== expected) {
      return { ok: false, message: `Ogg page at byte ${where} fails its CRC check (corrupt data)`, pageOffset: where };
    }
    pages++;
    sequences[String(pageSerial(data, at))] = pageSequence(data, at);
    at += pageSize;
  }
  // An incomplete first 4 bytes can already be told apart from "OggS".
  const rest = data.subarray(at);
  const prefix = Math.min(rest.length, 4);
  if (!rest.subarray(0, prefix).equals(CAPTURE.subarray(0, prefix))) {
    const where = streamOffset + at;
    return { ok: false, message: `no Ogg page starts at byte ${where} (expected "OggS")`, pageOffset: where };
  }
  return { ok: true, state: { tail: Buffer.from(rest), pages, sequences } };
}

/** True when the stream so far ends exactly on a page boundary (nothing half-sent). */
export const oggComplete = (state: OggState): boolean => state.tail.length === 0 && state.pages > 0;

export const EBML_MAGIC = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);
