import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Db, DbDialect } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { Database, WebhookDelivery, WebhookEndpoint, WebhookMessage } from '../db/schema.ts';
import type { PagePosition } from '../http/page-cursor.ts';

/** A delivery claimed for one attempt, with what the attempt needs. */
export interface ClaimedDelivery {
  delivery: WebhookDelivery;
  message: Pick<WebhookMessage, 'id' | 'type' | 'payload'>;
  endpoint: Pick<WebhookEndpoint, 'id' | 'url' | 'secret' | 'previous_secret' | 'previous_secret_until'>;
}

/** A row of an endpoint's delivery log. */
export type DeliveryView = WebhookDelivery & Pick<WebhookMessage, 'type' | 'recording_id' | 'version'>;

/** What one attempt came to; the fields every outcome records. */
export interface AttemptRecord {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  at: string;
}

export type Settlement = { status: 'delivered' } | { status: 'retry'; nextAttemptAt: string } | { status: 'failed' };

export type EndpointPatch = Partial<Pick<WebhookEndpoint, 'url' | 'description' | 'event_types'>>;

/**
 * All SQL about webhooks. The claim follows src/jobs/jobs.repo.ts: one UPDATE that takes the oldest due
 * delivery whose lock is free or expired (`FOR UPDATE SKIP LOCKED` on PostgreSQL so nodes never wait
 * on each other; SQLite's single writer makes the same UPDATE atomic). The claim counts the attempt and
 * sets a lock that outlasts one attempt; a node that dies mid-attempt leaves the lock to expire and
 * another node sends the delivery again. Every later write carries the claim (node and attempt number),
 * so a node whose lock expired cannot overwrite what the next claimant recorded.
 */
