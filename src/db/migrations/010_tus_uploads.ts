import type { Kysely } from 'kysely';

/**
 * Resumable uploads (tus 1.0, src/tus/): one row per upload until it expires. The row is the upload's
 * state for every node — who made it, into which organisation, its declared length and how many bytes
 * are stored — and its lock: the request writing it (a random holder per request), the epoch that
 * fences a holder whose lock ran out, and a flag by which a request waiting on another node asks the
 * holder to let go. The bytes live in the object store under the future recording's input prefix, so
 * the finished upload becomes a recording of the same id without a copy.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tus_uploads')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('length', 'bigint', (c) => c.notNull())
    .addColumn('received_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('lock_holder', 'text')
    .addColumn('lock_epoch', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lock_expires_at', 'text')
    .addColumn('lock_release_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('tus_uploads_expires_idx').on('tus_uploads').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tus_uploads').execute();
}
