import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Db } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { Database, Recording, RecordingSource, RecordingStatus, RecordingUpdate } from '../db/schema.ts';
import type { PagePosition } from '../http/page-cursor.ts';
import { matchesSearch, searchPattern } from '../transcripts/transcripts.repo.ts';

export interface NewRecordingInput {
  /** Chosen by the caller when files are stored under the id before the row exists (uploads). */
  id?: string;
  orgId: string;
  userId: string;
  name: string;
  source: RecordingSource;
  status: RecordingStatus;
  meetingLink?: string | null;
  /** What the input is: `upload`, `stream.ogg`, `stream.webm` or `live`. */
  inputKey: string;
  receivedBytes?: number;
  /** Take the owner lease at once (live recordings): this node, epoch 1, until then. */
  lease?: { owner: string; expiresAt: string };
  /** Live recordings: the declared input format (src/media/input-format.ts), null for a container. */
  inputFormat?: string | null;
}

export interface ListQuery {
  orgIds: string[];
  limit: number;
  /** Opaque position from the previous page (created_at and id of its last row). */
  before?: PagePosition;
  /** Only recordings whose name or transcript contains this (case-insensitive). */
  search?: string;
}

/** A recording in the trash and the account that deleted it (null when that account is gone). */
export type TrashedRecording = Recording & { deleted_by_email: string | null; deleted_by_name: string | null };

export interface TrashQuery {
  orgIds: string[];
  limit: number;
  /** Opaque position from the previous page (deleted_at and id of its last row). */
  before?: PagePosition;
}

/** Fields a fenced update may change: everything but identity and the epoch itself. */
export type FencedPatch = Omit<RecordingUpdate, 'id' | 'updated_at' | 'lease_epoch'>;

export type LeaseClaim =
  /** Only if nobody holds a lease that is still running. */
  | { kind: 'free' }
  /** Whoever holds it, as long as it is still at `epoch` (a client resuming on another node). */
  | { kind: 'takeover'; epoch: number };

/**
 * All SQL about recordings. Callers check org access first; this layer trusts its arguments. Status,
 * lease and input fields are written only through src/recordings/lifecycle.ts, with the lease epoch
 * as a fencing token: an update from an owner that lost its lease matches no row.
 */
export interface RecordingsRepo {
  insert(db: Kysely<Database>, input: NewRecordingInput): Promise<Recording>;
  get(id: string): Promise<Recording | undefined>;
  /** Recordings that are not in the trash, newest first. */
  list(query: ListQuery): Promise<Recording[]>;
  rename(id: string, name: string): Promise<Recording | undefined>;
  delete(db: Kysely<Database>, id: string): Promise<boolean>;

  /**
   * Marks the recording deleted (the trash), unless it already is or is being recorded live; the
   * marked row, or undefined when it was not marked.
   */
  trash(trx: Kysely<Database>, id: string, deletedBy: string, at: string): Promise<Recording | undefined>;
  /** Takes the mark off; undefined when the recording is not in the trash. */
  restore(trx: Kysely<Database>, id: string): Promise<Recording | undefined>;
  /** Deletes the row only while it is in the trash (a restore that came first wins). */
  deleteTrashed(db: Kysely<Database>, id: string): Promise<boolean>;
  /** Recordings in the trash, most recently deleted first, with who deleted them. */
  listTrash(query: TrashQuery): Promise<TrashedRecording[]>;
  /** Organisations with something in the trash (the purge looks at each with its own retention). */
  orgsWithTrash(): Promise<string[]>;
  /** An org's recordings in the trash since before `cutoff`, oldest first. */
  trashedBefore(orgId: string, cutoff: string, limit: number): Promise<Recording[]>;

  /** Takes the owner lease for `ttlMs`; the new epoch, or undefined when someone else holds it. */
  acquireLease(id: string, owner: string, ttlMs: number, claim: LeaseClaim): Promise<Recording | undefined>;
  renewLease(id: string, owner: string, epoch: number, ttlMs: number): Promise<boolean>;
  /** renewLease for many recordings in one transaction; the ids whose lease `owner` still holds. */
  renewLeases(owner: string, leases: { id: string; epoch: number }[], ttlMs: number): Promise<Set<string>>;
  releaseLease(id: string, epoch: number): Promise<void>;
  /** Updates the row only if its lease is still at `epoch`; undefined when fenced (or deleted). */
  fencedUpdate(db: Kysely<Database>, id: string, epoch: number, patch: FencedPatch): Promise<Recording | undefined>;
  /** Moves a stream's offset from `from` to `to` at `epoch` (compare-and-set) with the checker state. */
  advanceStream(id: string, epoch: number, from: number, to: number, state: string | null): Promise<boolean>;
  /** Processing progress, while the recording is processing at `epoch`. */
  setProgress(id: string, epoch: number, progress: number): Promise<void>;

