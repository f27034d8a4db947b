import type { Kysely } from 'kysely';
import type { Principal } from '../auth/principal.ts';
import type { Db } from '../db/index.ts';
import type { Database, Recording, Transcript } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { JobsRepo } from '../jobs/jobs.repo.ts';
import type { TranscriptionProvider, TranscriptSegment } from './provider.ts';
import { TRANSCRIPTION_OFF } from './providers.ts';
import type { TranscriptsRepo } from './transcripts.repo.ts';

export interface TranscriptQueue {
  transcripts: TranscriptsRepo;
  jobs: JobsRepo;
  provider: Pick<TranscriptionProvider, 'name' | 'model'> | null;
  /** TRANSCRIBE_LANGUAGE, or null to let the provider detect it. */
  language: string | null;
}

/**
 * Queues a transcript of a ready recording inside the caller's transaction: the row becomes pending and
 * a `transcribe` job exists, together or not at all. Nothing happens while one is already pending or
 * being made. `userId` is whose share of the job runner it uses (fair share, per-user queue limit).
 */
export async function queueTranscript(
  trx: Kysely<Database>,
  queue: TranscriptQueue,
  recording: Recording,
  by: { userId: string; requestedBy: string | null },
): Promise<Transcript | undefined> {
  if (!queue.provider) throw new AppError('transcription_unavailable', TRANSCRIPTION_OFF);
  const pending = await queue.transcripts.request(trx, {
    recordingId: recording.id,
    provider: queue.provider.name,
    model: queue.provider.model,
    language: queue.language,
    requestedBy: by.requestedBy,
  });
  if (pending) {
    await queue.jobs.enqueue(trx, {
      kind: 'transcribe',
      recordingId: recording.id,
      userId: by.userId,
      orgId: recording.org_id,
    });
  }
  return pending;
}

export interface TranscriptsServiceDeps extends TranscriptQueue {
  db: Db;
  /** The recording if the user may see it (404 otherwise, for a missing one and another org's alike). */
  getVisible(actor: Principal, recordingId: string, action?: 'use' | 'record'): Promise<Recording>;
  maxQueuedPerUser: number;
  /** A job was queued here: the runner looks now rather than at its next poll. */
  onQueued(): void;
}

export interface TranscriptView {
  recordingId: string;
  /** The recording's name (subtitle file names). */
  name: string;
  transcript: Transcript | undefined;
  segments: TranscriptSegment[];
  /** The server has a provider, so a transcript can be requested. */
  available: boolean;
}

/** Reading and requesting transcripts for the signed-in user; the work is the `transcribe` job's. */
export function createTranscriptsService(deps: TranscriptsServiceDeps) {
  const { db, transcripts, jobs } = deps;

  async function view(recording: Recording): Promise<TranscriptView> {
    const [transcript, segments] = await Promise.all([
      transcripts.get(recording.id),
      transcripts.segments(recording.id),
    ]);
    return { recordingId: recording.id, name: recording.name, transcript, segments, available: deps.provider !== null };
  }

  return {
    async get(actor: Principal, recordingId: string): Promise<TranscriptView> {
      return view(await deps.getVisible(actor, recordingId));
    },

    /**
     * Any member may ask for a transcript of a ready recording, or for a new one; an API key needs the
     * `record` scope, as for anything that makes work for the server.
     */
    async request(actor: Principal, recordingId: string): Promise<TranscriptView> {
      const recording = await deps.getVisible(actor, recordingId, 'record');
      const userId = actor.userId;
      if (!deps.provider) throw new AppError('transcription_unavailable', TRANSCRIPTION_OFF);
      if (recording.status !== 'ready') {
        throw new AppError(
          'conflict',
          `only a ready recording can be transcribed (it is ${recording.status}); ask again once it is ready`,
        );
      }
      if ((await jobs.countForUser(userId)) >= deps.maxQueuedPerUser) {
        throw new AppError('rate_limited', `at most ${deps.maxQueuedPerUser} jobs may wait per user`, {
          retryAfter: 30,
        });
      }
      const queued = await db
        .transaction()
        .execute((trx) => queueTranscript(trx, deps, recording, { userId, requestedBy: userId }));
      if (queued) deps.onQueued();
      return view(recording);
    },
  };
}

export type TranscriptsService = ReturnType<typeof createTranscriptsService>;
