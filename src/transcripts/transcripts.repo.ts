import { type Kysely, sql } from 'kysely';
import type { Db } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { Database, Transcript } from '../db/schema.ts';
import type { Transcription, TranscriptSegment } from './provider.ts';

/**
 * All SQL about transcripts. One row per recording (it goes when the recording goes: foreign keys
 * cascade), its segments beside it. `status` is the latest request's; the segments are the last
 * finished transcript's, kept while a new one is made or if it fails.
 *
 *   (none) ─request→ pending ─job starts→ processing ─→ ready ─request→ pending …
 *                                              └──────→ failed ─request→ pending …
 */
export interface TranscriptsRepo {
  get(recordingId: string): Promise<Transcript | undefined>;
  segments(recordingId: string): Promise<TranscriptSegment[]>;
  /**
   * A new transcript is wanted: none yet, or the last one is ready or failed, becomes `pending`.
   * Undefined when one is already pending or being made (nothing to queue).
   */
  request(
    trx: Kysely<Database>,
    input: {
      recordingId: string;
      provider: string;
      model: string;
      language: string | null;
      requestedBy: string | null;
    },
  ): Promise<Transcript | undefined>;
  /** A job takes it up (again, after a failed attempt); undefined when there is nothing to do. */
  start(recordingId: string): Promise<Transcript | undefined>;
  /** Stores the result and marks it ready; undefined when it is gone (recording deleted). */
  finish(trx: Kysely<Database>, recordingId: string, result: Transcription): Promise<Transcript | undefined>;
  fail(recordingId: string, code: string, message: string): Promise<void>;
}

/** Rows per INSERT: well under SQLite's and PostgreSQL's limits on bound parameters. */
const SEGMENTS_PER_INSERT = 200;

export function createTranscriptsRepo(db: Db): TranscriptsRepo {
  return {
    get: (recordingId) =>
      db.selectFrom('transcripts').selectAll().where('recording_id', '=', recordingId).executeTakeFirst(),

    async segments(recordingId) {
      const rows = await db
        .selectFrom('transcript_segments')
        .select(['start_sec', 'end_sec', 'text'])
        .where('recording_id', '=', recordingId)
        .orderBy('position')
        .execute();
      return rows.map((row) => ({ start: row.start_sec, end: row.end_sec, text: row.text }));
    },

    request(trx, input) {
      const now = nowIso();
      const fresh = {
        status: 'pending' as const,
        provider: input.provider,
        model: input.model,
        language: input.language,
        error: null,
        error_code: null,
        requested_by: input.requestedBy,
        created_at: now,
        updated_at: now,
        finished_at: null,
      };
      return trx
        .insertInto('transcripts')
        .values({ recording_id: input.recordingId, text: '', ...fresh })
        .onConflict((oc) =>
          oc.column('recording_id').doUpdateSet(fresh).where('transcripts.status', 'in', ['ready', 'failed']),
        )
        .returningAll()
        .executeTakeFirst();
    },

    start: (recordingId) =>
      db
        .updateTable('transcripts')
        .set({ status: 'processing', updated_at: nowIso() })
        .where('recording_id', '=', recordingId)
        .where('status', 'in', ['pending', 'processing'])
        .returningAll()
        .executeTakeFirst(),

    async finish(trx, recordingId, result) {
      const now = nowIso();
      const row = await trx
        .updateTable('transcripts')
        .set({
          status: 'ready',
          language: result.language,
          text: result.segments.map((segment) => segment.text).join(' '),
          error: null,
          error_code: null,
          updated_at: now,
          finished_at: now,
        })
        .where('recording_id', '=', recordingId)
        .where('status', '=', 'processing')
        .returningAll()
        .executeTakeFirst();
      if (!row) return undefined;
      await trx.deleteFrom('transcript_segments').where('recording_id', '=', recordingId).execute();
      for (let from = 0; from < result.segments.length; from += SEGMENTS_PER_INSERT) {
        const rows = result.segments.slice(from, from + SEGMENTS_PER_INSERT).map((segment, i) => ({
          recording_id: recordingId,
          position: from + i,
          start_sec: segment.start,
          end_sec: segment.end,
          text: segment.text,
        }));
        await trx.insertInto('transcript_segments').values(rows).execute();
      }
      return row;
    },

    async fail(recordingId, code, message) {
      const now = nowIso();
      await db
        .updateTable('transcripts')
        .set({ status: 'failed', error: message, error_code: code, updated_at: now, finished_at: now })
        .where('recording_id', '=', recordingId)
        .where('status', 'in', ['pending', 'processing'])
        .execute();
    },
  };
}

/**
 * The search condition of the recordings list: `q` in the name or the transcript, case-insensitive.
 * `pattern` is `%<lower-cased q, with % _ \ escaped>%`. Both dialects lower-case with Unicode rules
 * (PostgreSQL by its locale; SQLite through the lower() src/db/sqlite-adapter.ts installs).
 *
 * A substring scan reads the name and transcript of every recording in the user's organisations: fine
 * for thousands of hours of transcripts per organisation, which is what teams hold today. A full-text
 * index (SQLite FTS5, PostgreSQL tsvector with GIN) would make it an index lookup and add word stems
 * and ranking, at the price of two dialect-specific schemas kept in sync by triggers; not needed yet.
 */
export function matchesSearch(pattern: string) {
  return sql<boolean>`(lower(recordings.name) like ${pattern} escape '\\' or exists (
    select 1 from transcripts t where t.recording_id = recordings.id and lower(t.text) like ${pattern} escape '\\'))`;
}

export function searchPattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
