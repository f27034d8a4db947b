/**
 * Supervised pool of media worker processes. Untrusted media is only ever decoded in these processes:
 * a crash or hang takes down one worker, fails the requests it held (AppError internal, or
 * media_timeout for the job that overran), and a replacement is forked.
 *
 * Scheduling: each worker runs at most one file job (normalize/probe) at a time plus any number of live
 * sessions; file jobs wait in a bounded FIFO when every worker is busy, and a full queue rejects with
 * AppError busy.
 */

import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors.ts';
import type { Reply, Request } from './protocol.ts';
import { fromWire } from './protocol.ts';
import type { AudioInfo, MediaLogger } from './types.ts';
import type { WhisperSegment } from './whisper.ts';

/** What a worker's `done` reply carries: a file's facts, or a transcript's segments. */
type Result = AudioInfo | WhisperSegment[] | undefined;

/** How long openLive waits for a (re)starting worker before giving up. */
const WORKER_START_WAIT_MS = 10_000;
const WORKER_ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url));

export interface PoolOptions {
  workers: number;
  jobTimeoutMs: number;
  maxQueue: number;
  maxLivePerWorker: number;
  logger?: MediaLogger | undefined;
  onWorkerRestart?: (() => void) | undefined;
}

interface Pending {
  resolve: (value: Result) => void;
  reject: (err: AppError) => void;
  onProgress?: ((fraction: number) => void) | undefined;
  timer?: NodeJS.Timeout | undefined;
  /** Set when the worker was killed because of this request. */
  timedOut?: boolean;
}

/** A file job waiting for a worker. */
interface Queued {
  build: (id: number) => Request;
  pending: Pending;
  signal?: AbortSignal | undefined;
}

export class WorkerHandle {
  readonly proc: ChildProcess;
  ready = false;
  dead = false;
  fileJob: number | null = null;
  readonly live = new Set<number>();
  readonly pending = new Map<number, Pending>();

  constructor(proc: ChildProcess) {
    this.proc = proc;
  }
}

export class MediaPool {
  private readonly opts: PoolOptions;
  private readonly workers: WorkerHandle[] = [];
  private readonly queue: Queued[] = [];
  private nextId = 1;
  private closing = false;
  private readyWaiters: Array<() => void> = [];

  constructor(opts: PoolOptions) {
    this.opts = opts;
    for (let i = 0; i < opts.workers; i++) this.spawn();
  }

  /** Run a normalize/probe/transcribe job on the next free worker, with the wall-clock limit. */
  runFile<T extends Result = AudioInfo>(
    build: (id: number) => Request,
    onProgress?: (fraction: number) => void,
    signal?: AbortSignal,
  ): Promise<T> {
    if (this.closing) return Promise.reject(new AppError('internal', 'media engine is closed'));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<Result>((resolve, reject) => {
      const item: Queued = { build, pending: { resolve, reject, onProgress }, signal };
      if (this.queue.length >= this.opts.maxQueue && !this.freeWorker()) {
        reject(new AppError('busy', 'media workers are busy, try again shortly', { retryAfter: 5 }));
        return;
      }
      signal?.addEventListener('abort', () => this.abortJob(item), { once: true });
      this.queue.push(item);
      this.dispatch();
    }) as Promise<T>;
  }

  /** Pick a worker for a new live session (fewest sessions first). */
  async pinLive(): Promise<WorkerHandle> {
    const deadline = Date.now() + WORKER_START_WAIT_MS;
    for (;;) {
      if (this.closing) throw new AppError('internal', 'media engine is closed');
      const candidates = this.workers.filter((w) => !w.dead && w.live.size < this.opts.maxLivePerWorker);
      candidates.sort((a, b) => a.live.size - b.live.size);
      const ready = candidates.find((w) => w.ready);
      if (ready) return ready;
      // Only starting (or restarting) workers have room: wait for one rather than refusing.
      if (candidates.length === 0 && this.workers.length >= this.opts.workers) {
        throw new AppError('busy', 'no media worker can take another live session', { retryAfter: 5 });
      }
      if (Date.now() > deadline) throw new AppError('internal', 'media workers did not start');
      await new Promise<void>((resolve) => {
        this.readyWaiters.push(resolve);
        setTimeout(resolve, 200).unref();
      });
    }
  }

  /** Send one request to a specific worker and wait for its reply (used by live sessions). */
  request(
    w: WorkerHandle,
    build: (id: number) => Request,
    timeoutMs = this.opts.jobTimeoutMs,
  ): Promise<AudioInfo | undefined> {
    if (w.dead) return Promise.reject(new AppError('internal', 'media worker for this session crashed'));
    return new Promise<Result>((resolve, reject) => {
      const id = this.nextId++;
      const pending: Pending = { resolve, reject };
      this.send(w, id, build(id), pending, timeoutMs);
    }) as Promise<AudioInfo | undefined>;
  }

