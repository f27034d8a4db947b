import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { Recording, RecordingSource, RecordingStatus, RecordingUpdate } from '../db/schema.ts';

export interface NewRecordingInput {
  /** Chosen by the caller when files must be stored under the id before the row exists (uploads). */
  id?: string;
  orgId: string;
  userId: string;
  name: string;
  source: RecordingSource;
  status: RecordingStatus;
  meetingLink?: string | null;
  /** Spool file name of the input, when it is already stored. */
  inputKey?: string | null;
  receivedBytes?: number;
}

export interface ListQuery {
  orgIds: string[];
  limit: number;
  /** Opaque position from the previous page (created_at and id of its last row). */
  before?: { createdAt: string; id: string };
}

/** All SQL about recordings. Callers check org access first; this layer trusts its arguments. */
export interface RecordingsRepo {
  create(input: NewRecordingInput): Promise<Recording>;
  get(id: string): Promise<Recording | undefined>;
  list(query: ListQuery): Promise<Recording[]>;
  update(id: string, patch: Omit<RecordingUpdate, 'id' | 'updated_at'>): Promise<Recording | undefined>;
  /**
   * Moves the append offset from `from` to `to` only if it is still `from` (compare-and-set), so two
   * racing appends to one recording cannot both win.
   */
  advanceReceived(id: string, from: number, to: number): Promise<boolean>;
  /** Sets the progress of a recording that is still processing (a no-op once it has finished). */
  setProgress(id: string, progress: number): Promise<void>;
  byStatus(statuses: RecordingStatus[], source?: RecordingSource): Promise<Recording[]>;
  delete(id: string): Promise<void>;
}

export function createRecordingsRepo(db: Db): RecordingsRepo {
  return {
    async create(input) {
      const now = nowIso();
      return db
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
          input_key: input.inputKey ?? null,
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
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    },

    get: (id) => db.selectFrom('recordings').selectAll().where('id', '=', id).executeTakeFirst(),

    async list({ orgIds, limit, before }) {
      if (orgIds.length === 0) return [];
      let query = db.selectFrom('recordings').selectAll().where('org_id', 'in', orgIds);
      if (before) {
        query = query.where((eb) =>
          eb.or([
            eb('created_at', '<', before.createdAt),
            eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)]),
          ]),
        );
      }
      return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    },

    update: (id, patch) =>
      db
        .updateTable('recordings')
        .set({ ...patch, updated_at: nowIso() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),

    async advanceReceived(id, from, to) {
      const result = await db
        .updateTable('recordings')
        .set({ received_bytes: to, updated_at: nowIso() })
        .where('id', '=', id)
        .where('received_bytes', '=', from)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async setProgress(id, progress) {
      await db
        .updateTable('recordings')
        .set({ progress, updated_at: nowIso() })
        .where('id', '=', id)
        .where('status', '=', 'processing')
        .execute();
    },

    byStatus(statuses, source) {
      let query = db.selectFrom('recordings').selectAll().where('status', 'in', statuses);
      if (source) query = query.where('source', '=', source);
      return query.orderBy('created_at').execute();
    },

    async delete(id) {
      await db.deleteFrom('recordings').where('id', '=', id).execute();
    },
  };
}
