import type { Kysely } from 'kysely';

/**
 * The trash: a deleted recording keeps its row and files, marked `deleted_at` (and by whom), until it is
 * restored or its organisation's retention runs out (src/recordings/trash.service.ts). Lists and reads
 * skip marked rows; the index serves the trash list and the purge, which look only at marked ones.
 * `org_settings.trash_retention_days` is that retention, one more typed setting with its default.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('recordings').addColumn('deleted_at', 'text').execute();
  // Not a foreign key: who deleted it stays a fact of the recording even if that account goes.
  await db.schema.alterTable('recordings').addColumn('deleted_by', 'text').execute();
  await db.schema
    .createIndex('recordings_deleted_idx')
    .on('recordings')
    .columns(['deleted_at', 'org_id'])
    .where('deleted_at', 'is not', null)
    .execute();
  await db.schema
    .alterTable('org_settings')
    .addColumn('trash_retention_days', 'integer', (c) => c.notNull().defaultTo(30))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('org_settings').dropColumn('trash_retention_days').execute();
  await db.schema.dropIndex('recordings_deleted_idx').execute();
  await db.schema.alterTable('recordings').dropColumn('deleted_by').execute();
  await db.schema.alterTable('recordings').dropColumn('deleted_at').execute();
}