  byStatus(statuses: RecordingStatus[], source?: RecordingSource): Promise<Recording[]>;
  /** Live recordings nobody renews any more, whose grace period has also passed (their owner died). */
  abandonedLive(leaseExpiredBefore: string, now: string): Promise<Recording[]>;
  /** Streams with no chunk since `before`. */
  idleStreams(before: string): Promise<Recording[]>;
  /** Failed recordings whose kept input is past its retention. */
  expiredInputs(now: string): Promise<Recording[]>;
  /** Receiving live recordings of a user (the per-user cap counts them across nodes). */
  countLive(db: Kysely<Database>, userId: string): Promise<number>;
}

export function createRecordingsRepo(db: Db): RecordingsRepo {
  return {
    async insert(trx, input) {
      const now = nowIso();
      return trx
        .insertInto('recordings')
        .values({
          id: input.id ?? randomUUID(),
          org_id: input.orgId,
          user_id: input.userId,
          name: input.name,
          meeting_link: input.meetingLink ?? null,
          source: input.source,
          status: input.status,
          progress: 0,
          error: null,
          input_key: input.inputKey,
          audio_key: null,
          received_bytes: input.receivedBytes ?? 0,
          duration_sec: null,
          size_bytes: null,
          codec: null,
          sample_rate: null,
          channels: null,
          bitrate: null,
          created_at: now,
          updated_at: now,
          finished_at: null,
          lease_owner: input.lease?.owner ?? null,
          lease_epoch: input.lease ? 1 : 0,
          lease_expires_at: input.lease?.expiresAt ?? null,
          committed_bytes: input.receivedBytes ?? 0,
          stream_state: null,
          resumable_until: null,
          input_expires_at: null,
          error_code: null,
          audio_sha256: null,
          input_format: input.inputFormat ?? null,
          pipeline: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    },

    get: (id) => db.selectFrom('recordings').selectAll().where('id', '=', id).executeTakeFirst(),

    async list({ orgIds, limit, before, search }) {
      if (orgIds.length === 0) return [];
      let query = db.selectFrom('recordings').selectAll().where('org_id', 'in', orgIds).where('deleted_at', 'is', null);
      if (search) query = query.where(matchesSearch(searchPattern(search)));
      if (before) {
        query = query.where((eb) =>
          eb.or([
            eb('created_at', '<', before.at),
            eb.and([eb('created_at', '=', before.at), eb('id', '<', before.id)]),
          ]),
        );
      }
      return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    },

    rename: (id, name) =>
      db
        .updateTable('recordings')
        .set({ name, updated_at: nowIso() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),

    async delete(trx, id) {
      const result = await trx.deleteFrom('recordings').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    trash: (trx, id, deletedBy, at) =>
      trx
        .updateTable('recordings')
        .set({ deleted_at: at, deleted_by: deletedBy, updated_at: at })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .where((eb) => eb.not(eb.and([eb('source', '=', 'live'), eb('status', '=', 'receiving')])))
        .returningAll()
        .executeTakeFirst(),

    restore: (trx, id) =>
      trx
        .updateTable('recordings')
        .set({ deleted_at: null, deleted_by: null, updated_at: nowIso() })
        .where('id', '=', id)
        .where('deleted_at', 'is not', null)
        .returningAll()
        .executeTakeFirst(),

    async deleteTrashed(trx, id) {
      const result = await trx
        .deleteFrom('recordings')
        .where('id', '=', id)
        .where('deleted_at', 'is not', null)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    async listTrash({ orgIds, limit, before }) {
      if (orgIds.length === 0) return [];
      let query = db
        .selectFrom('recordings')
        .leftJoin('users', 'users.id', 'recordings.deleted_by')
        .selectAll('recordings')
        .select(['users.email as deleted_by_email', 'users.name as deleted_by_name'])
        .where('recordings.org_id', 'in', orgIds)
        .where('recordings.deleted_at', 'is not', null);
      if (before) {
        query = query.where((eb) =>
          eb.or([
            eb('recordings.deleted_at', '<', before.at),
            eb.and([eb('recordings.deleted_at', '=', before.at), eb('recordings.id', '<', before.id)]),
          ]),
        );
      }
      return query.orderBy('recordings.deleted_at', 'desc').orderBy('recordings.id', 'desc').limit(limit).execute();
    },

    async orgsWithTrash() {
      const rows = await db
        .selectFrom('recordings')
        .select('org_id')
        .distinct()
        .where('deleted_at', 'is not', null)
        .execute();
      return rows.map((row) => row.org_id);
    },

    trashedBefore: (orgId, cutoff, limit) =>
      db
        .selectFrom('recordings')
        .selectAll()
        .where('deleted_at', '<', cutoff)
        .where('org_id', '=', orgId)
        .orderBy('deleted_at')
        .limit(limit)
        .execute(),

    acquireLease(id, owner, ttlMs, claim) {
      const now = nowIso();
      let query = db
        .updateTable('recordings')
        .set({
          lease_owner: owner,
          lease_epoch: sql<number>`lease_epoch + 1`,
          lease_expires_at: new Date(Date.now() + ttlMs).toISOString(),
          updated_at: now,
        })
        .where('id', '=', id);
      query =
        claim.kind === 'takeover'
          ? query.where('lease_epoch', '=', claim.epoch)
          : query.where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', '<', now)]));
      return query.returningAll().executeTakeFirst();
    },

    async renewLease(id, owner, epoch, ttlMs) {
      const result = await db
        .updateTable('recordings')
        .set({ lease_expires_at: new Date(Date.now() + ttlMs).toISOString() })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .where('lease_epoch', '=', epoch)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async renewLeases(owner, leases, ttlMs) {
      const held = new Set<string>();
      const expires = new Date(Date.now() + ttlMs).toISOString();
      // Statements of a few hundred rows (bound parameters are limited), one transaction: one commit.
      await db.transaction().execute(async (trx) => {
        for (let at = 0; at < leases.length; at += 400) {
          const rows = await trx
            .updateTable('recordings')
            .set({ lease_expires_at: expires })
            .where('lease_owner', '=', owner)
            .where((eb) =>
              eb.or(
                leases
                  .slice(at, at + 400)
                  .map(({ id, epoch }) => eb.and([eb('id', '=', id), eb('lease_epoch', '=', epoch)])),
              ),
            )
            .returning('id')
            .execute();
          for (const row of rows) held.add(row.id);
        }
      });
      return held;
    },

    async releaseLease(id, epoch) {
      await db
        .updateTable('recordings')
        .set({ lease_owner: null, lease_expires_at: null })
        .where('id', '=', id)
        .where('lease_epoch', '=', epoch)
        .execute();
    },

    fencedUpdate: (trx, id, epoch, patch) =>
      trx
        .updateTable('recordings')
        .set({ ...patch, updated_at: nowIso() })
        .where('id', '=', id)
        .where('lease_epoch', '=', epoch)
        .returningAll()
        .executeTakeFirst(),

    async advanceStream(id, epoch, from, to, state) {
      const result = await db
        .updateTable('recordings')
        .set({ received_bytes: to, committed_bytes: to, stream_state: state, updated_at: nowIso() })
        .where('id', '=', id)
        .where('lease_epoch', '=', epoch)
        .where('received_bytes', '=', from)
        .where('status', '=', 'receiving')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async setProgress(id, epoch, progress) {
      await db
        .updateTable('recordings')
        .set({ progress, updated_at: nowIso() })
        .where('id', '=', id)
        .where('lease_epoch', '=', epoch)
        .where('status', '=', 'processing')
        .execute();
    },

    byStatus(statuses, source) {
      let query = db.selectFrom('recordings').selectAll().where('status', 'in', statuses);
      if (source) query = query.where('source', '=', source);
      return query.orderBy('created_at').execute();
    },

    abandonedLive: (leaseExpiredBefore, now) =>
      db
        .selectFrom('recordings')
        .selectAll()
        .where('source', '=', 'live')
        .where('status', '=', 'receiving')
        .where((eb) =>
          eb.or([
            eb('lease_owner', 'is', null),
            eb('lease_expires_at', '<', leaseExpiredBefore),
            eb.and([eb('resumable_until', '<', now), eb('lease_expires_at', '<', now)]),
          ]),
        )
        .orderBy('created_at')
        .execute(),

    idleStreams: (before) =>
      db
        .selectFrom('recordings')
        .selectAll()
        .where('source', '=', 'stream')
        .where('status', '=', 'receiving')
        .where('updated_at', '<', before)
        .execute(),

    expiredInputs: (now) =>
      db
        .selectFrom('recordings')
        .selectAll()
        .where('status', '=', 'failed')
        .where('input_expires_at', '<', now)
        .execute(),

    async countLive(trx, userId) {
      const row = await trx
        .selectFrom('recordings')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('user_id', '=', userId)
        .where('source', '=', 'live')
        .where('status', '=', 'receiving')
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },
  };
}
