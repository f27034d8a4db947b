import { type FileHandle, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncPath } from '../storage/fsync.ts';

export interface RawLogOptions {
  /** At most one fsync per interval: a lone chunk is synced at once, a burst is batched. */
  fsyncIntervalMs: number;
  /** Called after each fsync with the byte count now on stable storage. */
  onDurable?: (bytes: number) => void;
  /** Called once if a write or fsync fails; later appends are dropped. */
  onError?: (error: Error) => void;
  /** Cut an existing file to this length first (continuing after a failed write). */
  truncateTo?: number;
}

/**
 * Append-only log of exactly the bytes a live client sent, in order. It is the recording's source of
 * truth: the live transcoder is an optimisation, and after a crash or a transcoder failure the
 * recording is rebuilt from this file. `length` counts every byte accepted (written or queued),
 * `durable` what an fsync has confirmed — the only number the server acknowledges to clients.
 */
export class RawLog {
  readonly path: string;
  #file: FileHandle;
  #options: RawLogOptions;
  #length: number;
  #written: number;
  #durable: number;
  #writes: Promise<void> = Promise.resolve();
  #syncTimer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #lastSyncAt = 0;
  #failed: Error | undefined;
  #closed = false;

  private constructor(path: string, file: FileHandle, size: number, options: RawLogOptions) {
    this.path = path;
    this.#file = file;
    this.#options = options;
    this.#length = size;
    this.#written = size;
    this.#durable = size;
  }

  /**
   * Opens (or creates) the log for appending; an existing file continues at its current size. The file
   * and its folder entry are fsynced first: bytes left by a crashed process sit in the page cache, and
   * they count as durable only once they are on the disk.
   */
  static async open(path: string, options: RawLogOptions): Promise<RawLog> {
    const file = await open(path, 'a');
    try {
      if (options.truncateTo !== undefined) await file.truncate(options.truncateTo);
      await file.sync();
      await syncPath(dirname(path));
      const { size } = await stat(path);
      return new RawLog(path, file, size, options);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  get length(): number {
    return this.#length;
  }

  get durable(): number {
    return this.#durable;
  }

  /**
   * Bytes written to the file so far (not necessarily fsynced). Readers of the file, such as the live
   * transcoder, may read this far: the page cache is shared.
   */
  get written(): number {
    return this.#written;
  }

  /** Bytes accepted but not yet written (what backpressure watches). */
  get pending(): number {
    return this.#length - this.#written;
  }

  get failed(): Error | undefined {
    return this.#failed;
  }

  /** Queues the chunk; writes happen in order. Resolves when it is written (not yet fsync'd). */
  append(chunk: Buffer): Promise<void> {
    if (this.#closed || this.#failed) return Promise.resolve();
    this.#length += chunk.length;
    this.#writes = this.#writes.then(async () => {
      if (this.#failed) return;
      try {
        // O_APPEND: each write lands at the end; loop over short writes.
        let offset = 0;
        while (offset < chunk.length) {
          const { bytesWritten } = await this.#file.write(chunk, offset, chunk.length - offset);
          offset += bytesWritten;
        }
        this.#written += chunk.length;
        this.#scheduleSync();
      } catch (error) {
        this.#fail(error as Error);
      }
    });
    return this.#writes;
  }

  #scheduleSync(): void {
    if (this.#syncTimer || this.#syncing || this.#closed) return;
    const wait = Math.max(0, this.#lastSyncAt + this.#options.fsyncIntervalMs - Date.now());
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      void this.#sync();
    }, wait);
  }

  async #sync(): Promise<void> {
    if (this.#syncing) return this.#syncing;
    const target = this.#written;
    if (target === this.#durable || this.#failed) return;
    this.#lastSyncAt = Date.now();
    this.#syncing = (async () => {
      try {
        await this.#file.datasync();
        this.#durable = target;
        this.#options.onDurable?.(target);
      } catch (error) {
        this.#fail(error as Error);
      } finally {
        this.#syncing = undefined;
      }
      // Bytes written while this sync ran get the next one.
      if (this.#written > this.#durable && !this.#closed) this.#scheduleSync();
    })();
    return this.#syncing;
  }

  /** Waits for queued writes and makes everything durable; returns the durable length. */
  async flush(): Promise<number> {
    await this.#writes;
    if (this.#syncTimer) {
      clearTimeout(this.#syncTimer);
      this.#syncTimer = undefined;
    }
    await this.#syncing;
    await this.#sync();
    if (this.#failed) throw this.#failed;
    return this.#durable;
  }

  /** Flushes and closes; later appends are ignored. */
  async close(): Promise<number> {
    if (this.#closed) return this.#durable;
    try {
      return await this.flush();
    } finally {
      this.#closed = true;
      await this.#file.close().catch(() => {});
    }
  }

  #fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = error;
    this.#options.onError?.(error);
  }
}
