/**
 * The trash: recordings deleted through DELETE /api/recordings/:id stay restorable for their
 * organisation's retention (org_settings.trash_retention_days), then the purge deletes them for good
 * through the lifecycle. Listing it needs what seeing the recordings needs; restoring and deleting for
 * good need what deleting needs (members their own recordings, admins and owners all: docs/roles.md).
 */
import type { Principal } from '../auth/principal.ts';
import type { Recording } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import { decodePageCursor, encodePageCursor, type PagePosition } from '../http/page-cursor.ts';
import { allows, type OrgAccess, type OrgGrant, recordingManageAction } from '../orgs/access.ts';
import type { OrgSettingsRepo } from '../orgs/settings.repo.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { RecordingsRepo, TrashedRecording } from './recordings.repo.ts';

export interface TrashServiceDeps {
  repo: RecordingsRepo;
  lifecycle: Lifecycle;
  orgAccess: OrgAccess;
  settings: OrgSettingsRepo;
}

export interface TrashItem {
  recording: TrashedRecording;
  /** When the purge deletes it for good, by the org's retention as it is now. */
  purgeAt: string;
}

export interface TrashPage {
  items: TrashItem[];
  nextCursor: string | null;
}

const DAY_MS = 24 * 3600 * 1000;
/** Rows the purge and "Empty trash" read at a time. */
const BATCH = 100;

const purgeTime = (deletedAt: string, retentionDays: number) =>
  new Date(Date.parse(deletedAt) + retentionDays * DAY_MS).toISOString();

export function createTrashService(deps: TrashServiceDeps) {
  const { repo, lifecycle, orgAccess, settings } = deps;

  /** The recording in the trash if the actor may restore or delete it; 404 outside its org and when not trashed. */
  async function manageableTrashed(actor: Principal, id: string): Promise<Recording> {
    const recording = await repo.get(id);
    try {
      if (!recording) throw new AppError('not_found', 'recording not found');
      await orgAccess.requireRecordingManage(actor, recording);
    } catch (error) {
      if (isAppError(error) && error.code === 'not_found') throw new AppError('not_found', 'recording not found');
      throw error;
    }
    return recording;
  }

  /** Each org's retention, read once per call. */
  function retentions() {
    const days = new Map<string, Promise<number>>();
    return (orgId: string) => {
      let found = days.get(orgId);
      if (!found) {
        found = settings.get(orgId).then((s) => s.trashRetentionDays);
        days.set(orgId, found);
      }
      return found;
    };
  }

  const orgIdsFor = async (actor: Principal, orgId: string | undefined) =>
    orgId ? [(await orgAccess.require(actor, orgId, 'use')).orgId] : orgAccess.orgIdsOf(actor);

  return {
    async list(actor: Principal, query: { orgId?: string; limit: number; before?: string }): Promise<TrashPage> {
      const rows = await repo.listTrash({
        orgIds: await orgIdsFor(actor, query.orgId),
        limit: query.limit + 1,
        ...(query.before ? { before: decodePageCursor(query.before) } : {}),
      });
      const retention = retentions();
      const items = await Promise.all(
        rows.slice(0, query.limit).map(async (recording) => ({
          recording,
          purgeAt: purgeTime(recording.deleted_at!, await retention(recording.org_id)),
        })),
      );
      const last = items.at(-1);
      return {
        items,
        nextCursor:
          rows.length > query.limit && last
            ? encodePageCursor({ at: last.recording.deleted_at!, id: last.recording.id })
            : null,
      };
    },

    /** Undoes a delete. 409 when the recording is not in the trash. */
    async restore(actor: Principal, id: string): Promise<Recording> {
      return lifecycle.restore(await manageableTrashed(actor, id));
    },

    /** Deletes a recording in the trash for good: its row, audio, input and transcript. */
    async deleteForever(actor: Principal, id: string): Promise<void> {
      const recording = await manageableTrashed(actor, id);
      if (!recording.deleted_at) throw new AppError('not_found', 'the recording is not in the trash');
      if (!(await lifecycle.removeTrashed(recording))) {
        throw new AppError('conflict', 'the recording was restored meanwhile');
      }
    },

    /**
     * Empties the trash of one org (or of all the actor's orgs): deletes for good every recording there
     * the actor may delete, and counts those it may not (a member's colleagues').
     */
    async empty(actor: Principal, orgId?: string): Promise<{ deleted: number; kept: number }> {
      const grants = new Map<string, OrgGrant>();
      for (const id of await orgIdsFor(actor, orgId)) grants.set(id, await orgAccess.require(actor, id, 'use'));
      let deleted = 0;
      let kept = 0;
      let before: PagePosition | undefined;
      for (;;) {
        const rows = await repo.listTrash({ orgIds: [...grants.keys()], limit: BATCH, ...(before ? { before } : {}) });
        for (const recording of rows) {
          const grant = grants.get(recording.org_id)!;
          if (!allows(grant, recordingManageAction(recording, actor.userId))) kept += 1;
          else if (await lifecycle.removeTrashed(recording)) deleted += 1;
        }
        const last = rows.at(-1);
        if (rows.length < BATCH || !last) return { deleted, kept };
        before = { at: last.deleted_at!, id: last.id };
      }
    },

    /**
     * Housekeeping: deletes for good what has been in the trash longer than its org's retention. Returns
     * how many went. Run under a named lease (src/periodic.ts), so on one node at a time.
     */
    async purgeExpired(now = Date.now()): Promise<number> {
      let purged = 0;
      for (const orgId of await repo.orgsWithTrash()) {
        const days = (await settings.get(orgId)).trashRetentionDays;
        const cutoff = new Date(now - days * DAY_MS).toISOString();
        for (;;) {
          const expired = await repo.trashedBefore(orgId, cutoff, BATCH);
          for (const recording of expired) if (await lifecycle.removeTrashed(recording)) purged += 1;
          if (expired.length < BATCH) break;
        }
      }
      return purged;
    },
  };
}

export type TrashService = ReturnType<typeof createTrashService>;
