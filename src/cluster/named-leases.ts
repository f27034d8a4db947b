import { sql } from 'kysely';
import type { Db } from '../db/index.ts';

/**
 * Named leases in the database: "node X holds `name` until T, at epoch E". A periodic job takes its
 * lease before each run so it runs on one node at a time, whatever the number of nodes. Rows, not
 * PostgreSQL session advisory locks: those belong to a connection and break behind PgBouncer in
 * transaction mode. Expiry uses each node's clock, so clocks must agree to well within a lease.
 */
export interface NamedLeases {
  /** Takes (or renews, when already ours) the lease for `ttlMs`; the epoch if we hold it, else undefined. */
  acquire(name: string, ttlMs: number): Promise<number | undefined>;
  /** Gives the lease up early if we still hold it at `epoch`. */
  release(name: string, epoch: number): Promise<void>;
}

export function createNamedLeases(db: Db, nodeId: string): NamedLeases {
  return {
    async acquire(name, ttlMs) {
      const now = new Date();
      const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
      const row = await db
        .insertInto('leases')
        .values({ name, holder: nodeId, epoch: 1, expires_at: expiresAt })
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({
              holder: nodeId,
              epoch: sql<number>`leases.epoch + 1`,
              expires_at: expiresAt,
            })
            .where((eb) => eb.or([eb('leases.expires_at', '<', now.toISOString()), eb('leases.holder', '=', nodeId)])),
        )
        .returning('epoch')
        .executeTakeFirst();
      return row?.epoch;
    },

    async release(name, epoch) {
      await db
        .updateTable('leases')
        .set({ expires_at: new Date(0).toISOString() })
        .where('name', '=', name)
        .where('holder', '=', nodeId)
        .where('epoch', '=', epoch)
        .execute();
    },
  };
}
