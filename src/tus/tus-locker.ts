import { randomUUID } from 'node:crypto';
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/utils';
import type { TusUploadsRepo } from './tus-uploads.repo.ts';

export interface TusLockerOptions {
  /** A lock nobody renews frees itself after this long: a node that died while writing. */
  ttlMs: number;
  /** How often a holder renews its lock and looks whether another request is waiting for it. */
  heartbeatMs: number;
  /** How often a waiting request tries again. */
  retryMs: number;
  /** A request waits at most this long, then gives up (503, the client retries). */
  timeoutMs: number;
}

const later = (ms: number) => new Date(Date.now() + ms).toISOString();

/**
 * The lock @tus/server takes around every request on an upload, held in the upload's database row so
 * it excludes requests on every node (the library's default MemoryLocker only sees its own process).
 *
 * A lock belongs to one request (a random holder id), lasts `ttlMs` and is renewed every
 * `heartbeatMs` while the request runs, so a node that dies frees its locks by itself. Every new holder
 * raises the row's epoch, which fences a holder that lost the lock (src/tus/tus-store.ts). A request
 * that finds the lock taken sets the row's release flag; the holder sees it at its next renewal and
 * calls the library's `cancelReq`, which ends its request after storing what it received (tus 1.0 asks
 * servers to let a new request take over from a half-open connection). An upload without a row (a new
 * one being created, or one that does not exist) needs no lock.
 */
export function createTusLocker(repo: TusUploadsRepo, options: TusLockerOptions): Locker {
  return { newLock: (id) => new DatabaseLock(id, repo, options) };
}

class DatabaseLock implements Lock {
  private readonly holder = randomUUID();
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly id: string;
  private readonly repo: TusUploadsRepo;
  private readonly options: TusLockerOptions;

  constructor(id: string, repo: TusUploadsRepo, options: TusLockerOptions) {
    this.id = id;
    this.repo = repo;
    this.options = options;
  }

  async lock(signal: AbortSignal, cancelReq: RequestRelease): Promise<void> {
    const deadline = Date.now() + this.options.timeoutMs;
    for (;;) {
      if (signal.aborted) throw ERRORS.ABORTED;
      const now = new Date().toISOString();
      if ((await this.repo.lock(this.id, this.holder, now, later(this.options.ttlMs))) !== undefined) break;
      if (!(await this.repo.requestRelease(this.id))) return;
      if (Date.now() >= deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
      await waitFor(this.options.retryMs, signal);
    }
    this.startHeartbeat(cancelReq);
  }

  async unlock(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.repo.unlock(this.id, this.holder);
  }

  private startHeartbeat(cancelReq: RequestRelease): void {
    let cancelled = false;
    const cancel = () => {
      if (cancelled) return;
      cancelled = true;
      void cancelReq();
    };
    this.heartbeat = setInterval(async () => {
      try {
        const held = await this.repo.renewLock(this.id, this.holder, later(this.options.ttlMs));
        // Asked for by another request, or lost (ran out, or the upload was terminated): finish now.
        if (!held || held.releaseRequested) cancel();
      } catch {
        // The database is unreachable: the lock runs out unless a later renewal gets through.
      }
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
  }
}

function waitFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
