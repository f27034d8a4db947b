/**
 * Runs processing jobs from the durable queue (jobs.repo.ts) on this node: claim a job, take the
 * recording's lease, stage its input from the store into the spool, normalise it in a media worker,
 * store the result, mark it ready. Any node runs any job; a node that dies mid-job stops renewing its
 * claim and another node runs the job again.
 *
 * Failures: a media refusal (not audio, corrupt, too long: the 4xx codes) fails the recording for good
 * at once. Anything else (a worker crash, the store or the database unreachable, a full disk) is
 * retried with exponential backoff and jitter, PROCESSING_MAX_ATTEMPTS times in all, before the
 * recording fails; either way its input is kept (lifecycle.fail).
 */
import type { Job, Recording } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import { liveAudioLimitSec } from '../media/audio-budget.ts';
import type { MediaEngine } from '../media/types.ts';
import type { Spool } from '../storage/spool.ts';
import type { JobsRepo } from './jobs.repo.ts';
import type { Lifecycle, LifecycleLogger } from './lifecycle.ts';

export interface ProcessorDeps {
  jobs: JobsRepo;
  lifecycle: Lifecycle;
  media: Pick<MediaEngine, 'normalize'>;
  spool: Spool;
  log: LifecycleLogger;
  /** Jobs this node runs at once (about one per media worker). */
  concurrency: number;
  leaseMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  maxRunningPerUser: number;
  maxRunningPerOrg: number;
  /** Longest recording; a live recording is also bounded by how long it was connected. */
  maxDurationSec: number;
  /** How often an idle runner looks for work queued by other nodes. */
  pollMs?: number;
}

const STAGED_INPUT = 'staged.input';
const NORMALIZED = 'normalized.ogg';
const PROGRESS_INTERVAL_MS = 500;

/** A media verdict on the input itself: retrying cannot change it. */
const isPermanent = (error: AppError) =>
  error.httpStatus >= 400 && error.httpStatus < 500 && error.code !== 'rate_limited';

/** Message stored on a failed recording: 4xx messages say what was wrong; server faults stay generic. */
function failureMessage(error: AppError, attempts: number): string {
  if (isPermanent(error)) return error.message;
  return `processing failed ${attempts} times because of a server error; the received audio is kept: process it again later`;
}

