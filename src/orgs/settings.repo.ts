import type { Kysely } from 'kysely';
import type { Db } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { Database } from '../db/schema.ts';

/** An organisation's settings; an organisation without a row has every default. */
export interface OrgSettings {
  /** Transcribe every recording of the organisation when it becomes ready. */
  autoTranscribe: boolean;
  /** Days a deleted recording stays in the trash, restorable, before it is deleted for good. */
  trashRetentionDays: number;
}

export const DEFAULT_ORG_SETTINGS: Readonly<OrgSettings> = Object.freeze({
  autoTranscribe: false,
  trashRetentionDays: 30,
});

/** The longest trash retention an organisation may choose: ten years. */
export const MAX_TRASH_RETENTION_DAYS = 3650;

export interface OrgSettingsRepo {
  /** Inside a transaction when given one (the lifecycle asks while it marks a recording ready). */
  get(orgId: string, trx?: Kysely<Database>): Promise<OrgSettings>;
  update(orgId: string, patch: Partial<OrgSettings>): Promise<OrgSettings>;
}

export function createOrgSettingsRepo(db: Db): OrgSettingsRepo {
  const get = async (orgId: string, trx: Kysely<Database> = db): Promise<OrgSettings> => {
    const row = await trx.selectFrom('org_settings').selectAll().where('org_id', '=', orgId).executeTakeFirst();
    return row
      ? { autoTranscribe: row.auto_transcribe === 1, trashRetentionDays: row.trash_retention_days }
      : { ...DEFAULT_ORG_SETTINGS };
  };
  return {
    get,
    async update(orgId, patch) {
      const changes = {
        ...(patch.autoTranscribe !== undefined ? { auto_transcribe: patch.autoTranscribe ? 1 : 0 } : {}),
        ...(patch.trashRetentionDays !== undefined ? { trash_retention_days: patch.trashRetentionDays } : {}),
        updated_at: nowIso(),
      };
      const defaults = {
        auto_transcribe: DEFAULT_ORG_SETTINGS.autoTranscribe ? 1 : 0,
        trash_retention_days: DEFAULT_ORG_SETTINGS.trashRetentionDays,
      };
      await db
        .insertInto('org_settings')
        .values({ org_id: orgId, ...defaults, ...changes })
        .onConflict((oc) => oc.column('org_id').doUpdateSet(changes))
        .execute();
      return get(orgId);
    },
  };
}
