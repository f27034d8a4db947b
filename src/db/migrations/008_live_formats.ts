import type { Kysely } from 'kysely';

/**
 * Live input formats (src/media/input-format.ts, src/media/remux/): what a live client declared it
 * sends (`input_format`, the metadata's JSON; null for a container recognised from the bytes), so any
 * node or job can read raw PCM or Opus packets, and how the finished file was made (`pipeline`: remux
 * or transcode).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('recordings').addColumn('input_format', 'text').execute();
  await db.schema.alterTable('recordings').addColumn('pipeline', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('recordings').dropColumn('pipeline').execute();
  await db.schema.alterTable('recordings').dropColumn('input_format').execute();
}
