import type { Kysely } from 'kysely';

/**
 * Rate limits count over a sliding window (src/cluster/rate-limiter.ts): each key keeps the count of
 * the window before the current one, weighted by how much of it still overlaps the last window-length
 * of time. A fixed window alone let a client spend its budget at the end of one window and again at
 * the start of the next, and made the limit depend on where the clock happened to be.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('rate_limits')
    .addColumn('previous_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('rate_limits').dropColumn('previous_count').execute();
}
