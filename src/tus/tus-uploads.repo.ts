import { type Kysely, sql } from 'kysely';
import type { Db } from '../db/index.ts';
import type { Database, TusUpload } from '../db/schema.ts';

export interface NewTusUpload {
  id: string;
  orgId: string;
  userId: string;
  actor: string;
  name: string;
  metadata: Record<string, string | null>;
  length: number;
  createdAt: string;
  expiresAt: string;
}

/**
 * All SQL about resumable uploads: the upload's state (src/tus/tus-store.ts) and its lock
 * (src/tus/tus-locker.ts). Callers decide who may act; this layer trusts its arguments.
 */
export function createTusUploadsRepo(db: Db) {
  return {
    async insert(upload: NewTusUpload): Promise<void> {
      await db
        .insertInto('tus_uploads')
        .values({
          id: upload.id,
          org_id: upload.orgId,
          user_id: upload.userId,
          actor: upload.actor,
          name: upload.name,
          metadata: JSON.stringify(upload.metadata),
          length: upload.length,
          received_bytes: 0,
          created_at: upload.createdAt,
          expires_at: upload.expiresAt,
          finished_at: null,
          lock_holder: null,
          lock_epoch: 0,
          lock_expires_at: null,
          lock_release_requested: 0,
        })
        .execute();
    },

    get: (id: string): Promise<TusUpload | undefined> =>
      db.selectFrom('tus_uploads').selectAll().where('id', '=', id).executeTakeFirst(),

    /** Moves the offset from `from` to `to`, only while the lock is still at `epoch` (compare-and-set). */
    async advance(id: string, epoch: number, from: number, to: number): Promise<boolean> {
      const result = await db
        .updateTable('tus_uploads')
        .set({ received_bytes: to })
        .where('id', '=', id)
        .where('received_bytes', '=', from)
        .where('lock_epoch', '=', epoch)
        .where('finished_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Marks a complete upload as finished (it becomes a recording); false when it already was. */
    async claimFinished(trx: Kysely<Database>, id: string, now: string): Promise<boolean> {
      const result = await trx
        .updateTable('tus_uploads')
        .set({ finished_at: now })
        .where('id', '=', id)
        .where('finished_at', 'is', null)
        .where('received_bytes', '=', sql<number>`length`)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('tus_uploads').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    /** Uploads past their expiry that no request is writing. */
    expired: (now: string): Promise<TusUpload[]> =>
      db
        .selectFrom('tus_uploads')
        .selectAll()
        .where('expires_at', '<', now)
        .where((eb) => eb.or([eb('lock_holder', 'is', null), eb('lock_expires_at', '<', now)]))
        .limit(1000)
        .execute(),

    /** Complete uploads that did not become a recording (the final request failed after the last byte). */
    completeUnfinished: (now: string): Promise<TusUpload[]> =>
      db
        .selectFrom('tus_uploads')
        .selectAll()
        .where('finished_at', 'is', null)
        .where('received_bytes', '=', sql<number>`length`)
        .where((eb) => eb.or([eb('lock_holder', 'is', null), eb('lock_expires_at', '<', now)]))
        .limit(1000)
        .execute(),

    // ---- the lock (src/tus/tus-locker.ts) ----

    /** Takes the lock for `holder` when it is free or ran out; the new epoch, or undefined. */
    async lock(id: string, holder: string, now: string, until: string): Promise<number | undefined> {
      const row = await db
        .updateTable('tus_uploads')
        .set({
          lock_holder: holder,
          lock_epoch: sql<number>`lock_epoch + 1`,
          lock_expires_at: until,
          lock_release_requested: 0,
        })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('lock_holder', 'is', null), eb('lock_expires_at', '<', now)]))
        .returning('lock_epoch')
        .executeTakeFirst();
      return row?.lock_epoch;
    },

    /** Asks the holder to let go; false when there is no such upload. */
    async requestRelease(id: string): Promise<boolean> {
      const result = await db
        .updateTable('tus_uploads')
        .set({ lock_release_requested: 1 })
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Extends `holder`'s lock; whether someone asked for it, or undefined when it is no longer held. */
    async renewLock(id: string, holder: string, until: string): Promise<{ releaseRequested: boolean } | undefined> {
      const row = await db
        .updateTable('tus_uploads')
        .set({ lock_expires_at: until })
        .where('id', '=', id)
        .where('lock_holder', '=', holder)
        .returning('lock_release_requested')
        .executeTakeFirst();
      return row && { releaseRequested: row.lock_release_requested === 1 };
    },

    async unlock(id: string, holder: string): Promise<void> {
      await db
        .updateTable('tus_uploads')
        .set({ lock_holder: null, lock_expires_at: null, lock_release_requested: 0 })
        .where('id', '=', id)
        .where('lock_holder', '=', holder)
        .execute();
    },
  };
}

export type TusUploadsRepo = ReturnType<typeof createTusUploadsRepo>;
