/**
 * An in-process queue of processing jobs, one per recording id, at most `concurrency` running. It lets
 * a request wait a little for "its" job, lets a delete cancel one, and lets shutdown stop them all
 * without recording a failure (the job is picked up again at the next start).
 */
import { AppError } from '../errors.ts';

export interface JobQueue<T> {
  /** Queues `run` for `id` unless a job for `id` is already queued or running; returns its result. */
  enqueue(id: string, run: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Resolves with the job's result if it settles within `ms`, else `undefined`. */
  waitFor(id: string, ms: number): Promise<T | undefined>;
  has(id: string): boolean;
  /** Aborts the job for `id` (queued or running) and waits until it has settled. */
  cancel(id: string): Promise<void>;
  readonly size: number;
  /** Aborts everything and waits for running jobs to settle; later enqueues are refused. */
  close(): Promise<void>;
  readonly closing: boolean;
}

interface Entry<T> {
  run: (signal: AbortSignal) => Promise<T>;
  controller: AbortController;
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
  started: boolean;
}

export function createJobQueue<T>(options: { concurrency: number; maxQueued: number }): JobQueue<T> {
  const entries = new Map<string, Entry<T>>();
  const waiting: string[] = [];
  let running = 0;
  let closing = false;

  const pump = () => {
    while (!closing && running < options.concurrency && waiting.length > 0) {
      const id = waiting.shift()!;
      const entry = entries.get(id);
      if (!entry || entry.started) continue;
      entry.started = true;
      running++;
      entry
        .run(entry.controller.signal)
        .then(entry.resolve, entry.reject)
        .finally(() => {
          running--;
          entries.delete(id);
          pump();
        });
    }
  };

  return {
    enqueue(id, run) {
      const existing = entries.get(id);
      if (existing) return existing.promise;
      if (closing) return Promise.reject(new AppError('busy', 'the server is shutting down', { retryAfter: 5 }));
      if (waiting.length >= options.maxQueued) {
        return Promise.reject(
          new AppError('busy', 'too many recordings are waiting to be processed', { retryAfter: 30 }),
        );
      }
      let resolve!: (value: T) => void;
      let reject!: (reason: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Callers may only wait for a while; a rejection nobody awaits must not crash the process.
      promise.catch(() => {});
      entries.set(id, { run, controller: new AbortController(), promise, resolve, reject, started: false });
      waiting.push(id);
      pump();
      return promise;
    },

    async waitFor(id, ms) {
      const entry = entries.get(id);
      if (!entry) return undefined;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(resolve, ms, undefined);
      });
      try {
        return await Promise.race([entry.promise, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },

    has: (id) => entries.has(id),

    async cancel(id) {
      const entry = entries.get(id);
      if (!entry) return;
      entry.controller.abort(new AppError('conflict', 'the recording was deleted'));
      if (!entry.started) {
        entries.delete(id);
        entry.reject(new AppError('conflict', 'the recording was deleted'));
        return;
      }
      await entry.promise.catch(() => {});
    },

    get size() {
      return entries.size;
    },

    async close() {
      closing = true;
      const all = [...entries.values()];
      for (const entry of all) {
        entry.controller.abort(new AppError('busy', 'the server is shutting down'));
        if (!entry.started) entry.reject(new AppError('busy', 'the server is shutting down'));
      }
      await Promise.allSettled(all.filter((e) => e.started).map((e) => e.promise));
    },

    get closing() {
      return closing;
    },
  };
}
