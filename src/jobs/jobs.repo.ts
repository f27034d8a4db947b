import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Db, DbDialect } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { Database, Job, JobKind } from '../db/schema.ts';

/**
 * The durable processing queue: one row per job in the database every node shares. A node claims the
 * next job with one UPDATE (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so nodes never wait on each other;
 * SQLite has a single writer, which makes the same UPDATE atomic), holds it with a lock that it renews
 * while the job runs, and deletes the row when the job is done. A node that dies stops renewing, its
 * lock expires and another node claims the job again.
 *
 * Chosen over pg-boss or graphile-worker: the queue has to live in the same transactions as the
 * recordings (a job exists exactly when a recording waits for processing), on SQLite as well as on
 * PostgreSQL, and fair share between users is part of the claim itself. A library would add its own
 * schema and PostgreSQL-only code for what is here one table and four statements.
 */
export interface JobsRepo {
  /** Queues a job for the recording (nothing if one is already queued). Runs inside the caller's transaction. */
  enqueue(
    trx: Kysely<Database>,
    job: { kind: JobKind; recordingId: string; userId: string; orgId: string },
  ): Promise<void>;
  /**
   * Claims the next runnable job, fairly: jobs of users (and organisations) with the fewest running jobs
   * first, never more than the caps at once; then the oldest.
   */
  claim(options: { lockMs: number; maxRunningPerUser: number; maxRunningPerOrg: number }): Promise<Job | undefined>;
  /** Extends our lock; false when the job is gone or no longer ours. */
  renew(jobId: string, lockMs: number): Promise<boolean>;
  /** The job is done (succeeded or failed for good). */
  complete(jobId: string): Promise<void>;
  /** Gives the job back to run again at `runAt` (a retry, or our shutdown). */
  release(jobId: string, runAt: string, error: string | null, options?: { refundAttempt?: boolean }): Promise<void>;
  /** Jobs of this user waiting or running (the per-user quota). */
  countForUser(userId: string): Promise<number>;
  depth(): Promise<{ queued: number; running: number }>;
}

export function createJobsRepo(db: Db, dialect: DbDialect, nodeId: string): JobsRepo {
  const skipLocked = dialect === 'postgres' ? sql`for update skip locked` : sql``;

  return {
    async enqueue(trx, job) {
      const now = nowIso();
      await trx
        .insertInto('jobs')
        .values({
          id: randomUUID(),
          kind: job.kind,
          recording_id: job.recordingId,
          user_id: job.userId,
          org_id: job.orgId,
          run_at: now,
          attempts: 0,
          locked_by: null,
          locked_until: null,
          last_error: null,
          created_at: now,
        })
        .onConflict((oc) => oc.columns(['kind', 'recording_id']).doNothing())
        .execute();
    },

    async claim({ lockMs, maxRunningPerUser, maxRunningPerOrg }) {
      const now = nowIso();
      const until = new Date(Date.now() + lockMs).toISOString();
      const runningOfUser = sql`(select count(*) from jobs r where r.user_id = j.user_id and r.locked_until >= ${now})`;
      const runningOfOrg = sql`(select count(*) from jobs r where r.org_id = j.org_id and r.locked_until >= ${now})`;
      const result = await sql<Job>`
        update jobs set locked_by = ${nodeId}, locked_until = ${until}, attempts = attempts + 1
        where id = (
          select j.id from jobs j
          where j.run_at <= ${now}
            and (j.locked_until is null or j.locked_until < ${now})
            and ${runningOfUser} < ${maxRunningPerUser}
            and ${runningOfOrg} < ${maxRunningPerOrg}
          order by ${runningOfUser}, ${runningOfOrg}, j.created_at
          limit 1
          ${skipLocked}
        )
        and (locked_until is null or locked_until < ${now})
        returning *`.execute(db);
      return result.rows[0];
    },

    async renew(jobId, lockMs) {
      const result = await db
        .updateTable('jobs')
        .set({ locked_until: new Date(Date.now() + lockMs).toISOString() })
        .where('id', '=', jobId)
        .where('locked_by', '=', nodeId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async complete(jobId) {
      await db.deleteFrom('jobs').where('id', '=', jobId).where('locked_by', '=', nodeId).execute();
    },

    async release(jobId, runAt, error, options = {}) {
      await db
        .updateTable('jobs')
        .set({
          locked_by: null,
          locked_until: null,
          run_at: runAt,
          last_error: error,
          ...(options.refundAttempt ? { attempts: sql<number>`attempts - 1` } : {}),
        })
        .where('id', '=', jobId)
        .where('locked_by', '=', nodeId)
        .execute();
    },

    async countForUser(userId) {
      const row = await db
        .selectFrom('jobs')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },

    async depth() {
      const now = nowIso();
      const row = await db
        .selectFrom('jobs')
        .select((eb) => [
          eb.fn.countAll<number>().as('total'),
          eb.fn.sum<number>(eb.case().when('locked_until', '>=', now).then(1).else(0).end()).as('running'),
        ])
        .executeTakeFirstOrThrow();
      const running = Number(row.running ?? 0);
      return { queued: Number(row.total) - running, running };
    },
  };
}
