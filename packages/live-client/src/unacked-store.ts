/**
 * Where the client keeps audio the server has not yet acknowledged, per recording. In memory by default
 * (the audio survives a dropped connection); IndexedDbUnackedStore (`@earshot/live-client/indexeddb`)
 * keeps it in the browser so it survives a page reload too, and a new client can resume the recording
 * with it (LiveClientOptions.resumeRecordingId).
 *
 * Offsets count bytes from the start of the recording, as the server's `ack`, `committed` and
 * `recording_resumed` do. Chunks are appended in order with no gaps; what a store holds for a recording
 * is always one contiguous range [start, end).
 */

export interface UnackedChunk {
  /** Byte offset of the chunk's first byte in the recording. */
  offset: number;
  bytes: Uint8Array<ArrayBuffer>;
}

export interface UnackedSession {
  recordingId: string;
  /** Offset of the first byte still kept. */
  start: number;
  /** Offset just after the last byte kept: everything the client was given so far. */
  end: number;
  /** When the last chunk was appended (ms since the epoch): how stale the session is. */
  updatedAt: number;
}

export interface UnackedStore {
  /** Keeps a chunk; `offset` is the session's current end (0 for the first chunk). */
  append(recordingId: string, offset: number, bytes: Uint8Array<ArrayBuffer>): Promise<void>;
  /** Lets go of the chunks that end at or before `upTo` (a chunk the server has only part of stays whole). */
  drop(recordingId: string, upTo: number): Promise<void>;
  /** The chunks holding bytes at or after `from`, in order (the first may start before `from`). */
  read(recordingId: string, from: number): Promise<UnackedChunk[]>;
  /** The recordings that have a session (with or without chunks left): those not cleared. */
  sessions(): Promise<UnackedSession[]>;
  /** Forgets a recording: it was saved, or given up. */
  clear(recordingId: string): Promise<void>;
}

interface MemorySession {
  chunks: UnackedChunk[];
  /** Where the next chunk starts (also once every chunk has been dropped). */
  end: number;
  updatedAt: number;
}

/** Keeps the audio in this process (it holds the caller's buffers; the client gives it copies). */
export class MemoryUnackedStore implements UnackedStore {
  #sessions = new Map<string, MemorySession>();

  async append(recordingId: string, offset: number, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    const session = this.#sessions.get(recordingId) ?? { chunks: [], end: offset, updatedAt: 0 };
    if (offset !== session.end) {
      throw new RangeError(`chunk at byte ${offset} of ${recordingId}, but the kept audio ends at byte ${session.end}`);
    }
    session.chunks.push({ offset, bytes });
    session.end = offset + bytes.byteLength;
    session.updatedAt = Date.now();
    this.#sessions.set(recordingId, session);
  }

  async drop(recordingId: string, upTo: number): Promise<void> {
    const chunks = this.#sessions.get(recordingId)?.chunks;
    if (!chunks) return;
    let kept = 0;
    while (kept < chunks.length && chunkEnd(chunks[kept] as UnackedChunk) <= upTo) kept += 1;
    chunks.splice(0, kept);
  }

  async read(recordingId: string, from: number): Promise<UnackedChunk[]> {
    return (this.#sessions.get(recordingId)?.chunks ?? []).filter((chunk) => chunkEnd(chunk) > from);
  }

  async sessions(): Promise<UnackedSession[]> {
    return [...this.#sessions].map(([recordingId, { chunks, end, updatedAt }]) => ({
      recordingId,
      start: chunks[0]?.offset ?? end,
      end,
      updatedAt,
    }));
  }

  async clear(recordingId: string): Promise<void> {
    this.#sessions.delete(recordingId);
  }
}

export const chunkEnd = (chunk: UnackedChunk): number => chunk.offset + chunk.bytes.byteLength;
