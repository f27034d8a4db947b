/**
 * How long live audio waits for its acknowledgement: from a chunk's arrival to the `ack` that covers
 * its last byte (the raw log fsynced past it, docs/live-protocol.md). Chunks are queued by where they
 * end in the raw log, in arrival order, so an ack settles the chunks at the front of the queue.
 */
export class AckLatency {
  #pending: { end: number; at: number }[] = [];
  readonly #observe: (seconds: number) => void;
  readonly #now: () => number;

  constructor(observe: (seconds: number) => void, now: () => number = () => performance.now()) {
    this.#observe = observe;
    this.#now = now;
  }

  /** A chunk was appended; the raw log now ends at `end`. */
  received(end: number): void {
    // The log was cut back to its durable length (a disk failure, then a resume): what waited past it never will.
    if (end <= (this.#pending.at(-1)?.end ?? 0)) this.#pending = [];
    this.#pending.push({ end, at: this.#now() });
  }

  /** The raw log is durable up to `bytes`, and the client was told so. */
  acknowledged(bytes: number): void {
    let settled = 0;
    const now = this.#now();
    for (const chunk of this.#pending) {
      if (chunk.end > bytes) break;
      this.#observe((now - chunk.at) / 1000);
      settled += 1;
    }
    if (settled > 0) this.#pending.splice(0, settled);
  }
}
