/**
 * The `transcribe` job: the ready recording's audio is copied from the store into this node's spool, the
 * configured provider turns it into segments, and the segments are stored with the transcript marked
 * ready and `transcript.ready` recorded for integrations, in one transaction. The job runner
 * (src/jobs/runner.ts) retries failures with backoff and fails a refusal at once, as for processing; a
 * transcript that fails for good says why. Deleting the recording deletes the transcript and the job
 * (foreign keys cascade) and aborts a running one.
 */
import type { Db } from '../db/index.ts';
import type { Job } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { RecordingEventSink } from '../events/recording-events.ts';
import type { JobControl, JobHandler } from '../jobs/runner.ts';
import type { LifecycleLogger } from '../recordings/lifecycle.ts';
import type { RecordingsRepo } from '../recordings/recordings.repo.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { Spool } from '../storage/spool.ts';
import type { TranscriptionProvider } from './provider.ts';
import { TRANSCRIPTION_OFF } from './providers.ts';
import type { TranscriptsRepo } from './transcripts.repo.ts';

export interface TranscribeJobDeps {
  db: Db;
  transcripts: TranscriptsRepo;
  recordings: Pick<RecordingsRepo, 'get'>;
  blobs: Pick<BlobStore, 'download'>;
  spool: Spool;
  provider: TranscriptionProvider | null;
  language: string | null;
  events: RecordingEventSink;
  log: LifecycleLogger;
}

/** The spool folder of a transcription: apart from the recording's own, which processing removes when it ends. */
const workFolder = (recordingId: string) => `transcript-${recordingId}`;

/** Stored on a failed transcript: what the provider or engine said, except for our own server faults. */
function failureMessage(error: AppError, attempts: number): string {
  if (error.code !== 'internal') return error.message;
  return `transcription failed ${attempts} times because of a server error; ask for it again later`;
}

export function createTranscribeHandler(deps: TranscribeJobDeps): JobHandler {
  const { db, transcripts, spool, log } = deps;

  return {
    async run(job: Job, { signal }: JobControl) {
      const recording = await deps.recordings.get(job.recording_id);
      if (!recording?.audio_key || recording.status !== 'ready') return 'done';
      if (!deps.provider) throw new AppError('transcription_unavailable', TRANSCRIPTION_OFF);
      if (!(await transcripts.start(recording.id))) return 'done';
      const folder = workFolder(recording.id);
      try {
        await spool.dirFor(folder);
        const audio = spool.pathFor(folder, `${recording.id}.ogg`);
        await deps.blobs.download(recording.audio_key, audio);
        signal.throwIfAborted();
        const result = await deps.provider.transcribe(audio, { language: deps.language, signal });
        signal.throwIfAborted();
        const stored = await db.transaction().execute(async (trx) => {
          const row = await transcripts.finish(trx, recording.id, result);
          if (row) {
            await deps.events.record(trx, {
              type: 'transcript.ready',
              recording,
              data: {
                provider: row.provider,
                model: row.model,
                language: row.language,
                segments: result.segments.length,
              },
            });
          }
          return row;
        });
        if (stored) log.info({ recordingId: recording.id, segments: result.segments.length }, 'transcript ready');
        return 'done';
      } finally {
        await spool.remove(folder).catch(() => {});
      }
    },

    async failed(job: Job, error: AppError) {
      await transcripts.fail(job.recording_id, error.code, failureMessage(error, job.attempts));
    },
  };
}
