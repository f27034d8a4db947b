/**
 * What the remux path reads a client's byte stream with: something that finds the Opus packets in it,
 * chunk by chunk, whatever the chunk boundaries (framed packets, Ogg pages, WebM blocks).
 */

export interface PacketSink {
  /** The OpusHead identification header, once, before any audio packet. */
  head(bytes: Uint8Array): void;
  /** An audio packet; its bytes may be a view of a pushed chunk. */
  packet(bytes: Uint8Array): void;
}

export interface PacketReader {
  /**
   * Feeds the next bytes of the stream; calls the sink for every packet they complete. Packets may be
   * views of the chunk, so a chunk must not change once pushed.
   */
  push(chunk: Uint8Array, sink: PacketSink): void;
}

/** The stream is not what the reader reads (or is damaged): the remux path cannot take it. */
export class StreamError extends Error {
  override name = 'StreamError';
}
