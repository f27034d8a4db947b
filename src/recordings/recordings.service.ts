import type { Readable } from 'node:stream';
import type { Recording } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import type { OrgAccess } from '../orgs/access.ts';
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

function encodeCursor(recording: Recording): string {
  return Buffer.from(JSON.stringify([recording.created_at, recording.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string') {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {}
  throw new AppError('validation_failed', '"before" is not a cursor this server returned (use next_cursor)');
}

/** Reading, renaming and deleting recordings, and serving their audio, for the signed-in user. */
export function createRecordingsService(deps: RecordingsServiceDeps) {
  const { repo, blobs, lifecycle, orgAccess } = deps;

  /** The recording if the user may see it; 404 for a missing one and for another org's alike. */
  async function getVisible(userId: string, id: string): Promise<Recording> {
    const recording = await repo.get(id);
    if (!recording) throw new AppError('not_found', 'recording not found');
    try {
      await orgAccess.require(userId, recording.org_id);
    } catch (error) {
      if (isAppError(error) && error.code === 'not_found') throw new AppError('not_found', 'recording not found');
      throw error;
    }
    return recording;
  }

  /** The recording if the user may also change it (members their own, admins and owners all). */
  async function manageable(userId: string, id: string): Promise<Recording> {
    const recording = await getVisible(userId, id);
    await orgAccess.requireRecordingManage(userId, recording);
    return recording;
  }

  return {
    getVisible,

    async list(
      userId: string,
      query: { orgId?: string; limit: number; before?: string; q?: string },
    ): Promise<ListPage> {
      const orgIds = query.orgId
        ? [(await orgAccess.require(userId, query.orgId)).orgId]
        : await orgAccess.orgIdsOf(userId);
      const rows = await repo.list({
        orgIds,
        limit: query.limit + 1,
        ...(query.before ? { before: decodeCursor(query.before) } : {}),
        ...(query.q?.trim() ? { search: query.q.trim() } : {}),
      });
      const items = rows.slice(0, query.limit);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null };
    },

    async rename(userId: string, id: string, name: string): Promise<Recording> {
      await manageable(userId, id);
      const updated = await repo.rename(id, name);
      if (!updated) throw new AppError('not_found', 'recording not found');
      return updated;
    },

    /** Removes the recording, its audio and its input; processing or recording elsewhere stops. */
    async remove(userId: string, id: string): Promise<void> {
      await lifecycle.remove(await manageable(userId, id));
    },

    /** "Process again" for a failed recording whose input is still kept. */
    async reprocess(userId: string, id: string): Promise<Recording> {
      return lifecycle.reprocess(await manageable(userId, id));
    },

    async openAudio(userId: string, id: string): Promise<AudioHandle> {
      const recording = await getVisible(userId, id);
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
