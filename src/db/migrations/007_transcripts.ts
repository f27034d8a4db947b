import type { Kysely } from 'kysely';

/**
 * Transcripts of recordings (src/transcripts/): one per recording, its timed segments in order, and
 * per-organisation settings. `transcripts.text` repeats the segments' text joined, so a search for a
 * phrase that runs across two segments still finds it.
 *
 * `org_settings` holds one row per organisation that changed a default (no row: every default). Each
 * setting is a typed column with its default, so a later one (trash retention, say) is one more column.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('transcripts')
    .addColumn('recording_id', 'text', (c) => c.primaryKey().references('recordings.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('language', 'text')
    .addColumn('text', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('error', 'text')
    .addColumn('error_code', 'text')
    .addColumn('requested_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute();

  await db.schema
    .createTable('transcript_segments')
    .addColumn('recording_id', 'text', (c) => c.notNull().references('transcripts.recording_id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('start_sec', 'double precision', (c) => c.notNull())
    .addColumn('end_sec', 'double precision', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('transcript_segments_pk', ['recording_id', 'position'])
    .execute();

  await db.schema
    .createTable('org_settings')
    .addColumn('org_id', 'text', (c) => c.primaryKey().references('orgs.id').onDelete('cascade'))
    .addColumn('auto_transcribe', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['org_settings', 'transcript_segments', 'transcripts']) {
    await db.schema.dropTable(table).execute();
  }
}
