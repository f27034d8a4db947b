/**
 * Runs jobs from the durable queue (jobs.repo.ts) on this node, whatever their kind: claim one, keep
 * the claim alive while its handler works, then complete it, retry it later or give it up. Any node
 * runs any job; a node that dies stops renewing its claims and other nodes run those jobs again.
 *
 * Failures: an AppError with a 4xx code is a verdict on the input (not audio, too long, ...) and fails
 * the job for good at once. Anything else (a worker crash, storage or the database unreachable, a full
 * disk) is retried with exponential backoff and jitter, `maxAttempts` times in all.
 */
import type { Job, JobKind } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import type { JobsRepo } from './jobs.repo.ts';

export interface JobControl {
  /** Aborted on shutdown, on delete of the recording, when the claim is lost, or by `abandon`. */
  signal: AbortSignal;
  /** The job is no longer ours (what it works on was taken over elsewhere): stop, record nothing. */
  abandon(reason: AppError): void;
}

export interface JobHandler {
  /**
   * Does the job. `later` means it could not start yet (what it needs is still held elsewhere): it is
   * handed back without counting as an attempt. Throws to fail the attempt.
   */
  run(job: Job, control: JobControl): Promise<'done' | 'later'>;
  /** The job failed for good: a refusal, or its attempts ran out. */
  failed(job: Job, error: AppError): Promise<void>;
}

export interface RunnerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RunnerDeps {
  jobs: JobsRepo;
  handlers: Record<JobKind, JobHandler>;
  log: RunnerLogger;
  /** Jobs this node runs at once. */
  concurrency: number;
  /** How long a claim holds without renewal; renewed every third of it. */
  lockMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  maxRunningPerUser: number;
  maxRunningPerOrg: number;
  /** How often an idle runner looks for work queued by other nodes. */
  pollMs?: number;
  /** A job was claimed here (metrics: how long it waited). */
  onClaimed?: (job: Job) => void;
}

/** A verdict on the input itself: retrying cannot change it. */
export const isRefusal = (error: AppError) =>
  error.httpStatus >= 400 && error.httpStatus < 500 && error.code !== 'rate_limited';

export function createJobRunner(deps: RunnerDeps) {
  const { jobs, log } = deps;
  const pollMs = deps.pollMs ?? 1000;
  /** Jobs running here, by recording id: a delete on this node aborts its jobs at once. */
  const running = new Map<string, Set<AbortController>>();
  const idle = new Set<() => void>();
  const loops: Promise<void>[] = [];
  let closing = false;

  const wake = () => {
    for (const resolve of idle) resolve();
  };

  /** Backoff with jitter, but never sooner than a service that said when to come back (Retry-After). */
  function retryAt(attempts: number, retryAfterSec = 0): string {
    const base = deps.retryBaseMs * 2 ** Math.max(0, attempts - 1);
    const delay = base / 2 + Math.random() * base; // jitter, so retries of a burst spread out
    return new Date(Date.now() + Math.max(delay, retryAfterSec * 1000)).toISOString();
  }

  function track(recordingId: string, controller: AbortController): () => void {
    const set = running.get(recordingId) ?? new Set();
    set.add(controller);
    running.set(recordingId, set);
    return () => {
      set.delete(controller);
      if (set.size === 0) running.delete(recordingId);
    };
  }

  async function runJob(job: Job): Promise<void> {
    const handler = deps.handlers[job.kind];
    const controller = new AbortController();
    const untrack = track(job.recording_id, controller);
    const renewal = setInterval(async () => {
      try {
        if (!(await jobs.renew(job.id, deps.lockMs))) {
          controller.abort(new AppError('conflict', 'the job was taken over or its recording deleted'));
        }
      } catch (error) {
        // The database is unreachable: keep working; the next renewal may succeed before expiry.
        log.warn({ err: error, jobId: job.id }, 'could not renew a job claim');
      }
    }, deps.lockMs / 3);
    try {
      const outcome = await handler.run(job, {
        signal: controller.signal,
        abandon: (reason) => controller.abort(reason),
      });
      if (outcome === 'later') {
        await jobs.release(job.id, new Date(Date.now() + deps.lockMs / 2).toISOString(), null, { refundAttempt: true });
      } else {
        await jobs.complete(job.id);
      }
    } catch (caught) {
      await settleFailure(job, handler, caught, controller.signal);
    } finally {
      clearInterval(renewal);
      untrack();
    }
  }

  async function settleFailure(job: Job, handler: JobHandler, caught: unknown, signal: AbortSignal): Promise<void> {
    if (signal.aborted) {
      // Our shutdown: hand the job back at once (another node or our next start runs it). Otherwise it
      // was deleted or taken over: nothing of ours to record.
      if (closing) await jobs.release(job.id, new Date().toISOString(), null, { refundAttempt: true }).catch(() => {});
      return;
    }
    const error = isAppError(caught) ? caught : new AppError('internal', 'the job failed', { cause: caught });
    if (!isRefusal(error) && job.attempts < deps.maxAttempts) {
      log.warn({ err: caught, jobId: job.id, kind: job.kind, attempt: job.attempts }, 'job failed; will retry');
      await jobs.release(job.id, retryAt(job.attempts, error.retryAfter), error.message).catch(() => {});
      return;
    }
    if (isRefusal(error))
      log.info({ jobId: job.id, kind: job.kind, code: error.code, reason: error.message }, 'job refused');
    else log.error({ err: caught, jobId: job.id, kind: job.kind }, 'job failed for good');
    try {
      await handler.failed(job, error);
      await jobs.complete(job.id);
    } catch (failError) {
      // The database is gone too: the claim expires and the job runs again.
      log.error({ err: failError, jobId: job.id }, 'could not record a job failure');
    }
  }

  async function loop(): Promise<void> {
    while (!closing) {
      let job: Job | undefined;
      try {
        job = await jobs.claim({
          lockMs: deps.lockMs,
          maxRunningPerUser: deps.maxRunningPerUser,
          maxRunningPerOrg: deps.maxRunningPerOrg,
        });
      } catch (error) {
        log.warn({ err: error }, 'could not claim a job');
      }
      if (job) {
        deps.onClaimed?.(job);
        await runJob(job).catch((error: unknown) => log.error({ err: error, jobId: job.id }, 'job crashed'));
        continue;
      }
      // Woken at once by work queued on this node; work queued elsewhere is found by polling.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          idle.delete(done);
          resolve();
        };
        const timer = setTimeout(done, pollMs);
        idle.add(done);
      });
    }
  }

  return {
    /** Something was queued on this node: look now rather than at the next poll. */
    wake,
    /** The recording was deleted here: stop its jobs now. */
    cancel(recordingId: string): void {
      for (const controller of running.get(recordingId) ?? []) {
        controller.abort(new AppError('not_found', 'the recording was deleted'));
      }
    },
    start(): void {
      for (let i = 0; i < deps.concurrency; i++) loops.push(loop());
    },
    /** Stops claiming; running jobs are aborted and handed back to the queue. */
    async close(): Promise<void> {
      closing = true;
      wake();
      for (const set of running.values()) {
        for (const controller of set) controller.abort(new AppError('busy', 'the server is shutting down'));
      }
      await Promise.allSettled(loops);
    },
    stats: () => ({ running: [...running.values()].reduce((n, set) => n + set.size, 0) }),
  };
}

export type JobRunner = ReturnType<typeof createJobRunner>;