export function createProcessor(deps: ProcessorDeps) {
  const { jobs, lifecycle, media, spool, log } = deps;
  const pollMs = deps.pollMs ?? 1000;
  /** Jobs running here, by recording id: a delete on this node aborts its job at once. */
  const running = new Map<string, AbortController>();
  let closing = false;
  const idle = new Set<() => void>();
  const loops: Promise<void>[] = [];

  const wake = () => {
    for (const resolve of idle) resolve();
  };
  lifecycle.events.on('queued', wake);
  lifecycle.events.on('event', (event) => {
    if (event.type === 'removed') running.get(event.recordingId)?.abort(new AppError('not_found', 'recording deleted'));
  });

  function backoff(attempts: number): string {
    const base = deps.retryBaseMs * 2 ** Math.max(0, attempts - 1);
    const delay = base / 2 + Math.random() * base; // full jitter around the base
    return new Date(Date.now() + delay).toISOString();
  }

  /** Keeps the job claim and the recording lease alive; aborts the job when either is lost. */
  function keepAlive(job: Job, recordingId: string, epoch: number, controller: AbortController): () => void {
    const timer = setInterval(async () => {
      try {
        const [claim, lease] = await Promise.all([
          jobs.renew(job.id, deps.leaseMs),
          lifecycle.renew(recordingId, epoch),
        ]);
        if (!claim || !lease)
          controller.abort(new AppError('conflict', 'the job was taken over or its recording deleted'));
      } catch (error) {
        // The database is unreachable: keep working, the next renewal may succeed before expiry.
        log.warn({ err: error, recordingId }, 'could not renew a processing lease');
      }
    }, deps.leaseMs / 3);
    timer.unref();
    return () => clearInterval(timer);
  }

  async function runJob(job: Job): Promise<void> {
    const leased = await lifecycle.acquire(job.recording_id, { kind: 'free' });
    if (!leased) {
      // Still owned by someone (a live session finishing, a node whose job claim ran out first).
      await jobs.release(job.id, new Date(Date.now() + deps.leaseMs / 2).toISOString(), null, { refundAttempt: true });
      return;
    }
    if (leased.status !== 'processing') {
      await lifecycle.release(leased.id, leased.lease_epoch);
      await jobs.complete(job.id);
      return;
    }
    const epoch = leased.lease_epoch;
    const controller = new AbortController();
    running.set(leased.id, controller);
    const stopRenewing = keepAlive(job, leased.id, epoch, controller);
    try {
      const ready = await process(leased, epoch, controller.signal);
      if (ready) log.info({ recordingId: ready.id, durationSec: ready.duration_sec }, 'recording ready');
      await jobs.complete(job.id);
    } catch (caught) {
      await settleFailure(job, leased, epoch, caught, controller.signal);
    } finally {
      stopRenewing();
      running.delete(leased.id);
    }
  }

  async function process(recording: Recording, epoch: number, signal: AbortSignal): Promise<Recording | undefined> {
    await spool.dirFor(recording.id);
    const input = spool.pathFor(recording.id, STAGED_INPUT);
    const output = spool.pathFor(recording.id, NORMALIZED);
    await lifecycle.stageInput(recording, input).catch((error: unknown) => {
      if (isAppError(error) && error.code === 'not_found') {
        throw new AppError('not_found', 'the received audio is missing from storage; upload it again');
      }
      throw error;
    });
    signal.throwIfAborted();
    let lastAt = 0;
    let progressWrite = Promise.resolve();
    const onProgress = (fraction: number) => {
      if (Date.now() - lastAt < PROGRESS_INTERVAL_MS) return;
      lastAt = Date.now();
      const value = Math.min(0.99, Math.max(0, fraction));
      progressWrite = progressWrite.then(() => lifecycle.setProgress(recording.id, epoch, value)).catch(() => {});
    };
    const info = await media.normalize(input, output, {
      onProgress,
      signal,
      maxDurationSec: maxDurationOf(recording),
    });
    await progressWrite;
    signal.throwIfAborted();
    return lifecycle.complete(recording, epoch, output, info);
  }

  /** A live recording cannot hold more audio than it was connected for (plus slack for catching up). */
  function maxDurationOf(recording: Recording): number {
    if (recording.source !== 'live') return deps.maxDurationSec;
    const connectedSec = (Date.parse(recording.updated_at) - Date.parse(recording.created_at)) / 1000;
    return Math.min(deps.maxDurationSec, liveAudioLimitSec(connectedSec));
  }

  async function settleFailure(job: Job, recording: Recording, epoch: number, caught: unknown, signal: AbortSignal) {
    if (signal.aborted) {
      if (closing) {
        // Our shutdown: give the job back at once for another node (or our next start).
        await jobs.release(job.id, new Date().toISOString(), null, { refundAttempt: true }).catch(() => {});
        await lifecycle.release(recording.id, epoch).catch(() => {});
      }
      // Otherwise deleted or taken over: nothing of ours to record.
      return;
    }
    const error = isAppError(caught) ? caught : new AppError('internal', 'processing failed', { cause: caught });
    if (!isPermanent(error) && job.attempts < deps.maxAttempts) {
      log.warn({ err: caught, recordingId: recording.id, attempt: job.attempts }, 'processing failed; will retry');
      await lifecycle.release(recording.id, epoch).catch(() => {});
      await jobs.release(job.id, backoff(job.attempts), error.message).catch(() => {});
      await spool.remove(recording.id).catch(() => {});
      return;
    }
    if (isPermanent(error))
      log.info({ recordingId: recording.id, code: error.code, reason: error.message }, 'recording refused');
    else log.error({ err: caught, recordingId: recording.id }, 'processing failed for good');
    try {
      await lifecycle.fail(recording.id, epoch, error, failureMessage(error, job.attempts));
      await jobs.complete(job.id);
    } catch (failError) {
      // The database is gone too: the claim expires and the job runs again.
      log.error({ err: failError, recordingId: recording.id }, 'could not record a processing failure');
    }
  }

  async function loop(): Promise<void> {
    while (!closing) {
      let job: Job | undefined;
      try {
        job = await jobs.claim({
          lockMs: deps.leaseMs,
          maxRunningPerUser: deps.maxRunningPerUser,
          maxRunningPerOrg: deps.maxRunningPerOrg,
        });
      } catch (error) {
        log.warn({ err: error }, 'could not claim a processing job');
      }
      if (job) {
        await runJob(job).catch((error: unknown) => log.error({ err: error, jobId: job.id }, 'processing job crashed'));
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
    start(): void {
      for (let i = 0; i < deps.concurrency; i++) loops.push(loop());
    },
    /** Stops claiming; running jobs are aborted and handed back to the queue. */
    async close(): Promise<void> {
      closing = true;
      wake();
      for (const controller of running.values()) controller.abort(new AppError('busy', 'the server is shutting down'));
      await Promise.allSettled(loops);
    },
    stats: () => ({ running: running.size }),
  };
}

export type Processor = ReturnType<typeof createProcessor>;
