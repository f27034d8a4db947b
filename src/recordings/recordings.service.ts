import type { Readable } from 'node:stream';
import type { Principal } from '../auth/principal.ts';
import type { Recording } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import { decodePageCursor, encodePageCursor } from '../http/page-cursor.ts';
import type { OrgAccess, OrgAction } from '../orgs/access.ts';
import type { BlobInfo, BlobStore } from '../storage/blob-store.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { RecordingsRepo } from './recordings.repo.ts';

export interface RecordingsServiceDeps {
  repo: RecordingsRepo;
  blobs: BlobStore;
  lifecycle: Lifecycle;
  orgAccess: OrgAccess;
}

export interface ListPage {
  items: Recording[];
  nextCursor: string | null;
}

export interface AudioHandle {
  recording: Recording;
  blob: BlobInfo;
  read(range?: { start: number; end: number }): Promise<Readable>;
  /** A short-lived URL serving the file directly, when the store can give one. */
  signedUrl(options: { expiresInSec: number; contentDisposition: string }): Promise<string | undefined>;
}

/** Reading, renaming and deleting recordings, and serving their audio, for a person or an API key. */
export function createRecordingsService(deps: RecordingsServiceDeps) {
  const { repo, blobs, lifecycle, orgAccess } = deps;

  /**
   * The recording if `authorise` lets the actor at it; 404 for a missing one, one in the trash (only the
   * trash endpoints reach those) and another org's alike.
   */
  async function authorised(id: string, authorise: (recording: Recording) => Promise<unknown>): Promise<Recording> {
    const recording = await repo.get(id);
    if (!recording || recording.deleted_at) throw new AppError('not_found', 'recording not found');
    try {
      await authorise(recording);
    } catch (error) {
      if (isAppError(error) && error.code === 'not_found') throw new AppError('not_found', 'recording not found');
      throw error;
    }
    return recording;
  }

  /**
   * The recording if the actor may see it (`use`), or append to it (`record`: a stream's chunks need
   * no `read` scope).
   */
  const getVisible = (actor: Principal, id: string, action: Extract<OrgAction, 'use' | 'record'> = 'use') =>
    authorised(id, (recording) => orgAccess.require(actor, recording.org_id, action));

  /** The recording if the actor may also change it (members their own, admins and owners all). */
  const manageable = (actor: Principal, id: string) =>
    authorised(id, (recording) => orgAccess.requireRecordingManage(actor, recording));

  return {
    getVisible,

    async list(
      actor: Principal,
      query: { orgId?: string; limit: number; before?: string; q?: string },
    ): Promise<ListPage> {
      const orgIds = query.orgId
        ? [(await orgAccess.require(actor, query.orgId, 'use')).orgId]
        : await orgAccess.orgIdsOf(actor);
      const rows = await repo.list({
        orgIds,
        limit: query.limit + 1,
        ...(query.before ? { before: decodePageCursor(query.before) } : {}),
        ...(query.q?.trim() ? { search: query.q.trim() } : {}),
      });
      const items = rows.slice(0, query.limit);
      const last = items.at(-1);
      return {
        items,
        nextCursor: rows.length > query.limit && last ? encodePageCursor({ at: last.created_at, id: last.id }) : null,
      };
    },

    async rename(actor: Principal, id: string, name: string): Promise<Recording> {
      await manageable(actor, id);
      const updated = await repo.rename(id, name);
      if (!updated) throw new AppError('not_found', 'recording not found');
      return updated;
    },

    /** Moves the recording to the trash (src/recordings/trash.service.ts), from where it can be restored. */
    async trash(actor: Principal, id: string): Promise<Recording> {
      return lifecycle.trash(await manageable(actor, id), actor.userId);
    },

    /** "Process again" for a failed recording whose input is still kept. */
    async reprocess(actor: Principal, id: string): Promise<Recording> {
      return lifecycle.reprocess(await manageable(actor, id));
    },

    async openAudio(actor: Principal, id: string): Promise<AudioHandle> {
      const recording = await getVisible(actor, id);
      if (recording.status !== 'ready' || !recording.audio_key) {
        throw new AppError('conflict', `the audio is not available: the recording is ${recording.status}`, {
          details: { status: recording.status },
        });
      }
      const key = recording.audio_key;
      const blob = await blobs.stat(key);
      if (!blob) throw new AppError('internal', `audio file for recording ${id} is missing from storage`);
      return {
        recording,
        blob,
        read: (range) => blobs.read(key, range),
        signedUrl: (options) => blobs.signedUrl(key, { ...options, contentType: 'audio/ogg' }),
      };
    },
  };
}

export type RecordingsService = ReturnType<typeof createRecordingsService>;