export function createWebhooksRepo(db: Db, dialect: DbDialect, nodeId: string) {
  const skipLocked = dialect === 'postgres' ? sql`for update skip locked` : sql``;

  const deliveryView = (trx: Kysely<Database>) =>
    trx
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_messages as m', 'm.id', 'd.message_id')
      .selectAll('d')
      .select(['m.type', 'm.recording_id', 'm.version']);

  async function insertDelivery(trx: Kysely<Database>, messageId: string, endpointId: string, now: string) {
    return trx
      .insertInto('webhook_deliveries')
      .values({
        id: randomUUID(),
        message_id: messageId,
        endpoint_id: endpointId,
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        locked_by: null,
        locked_until: null,
        last_attempt_at: null,
        last_status_code: null,
        last_error: null,
        last_duration_ms: null,
        created_at: now,
        delivered_at: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
  }

  return {
    // ---- endpoints ----

    insertEndpoint: (endpoint: WebhookEndpoint) =>
      db.insertInto('webhook_endpoints').values(endpoint).returningAll().executeTakeFirstOrThrow(),

    listEndpoints: (orgId: string) =>
      db
        .selectFrom('webhook_endpoints')
        .selectAll()
        .where('org_id', '=', orgId)
        .orderBy('created_at')
        .orderBy('id')
        .execute(),

    getEndpoint: (orgId: string, id: string) =>
      db
        .selectFrom('webhook_endpoints')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst(),

    async countEndpoints(orgId: string): Promise<number> {
      const row = await db
        .selectFrom('webhook_endpoints')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('org_id', '=', orgId)
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },

    updateEndpoint: (orgId: string, id: string, patch: EndpointPatch) =>
      db
        .updateTable('webhook_endpoints')
        .set({ ...patch, updated_at: nowIso() })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),

    /** A new secret; the current one keeps signing until `previousUntil`. */
    rotateSecret: (orgId: string, id: string, secret: string, previousUntil: string) =>
      db
        .updateTable('webhook_endpoints')
        .set((eb) => ({
          previous_secret: eb.ref('secret'),
          previous_secret_until: previousUntil,
          secret,
          updated_at: nowIso(),
        }))
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),

    enableEndpoint: (orgId: string, id: string) =>
      db
        .updateTable('webhook_endpoints')
        .set({ enabled: 1, disabled_reason: null, updated_at: nowIso() })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),

    /** Disables the endpoint and cancels its pending deliveries (those claimed now are settled by their sender). */
    disableEndpoint: (id: string, reason: string) =>
      db.transaction().execute(async (trx) => {
        const now = nowIso();
        const row = await trx
          .updateTable('webhook_endpoints')
          .set({ enabled: 0, disabled_reason: reason, updated_at: now })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst();
        await trx
          .updateTable('webhook_deliveries')
          .set({ status: 'cancelled', next_attempt_at: null, last_error: `not sent: ${reason}` })
          .where('endpoint_id', '=', id)
          .where('status', '=', 'pending')
          .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
          .execute();
        return row;
      }),

    async deleteEndpoint(orgId: string, id: string): Promise<boolean> {
      const result = await db
        .deleteFrom('webhook_endpoints')
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    // ---- the outbox (inside the caller's transaction) ----

    /** The recording's next event version: one atomic increment, so concurrent changes never share one. */
    async nextVersion(trx: Kysely<Database>, recordingId: string): Promise<number> {
      const now = nowIso();
      const row = await trx
        .insertInto('webhook_versions')
        .values({ recording_id: recordingId, version: 1, updated_at: now })
        .onConflict((oc) =>
          oc
            .column('recording_id')
            .doUpdateSet({ version: sql<number>`webhook_versions.version + 1`, updated_at: now }),
        )
        .returning('version')
        .executeTakeFirstOrThrow();
      return row.version;
    },

    enabledEndpoints: (trx: Kysely<Database>, orgId: string) =>
      trx
        .selectFrom('webhook_endpoints')
        .select(['id', 'event_types'])
        .where('org_id', '=', orgId)
        .where('enabled', '=', 1)
        .execute(),

    /** The message and one pending delivery per endpoint; returns the deliveries' ids. */
    async enqueue(trx: Kysely<Database>, message: WebhookMessage, endpointIds: string[]): Promise<string[]> {
      await trx.insertInto('webhook_messages').values(message).execute();
      const ids: string[] = [];
      for (const endpointId of endpointIds) {
        ids.push((await insertDelivery(trx, message.id, endpointId, message.created_at)).id);
      }
      return ids;
    },

    // ---- the delivery log ----

    listDeliveries: (endpointId: string, limit: number, before?: PagePosition) => {
      let query = deliveryView(db).where('d.endpoint_id', '=', endpointId);
      if (before) {
        query = query.where((eb) =>
          eb.or([
            eb('d.created_at', '<', before.at),
            eb.and([eb('d.created_at', '=', before.at), eb('d.id', '<', before.id)]),
          ]),
        );
      }
      return query.orderBy('d.created_at', 'desc').orderBy('d.id', 'desc').limit(limit).execute();
    },

    getDelivery: (endpointId: string, id: string): Promise<DeliveryView | undefined> =>
      deliveryView(db).where('d.endpoint_id', '=', endpointId).where('d.id', '=', id).executeTakeFirst(),

    /** A new delivery of an existing message (send again), or of a new one (a test event). */
    async addDelivery(endpointId: string, message: { id: string } | WebhookMessage): Promise<DeliveryView> {
      const id = await db.transaction().execute(async (trx) => {
        if ('payload' in message) await trx.insertInto('webhook_messages').values(message).execute();
        return (await insertDelivery(trx, message.id, endpointId, nowIso())).id;
      });
      return (await deliveryView(db).where('d.id', '=', id).executeTakeFirst())!;
    },

    // ---- the dispatcher ----

    /** Claims the oldest due delivery of an enabled endpoint for one attempt. */
    async claim(lockMs: number): Promise<ClaimedDelivery | undefined> {
      const now = nowIso();
      const until = new Date(Date.now() + lockMs).toISOString();
      const claimed = await sql<WebhookDelivery>`
        update webhook_deliveries set locked_by = ${nodeId}, locked_until = ${until}, attempts = attempts + 1
        where id = (
          select d.id from webhook_deliveries d
          where d.status = 'pending'
            and d.next_attempt_at <= ${now}
            and (d.locked_until is null or d.locked_until < ${now})
            and exists (select 1 from webhook_endpoints e where e.id = d.endpoint_id and e.enabled = 1)
          order by d.next_attempt_at
          limit 1
          ${skipLocked}
        )
        and status = 'pending'
        and (locked_until is null or locked_until < ${now})
        returning *`.execute(db);
      const delivery = claimed.rows[0];
      if (!delivery) return undefined;
      const row = await db
        .selectFrom('webhook_messages as m')
        .innerJoin('webhook_endpoints as e', (join) => join.on('e.id', '=', delivery.endpoint_id))
        .select(['m.id', 'm.type', 'm.payload', 'e.url', 'e.secret', 'e.previous_secret', 'e.previous_secret_until'])
        .where('m.id', '=', delivery.message_id)
        .executeTakeFirst();
      if (!row) return undefined; // deleted meanwhile, with its endpoint or by the purge
      return {
        delivery,
        message: { id: row.id, type: row.type, payload: row.payload },
        endpoint: {
          id: delivery.endpoint_id,
          url: row.url,
          secret: row.secret,
          previous_secret: row.previous_secret,
          previous_secret_until: row.previous_secret_until,
        },
      };
    },

    /**
     * Records an attempt and what follows from it; false when the claim was no longer ours. A retry of
     * an endpoint disabled during the attempt is cancelled instead, like the rest of its pending deliveries.
     */
    async settle(delivery: WebhookDelivery, attempt: AttemptRecord, settlement: Settlement): Promise<boolean> {
      const endpointEnabled = sql`(select e.enabled from webhook_endpoints e where e.id = webhook_deliveries.endpoint_id) = 1`;
      const result = await db
        .updateTable('webhook_deliveries')
        .set({
          status:
            settlement.status === 'retry'
              ? sql<WebhookDelivery['status']>`case when ${endpointEnabled} then 'pending' else 'cancelled' end`
              : settlement.status,
          next_attempt_at:
            settlement.status === 'retry'
              ? sql<string | null>`case when ${endpointEnabled} then ${settlement.nextAttemptAt} else null end`
              : null,
          delivered_at: settlement.status === 'delivered' ? attempt.at : null,
          locked_by: null,
          locked_until: null,
          last_attempt_at: attempt.at,
          last_status_code: attempt.statusCode,
          last_error: attempt.error,
          last_duration_ms: attempt.durationMs,
        })
        .where('id', '=', delivery.id)
        .where('locked_by', '=', nodeId)
        .where('attempts', '=', delivery.attempts)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Hands a claimed delivery back unsent (our shutdown): due now, the attempt not counted. */
    async release(delivery: WebhookDelivery): Promise<void> {
      await db
        .updateTable('webhook_deliveries')
        .set({ locked_by: null, locked_until: null, next_attempt_at: nowIso(), attempts: delivery.attempts - 1 })
        .where('id', '=', delivery.id)
        .where('locked_by', '=', nodeId)
        .where('attempts', '=', delivery.attempts)
        .execute();
    },

    // ---- retention ----

    /** Deletes settled messages (and their deliveries) created before `before`, and stale version counters. */
    async purge(before: string): Promise<number> {
      const result = await db
        .deleteFrom('webhook_messages')
        .where('created_at', '<', before)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('webhook_deliveries as d')
                .select('d.id')
                .whereRef('d.message_id', '=', 'webhook_messages.id')
                .where('d.status', '=', 'pending'),
            ),
          ),
        )
        .executeTakeFirst();
      // A deleted recording has no more events; its counter is only needed while its messages are.
      await db
        .deleteFrom('webhook_versions')
        .where('updated_at', '<', before)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb.selectFrom('recordings as r').select('r.id').whereRef('r.id', '=', 'webhook_versions.recording_id'),
            ),
          ),
        )
        .execute();
      return Number(result.numDeletedRows);
    },
  };
}

export type WebhooksRepo = ReturnType<typeof createWebhooksRepo>;
