import { access } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { nowIso } from '../db/index.ts';
import type { Recording } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import type { AudioInfo, MediaEngine } from '../media/types.ts';
import type { OrgAccess } from '../orgs/access.ts';
import type { BlobInfo, BlobStore } from '../storage/blob-store.ts';
import type { Spool } from '../storage/spool.ts';
import { createJobQueue } from './job-queue.ts';
import type { KeyedLock } from './keyed-lock.ts';
import type { RecordingsRepo } from './recordings.repo.ts';

export interface RecordingsLogger {
  info: (obj: object, msg?: string) => void;
  warn: (obj: object, msg?: string) => void;
  error: (obj: object, msg?: string) => void;
}

export interface RecordingsServiceDeps {
  repo: RecordingsRepo;
  blobs: BlobStore;
  spool: Spool;
  media: MediaEngine;
  orgAccess: OrgAccess;
  /** Shared with the stream service so a delete never races an append. */
  locks: KeyedLock;
  logger: RecordingsLogger;
  /** Processing jobs running at once (the media engine has its own pool and queue behind this). */
  concurrency: number;
  /** Jobs allowed to wait; beyond that new uploads are refused with 503. */
  maxQueued?: number;
}

/** What a processing job ended with. `interrupted` means shutdown or delete: nothing was recorded. */
export type ProcessOutcome = { ok: true; recording: Recording } | { ok: false; error: AppError; interrupted: boolean };

export interface ListPage {
  items: Recording[];
  nextCursor: string | null;
}

export interface AudioHandle {
  recording: Recording;
  blob: BlobInfo;
  read(range?: { start: number; end: number }): Promise<Readable>;
}

/** Spool file names, per recording folder. Inputs are named by the server, never by the client. */
export const SPOOL_FILES = { upload: 'upload.input', normalized: 'normalized.ogg' } as const;

const PROGRESS_INTERVAL_MS = 500;

export const audioKeyFor = (recording: Pick<Recording, 'org_id' | 'id'>) =>
  `recordings/${recording.org_id}/${recording.id}.ogg`;