  stats(): { workers: Array<{ pid: number | undefined; busy: boolean; live: number }>; queued: number } {
    return {
      workers: this.workers.map((w) => ({ pid: w.proc.pid, busy: w.fileJob !== null, live: w.live.size })),
      queued: this.queue.length,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const q of this.queue.splice(0)) q.pending.reject(new AppError('internal', 'media engine closed'));
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.proc.exitCode !== null || w.proc.signalCode !== null) return resolve();
            w.proc.once('exit', () => resolve());
            w.proc.kill('SIGKILL');
          }),
      ),
    );
  }

  private spawn(): void {
    const proc = fork(WORKER_ENTRY, [], {
      execPath: process.execPath,
      execArgv: [],
      serialization: 'advanced', // structured clone, not JSON: values arrive as sent (NaN stays NaN, not null)
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const w = new WorkerHandle(proc);
    this.workers.push(w);
    proc.on('message', (msg: Reply) => this.onMessage(w, msg));
    proc.on('exit', (code, signal) => this.onExit(w, code, signal));
    proc.on('error', (err) => {
      this.opts.logger?.error({ err, pid: proc.pid }, 'media worker process error');
      proc.kill('SIGKILL');
    });
  }

  private onMessage(w: WorkerHandle, msg: Reply): void {
    if (msg.type === 'ready') {
      w.ready = true;
      for (const wake of this.readyWaiters.splice(0)) wake();
      this.dispatch();
      return;
    }
    const p = w.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') {
      p.onProgress?.(msg.fraction);
      return;
    }
    w.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (w.fileJob === msg.id) w.fileJob = null;
    if (msg.type === 'done') p.resolve(msg.result);
    else p.reject(fromWire(msg.error));
    this.dispatch();
  }

  private onExit(w: WorkerHandle, code: number | null, signal: string | null): void {
    w.dead = true;
    this.workers.splice(this.workers.indexOf(w), 1);
    if (!this.closing) this.opts.logger?.warn({ pid: w.proc.pid, code, signal }, 'media worker exited; replacing it');
    for (const p of w.pending.values()) {
      clearTimeout(p.timer);
      if (p.timedOut) {
        p.reject(
          new AppError('media_timeout', `media processing exceeded the ${this.opts.jobTimeoutMs / 1000}s limit`),
        );
      } else {
        p.reject(new AppError('internal', `media worker crashed (${signal ?? `exit code ${code}`})`));
      }
    }
    w.pending.clear();
    if (this.closing) return;
    this.opts.onWorkerRestart?.();
    // A worker that dies before it was ever ready (broken install) must not turn into a fork loop.
    const quick = !w.ready;
    setTimeout(
      () => {
        if (!this.closing) {
          this.spawn();
          this.dispatch();
        }
      },
      quick ? 1000 : 0,
    ).unref();
  }

  private freeWorker(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const w of this.workers) {
      if (!w.ready || w.dead || w.fileJob !== null) continue;
      if (!best || w.live.size < best.live.size) best = w;
    }
    return best;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const w = this.freeWorker();
      if (!w) return;
      const item = this.queue.shift()!;
      const id = this.nextId++;
      w.fileJob = id;
      item.signal?.addEventListener('abort', () => this.cancelRunning(w, id), { once: true });
      this.send(w, id, item.build(id), item.pending, this.opts.jobTimeoutMs);
    }
  }

  private send(w: WorkerHandle, id: number, req: Request, p: Pending, timeoutMs: number): void {
    w.pending.set(id, p);
    p.timer = setTimeout(() => {
      // A hung decoder cannot be interrupted from outside: kill the process (and what it held).
      p.timedOut = true;
      this.opts.logger?.warn({ pid: w.proc.pid, id, type: req.type }, 'media job timed out; killing worker');
      w.proc.kill('SIGKILL');
    }, timeoutMs);
    p.timer.unref();
    w.proc.send(req, (err) => {
      if (err && !w.dead) w.proc.kill('SIGKILL'); // the channel is broken; exit handling fails the requests
    });
  }

  private abortJob(item: Queued): void {
    const i = this.queue.indexOf(item);
    if (i >= 0) {
      this.queue.splice(i, 1);
      item.pending.reject(abortError(item.signal!));
    }
  }

  private cancelRunning(w: WorkerHandle, id: number): void {
    if (!w.pending.has(id) || w.dead) return;
    w.proc.send({ type: 'cancel', id: this.nextId++, target: id } satisfies Request, () => {});
  }
}

function abortError(signal: AbortSignal): AppError {
  return new AppError('internal', 'media job aborted', { cause: signal.reason });
}
