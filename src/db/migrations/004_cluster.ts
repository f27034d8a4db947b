import type { Kysely } from 'kysely';

/**
 * What several nodes need to share: an owner lease on every in-flight recording (node, epoch as a
 * fencing token, expiry), a durable processing queue, named leases for periodic jobs and shared
 * rate-limit counters. See src/cluster/ and src/recordings/lifecycle.ts.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('recordings').addColumn('lease_owner', 'text').execute();
  await db.schema
    .alterTable('recordings')
    .addColumn('lease_epoch', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('recordings').addColumn('lease_expires_at', 'text').execute();
  await db.schema
    .alterTable('recordings')
    .addColumn('committed_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('recordings').addColumn('stream_state', 'text').execute();
  await db.schema.alterTable('recordings').addColumn('resumable_until', 'text').execute();
  await db.schema.alterTable('recordings').addColumn('input_expires_at', 'text').execute();
  await db.schema.alterTable('recordings').addColumn('error_code', 'text').execute();
  await db.schema.alterTable('recordings').addColumn('audio_sha256', 'text').execute();
  await db.schema
    .createIndex('recordings_lease_idx')
    .on('recordings')
    .columns(['status', 'lease_expires_at'])
    .execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('recording_id', 'text', (c) => c.notNull().references('recordings.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('org_id', 'text', (c) => c.notNull())
    .addColumn('run_at', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_by', 'text')
    .addColumn('locked_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('jobs_kind_recording_unique', ['kind', 'recording_id'])
    .execute();
  await db.schema.createIndex('jobs_run_at_idx').on('jobs').columns(['run_at', 'created_at']).execute();
  await db.schema.createIndex('jobs_user_idx').on('jobs').columns(['user_id', 'locked_until']).execute();

  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('epoch', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['rate_limits', 'leases', 'jobs']) await db.schema.dropTable(table).execute();
  await db.schema.dropIndex('recordings_lease_idx').execute();
  for (const column of [
    'audio_sha256',
    'error_code',
    'input_expires_at',
    'resumable_until',
    'stream_state',
    'committed_bytes',
    'lease_expires_at',
    'lease_epoch',
    'lease_owner',
  ]) {
    await db.schema.alterTable('recordings').dropColumn(column).execute();
  }
}
