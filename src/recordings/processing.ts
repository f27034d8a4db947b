/**
 * The `process` job: a recording's input becomes its Ogg/Opus file. Take the recording's lease, stage
 * its input from the store into the spool, make the file (remuxed in this process when a live or stream
 * input already is the stored format, else normalised in a media worker), store the result, mark it
 * ready (lifecycle.complete). The job runner (src/jobs/runner.ts) decides about retries; a job that
 * fails for good fails the recording, which keeps its input for "process again".
 */
import type { Job, Recording } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import { isRefusal, type JobControl, type JobHandler } from '../jobs/runner.ts';
import { liveAudioLimitSec } from '../media/audio-budget.ts';
import { parseInputFormat } from '../media/input-format.ts';
import { remuxFile } from '../media/remux/remux-file.ts';
import type { AudioInfo, MediaEngine } from '../media/types.ts';
import type { Spool } from '../storage/spool.ts';
import type { Lifecycle, LifecycleLogger } from './lifecycle.ts';

export interface ProcessingDeps {
  lifecycle: Lifecycle;
  media: Pick<MediaEngine, 'normalize'>;
  spool: Spool;
  log: LifecycleLogger;
  leaseMs: number;
  /** Longest recording; a live recording is also bounded by how long it was connected. */
  maxDurationSec: number;
  /** Audio a live recording may hold beyond its connected time (LIVE_MAX_AUDIO_AHEAD_SECONDS). */
  liveAheadSec: number;
}

const STAGED_INPUT = 'staged.input';
const NORMALIZED = 'normalized.ogg';
const REMUXED = 'remuxed.ogg';
const PROGRESS_INTERVAL_MS = 500;

/** Message stored on a failed recording: refusals say what was wrong; server faults stay generic. */
function failureMessage(error: AppError, attempts: number): string {
  if (isRefusal(error)) return error.message;
  return `processing failed ${attempts} times because of a server error; the received audio is kept: process it again later`;
}

export function createProcessingHandler(deps: ProcessingDeps): JobHandler {
  const { lifecycle, media, spool, log } = deps;

  /** A live recording cannot hold more audio than it was connected for (plus slack for catching up). */
  function maxDurationOf(recording: Recording): number {
    if (recording.source !== 'live') return deps.maxDurationSec;
    const connectedSec = (Date.parse(recording.updated_at) - Date.parse(recording.created_at)) / 1000;
    return Math.min(deps.maxDurationSec, liveAudioLimitSec(connectedSec, deps.liveAheadSec));
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
    const made = await makeAudio(recording, input, output, {
      onProgress,
      signal,
      maxDurationSec: maxDurationOf(recording),
    });
    await progressWrite;
    signal.throwIfAborted();
    return lifecycle.complete(recording, epoch, made.file, made.info);
  }

  /**
   * The file from the staged input. Live and stream inputs that already are the stored format are
   * remuxed, as a live session would have (src/media/remux/); a live client's declared format says how
   * to read raw bytes (PCM, Opus packets), which have no header to probe.
   */
  async function makeAudio(
    recording: Recording,
    input: string,
    output: string,
    options: { onProgress: (fraction: number) => void; signal: AbortSignal; maxDurationSec: number },
  ): Promise<{ file: string; info: AudioInfo }> {
    const format = parseInputFormat(recording.input_format);
    let source = input;
    if (recording.source !== 'upload' && format.kind !== 'pcm') {
      const remuxed = spool.pathFor(recording.id, REMUXED);
      const outcome = await remuxFile(input, remuxed, format.kind === 'opus' ? 'opus' : null, options.maxDurationSec);
      if (outcome.pipeline === 'remux') return { file: remuxed, info: outcome.info };
      source = outcome.input;
    }
    const pcm = format.kind === 'pcm' ? { pcm: format } : {};
    return { file: output, info: await media.normalize(source, output, { ...options, ...pcm }) };
  }

  return {
    async run(job: Job, { signal, abandon }: JobControl) {
      const leased = await lifecycle.acquire(job.recording_id, { kind: 'free' });
      // Still owned by someone: a live session finishing, or a node whose job claim ran out first.
      if (!leased) return 'later';
      if (leased.status !== 'processing') {
        await lifecycle.release(leased.id, leased.lease_epoch);
        return 'done';
      }
      const epoch = leased.lease_epoch;
      // The recording's lease, renewed beside the job's claim: losing it means another node owns it now.
      const renewal = setInterval(async () => {
        try {
          if (!(await lifecycle.renew(leased.id, epoch))) {
            abandon(new AppError('conflict', 'the recording was taken over or deleted'));
          }
        } catch (error) {
          log.warn({ err: error, recordingId: leased.id }, 'could not renew a processing lease');
        }
      }, deps.leaseMs / 3);
      try {
        const ready = await process(leased, epoch, signal);
        if (ready) log.info({ recordingId: ready.id, durationSec: ready.duration_sec }, 'recording ready');
        return 'done';
      } catch (error) {
        // The next attempt (or the failure) may be recorded by another node: let the recording go.
        await lifecycle.release(leased.id, epoch).catch(() => {});
        await spool.remove(leased.id).catch(() => {});
        throw error;
      } finally {
        clearInterval(renewal);
      }
    },

    async failed(job: Job, error: AppError) {
      // The lease was released after the last attempt: take it to record the failure.
      const leased = await lifecycle.acquire(job.recording_id, { kind: 'free' });
      if (!leased) {
        // Held elsewhere for now: the job must stay (the runner keeps it when this throws), or the
        // recording would wait in `processing` with nothing left to finish it.
        if ((await lifecycle.current(job.recording_id))?.status === 'processing') {
          throw new AppError('conflict', 'the recording is held by another node; its failure is recorded later');
        }
        return;
      }
      if (leased.status !== 'processing') {
        await lifecycle.release(leased.id, leased.lease_epoch);
        return;
      }
      await lifecycle.fail(leased.id, leased.lease_epoch, error, failureMessage(error, job.attempts));
    },
  };
}