function encodeCursor(recording: Recording): string {
  return Buffer.from(JSON.stringify([recording.created_at, recording.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string') {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {}
  throw new AppError('validation_failed', '"before" is not a cursor this server returned (use next_cursor)');
}

/** Message stored on a failed recording: 4xx messages say what was wrong; server faults stay generic. */
function failureMessage(error: AppError): string {
  if (error.code === 'internal') return 'processing failed because of a server error; try uploading again';
  if (error.code === 'busy') return `the server was too busy to process this recording (${error.message})`;
  return error.message;
}

export function createRecordingsService(deps: RecordingsServiceDeps) {
  const { repo, blobs, spool, media, orgAccess, locks, logger } = deps;
  const jobs = createJobQueue<ProcessOutcome>({ concurrency: deps.concurrency, maxQueued: deps.maxQueued ?? 1000 });

  /** The recording if the user may see it; 404 for a missing one and for another org's alike. */
  async function getVisible(userId: string, id: string): Promise<Recording> {
    const recording = await repo.get(id);
    if (!recording) throw new AppError('not_found', 'recording not found');
    try {
      await orgAccess.require(userId, recording.org_id);
    } catch (error) {
      if (isAppError(error) && error.code === 'not_found') throw new AppError('not_found', 'recording not found');
      throw error;
    }
    return recording;
  }

  async function attachAudio(recordingId: string, oggPath: string, info: AudioInfo): Promise<Recording> {
    const recording = await repo.get(recordingId);
    if (!recording) throw new AppError('not_found', 'recording not found');
    const key = audioKeyFor(recording);
    const blob = await blobs.putFile(key, oggPath);
    const updated = await repo.update(recordingId, {
      status: 'ready',
      progress: 1,
      error: null,
      audio_key: key,
      duration_sec: info.durationSec,
      size_bytes: blob.size,
      codec: info.codec,
      sample_rate: info.sampleRate,
      channels: info.channels,
      bitrate: Math.round(info.bitrate),
      finished_at: nowIso(),
    });
    if (!updated) {
      // Deleted while we were finishing: do not leave an orphan file behind.
      await blobs.delete(key);
      throw new AppError('not_found', 'recording was deleted');
    }
    return updated;
  }

  async function fail(recordingId: string, message: string): Promise<void> {
    await repo.update(recordingId, { status: 'failed', error: message, finished_at: nowIso() });
  }

  async function runJob(recordingId: string, inputPath: string, signal: AbortSignal): Promise<ProcessOutcome> {
    const started = await repo.update(recordingId, { status: 'processing', progress: 0, error: null });
    if (!started) return { ok: false, error: new AppError('not_found', 'recording was deleted'), interrupted: true };
    await spool.dirFor(recordingId);
    const output = spool.pathFor(recordingId, SPOOL_FILES.normalized);
    let progressWrite: Promise<void> = Promise.resolve();
    let lastAt = 0;
    let lastFraction = 0;
    const onProgress = (fraction: number) => {
      const now = Date.now();
      // The engine already throttles; this keeps database writes to two a second per job at most.
      if (now - lastAt < PROGRESS_INTERVAL_MS || fraction - lastFraction < 0.01) return;
      lastAt = now;
      lastFraction = fraction;
      const value = Math.min(0.99, Math.max(0, fraction));
      progressWrite = progressWrite.then(() => repo.setProgress(recordingId, value)).catch(() => {});
    };
    try {
      const info = await media.normalize(inputPath, output, { onProgress, signal });
      await progressWrite;
      if (signal.aborted) throw signal.reason;
      const recording = await attachAudio(recordingId, output, info);
      await spool.remove(recordingId);
      logger.info({ recordingId, durationSec: info.durationSec }, 'recording ready');
      return { ok: true, recording };
    } catch (caught) {
      await progressWrite;
      const error = isAppError(caught) ? caught : new AppError('internal', 'processing failed', { cause: caught });
      if (signal.aborted) {
        // Shutdown keeps the input so the job runs again at the next start; a delete cleans up itself.
        return { ok: false, error: isAppError(signal.reason) ? signal.reason : error, interrupted: true };
      }
      if (error.code === 'internal') logger.error({ err: caught, recordingId }, 'processing failed');
      else logger.info({ recordingId, code: error.code, reason: error.message }, 'recording refused');
      await fail(recordingId, failureMessage(error));
      await spool.remove(recordingId);
      return { ok: false, error, interrupted: false };
    }
  }

  /**
   * Spool folders left by a crash: uploads that never became a recording (only upload files inside),
   * and uploads/streams that finished but were not cleaned up. Live folders are the live module's.
   */
  async function sweepSpool(): Promise<void> {
    for (const { recordingId, files } of await spool.list()) {
      if (jobs.has(recordingId)) continue;
      const recording = await repo.get(recordingId);
      const orphanUpload = !recording && files.every((file) => file.startsWith('upload.'));
      const finished =
        recording && recording.source !== 'live' && (recording.status === 'ready' || recording.status === 'failed');
      if (orphanUpload || finished) {
        logger.info({ recordingId }, 'removing leftover spool folder');
        await spool.remove(recordingId);
      }
    }
  }

  /** Queues processing of `inputPath` for the recording (once per recording). */
  function startProcessing(recordingId: string, inputPath: string): Promise<ProcessOutcome> {
    return jobs.enqueue(recordingId, (signal) => runJob(recordingId, inputPath, signal));
  }

  return {
    getVisible,
    attachAudio,
    fail,
    startProcessing,

    /** Contract for the live engine: never throws for media errors, it records them on the recording. */
    async processInput(recordingId: string, inputPath: string): Promise<void> {
      try {
        await startProcessing(recordingId, inputPath);
      } catch (error) {
        // Only the queue itself rejects (full, or shutting down).
        if (jobs.closing) return;
        const appError = isAppError(error) ? error : new AppError('internal', 'processing failed', { cause: error });
        await fail(recordingId, failureMessage(appError));
      }
    },

    /**
     * Waits up to `ms` for the recording's job. `undefined` means still running (or not queued here).
     */
    async waitForJob(recordingId: string, ms: number): Promise<ProcessOutcome | undefined> {
      return jobs.waitFor(recordingId, ms);
    },

    async list(userId: string, query: { orgId?: string; limit: number; before?: string }): Promise<ListPage> {
      const orgIds = query.orgId
        ? [(await orgAccess.require(userId, query.orgId)).orgId]
        : await orgAccess.orgIdsOf(userId);
      const rows = await repo.list({
        orgIds,
        limit: query.limit + 1,
        ...(query.before ? { before: decodeCursor(query.before) } : {}),
      });
      const items = rows.slice(0, query.limit);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null };
    },

    async rename(userId: string, id: string, name: string): Promise<Recording> {
      await orgAccess.requireRecordingManage(userId, await getVisible(userId, id));
      const updated = await repo.update(id, { name });
      if (!updated) throw new AppError('not_found', 'recording not found');
      return updated;
    },

    /** Removes the recording, its audio and anything in the spool; a running job is cancelled first. */
    async remove(userId: string, id: string): Promise<void> {
      const recording = await getVisible(userId, id);
      await orgAccess.requireRecordingManage(userId, recording);
      await locks.run(id, async () => {
        await jobs.cancel(id);
        await repo.delete(id);
        await spool.remove(id);
        await blobs.delete(recording.audio_key ?? audioKeyFor(recording));
      });
    },

    async openAudio(userId: string, id: string): Promise<AudioHandle> {
      const recording = await getVisible(userId, id);
      if (recording.status !== 'ready' || !recording.audio_key) {
        throw new AppError('conflict', `the audio is not available: the recording is ${recording.status}`, {
          details: { status: recording.status },
        });
      }
      const key = recording.audio_key;
      const blob = await blobs.stat(key);
      if (!blob) throw new AppError('internal', `audio file for recording ${id} is missing from storage`);
      return { recording, blob, read: (range) => blobs.read(key, range) };
    },

    /**
     * After a restart: uploads and finished streams left `processing` are queued again when their input
     * is still in the spool, and marked failed when it is not. Live recordings belong to the live module.
     */
    async recover(): Promise<number> {
      let queued = 0;
      const pending = await repo.byStatus(['processing']);
      for (const recording of pending) {
        if (recording.source === 'live') continue;
        // Uploads and streams both name their spool input file in input_key.
        const input = recording.input_key ? spool.pathFor(recording.id, recording.input_key) : undefined;
        const present = input
          ? await access(input).then(
              () => true,
              () => false,
            )
          : false;
        if (!input || !present) {
          await fail(recording.id, 'the server restarted and the received input was lost; upload the file again');
          continue;
        }
        startProcessing(recording.id, input).catch(() => {});
        queued++;
      }
      if (queued) logger.info({ queued }, 'resumed processing of recordings interrupted by a restart');
      await sweepSpool();
      return queued;
    },

    /** Stops processing: running jobs are abandoned (they resume at the next start). */
    close: () => jobs.close(),
  };
}

export type RecordingsService = ReturnType<typeof createRecordingsService>;
