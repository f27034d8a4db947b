import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DataStore, ERRORS, Upload } from '@tus/utils';
import { nowIso } from '../db/index.ts';
import type { TusUpload } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { inputKeys } from '../recordings/lifecycle.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { Spool } from '../storage/spool.ts';
import type { NewTusUpload, TusUploadsRepo } from './tus-uploads.repo.ts';

/** What the server decided about a new upload before the store creates it (src/tus/tus.service.ts). */
export type TusOwner = Pick<NewTusUpload, 'orgId' | 'userId' | 'actor' | 'name'>;

export interface TusStoreDeps {
  repo: TusUploadsRepo;
  blobs: BlobStore;
  spool: Spool;
  /** The owner of the upload being created in this request. */
  ownerOf: (upload: Upload) => TusOwner;
  /** An unfinished upload expires this long after its creation (tus expiration extension). */
  expiryMs: number;
  /** Bytes of a request body stored as one object; a dropped connection loses none of what arrived. */
  pieceBytes: number;
}

/**
 * The tus DataStore, over Earshot's own BlobStore and database rather than @tus/file-store and
 * @tus/s3-store: the upload's state is a row every node reads (the offset a HEAD on node B reports
 * after PATCHes on node A), its bytes are stored under the future recording's input prefix by the
 * BlobStore that already serves both STORAGE_URL kinds (and its quirks on radosgw), so a finished upload
 * becomes a recording without copying a byte, and expiry is one query.
 *
 * A PATCH body is received into the spool and stored piece by piece (`pieceBytes`); after each piece the
 * row's offset moves, compare-and-set under the request's lock epoch. When the body stops early (the
 * client went away, or another request took the lock over) what arrived is stored too, so the client
 * resumes from the last byte the server received.
 */
export class TusStore extends DataStore {
  private readonly deps: TusStoreDeps;

  constructor(deps: TusStoreDeps) {
    super();
    this.deps = deps;
    // Upload-Defer-Length (creation-defer-length) is refused: the length is declared up front so an
    // upload over the limit is refused before any byte is sent. Concatenation is not offered either.
    this.extensions = ['creation', 'creation-with-upload', 'termination', 'expiration'];
  }

  override async create(upload: Upload): Promise<Upload> {
    const owner = this.deps.ownerOf(upload);
    const createdAt = nowIso();
    await this.deps.repo.insert({
      ...owner,
      id: upload.id,
      metadata: upload.metadata ?? {},
      // The library refuses Upload-Defer-Length before this (the extension is not offered).
      length: upload.size ?? 0,
      createdAt,
      expiresAt: new Date(Date.parse(createdAt) + this.deps.expiryMs).toISOString(),
    });
    upload.creation_date = createdAt;
    return upload;
  }

  override async getUpload(id: string): Promise<Upload> {
    const row = await this.deps.repo.get(id);
    if (!row) throw ERRORS.FILE_NOT_FOUND;
    return toUpload(row);
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const row = await this.deps.repo.get(id);
    if (!row) throw ERRORS.FILE_NOT_FOUND;
    // The epoch of the lock this request holds (taken just before): the pieces carry it.
    const epoch = row.lock_epoch;
    const { spool, blobs, repo, pieceBytes } = this.deps;
    const work = `tus-${randomUUID()}`;
    const file = spool.pathFor(work, 'piece');
    await spool.dirFor(work);
    let end = offset;
    let handle = await open(file, 'w');
    let size = 0;
    let storeFailed = false;

    /** Stores what the spool file holds as the piece at `end`, then moves the offset past it. */
    const storePiece = async () => {
      try {
        await handle.close();
        if (size > 0) {
          await blobs.putFile(inputKeys.tusPiece(id, end, epoch), file);
          if (!(await repo.advance(id, epoch, end, end + size))) {
            throw new AppError(
              'conflict',
              'another request took this upload over: ask for its offset (HEAD) and resume',
            );
          }
          end += size;
        }
        size = 0;
        handle = await open(file, 'w');
      } catch (error) {
        storeFailed = true;
        throw error;
      }
    };

    try {
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          for (let rest = chunk; rest.length > 0; ) {
            const take = rest.subarray(0, pieceBytes - size);
            await handle.write(take);
            size += take.length;
            rest = rest.subarray(take.length);
            if (size === pieceBytes) await storePiece();
          }
        }
      } catch (error) {
        // The body ended early: keep what arrived (it is a prefix of what the client sent).
        if (!storeFailed) await storePiece();
        throw error;
      }
      await storePiece();
      return end;
    } finally {
      if (!storeFailed) await handle.close();
      await spool.remove(work);
    }
  }

  override async remove(id: string): Promise<void> {
    const row = await this.deps.repo.get(id);
    if (!row) throw ERRORS.FILE_NOT_FOUND;
    await this.deps.repo.delete(id);
    // Not finished, so no recording owns these bytes yet.
    if (!row.finished_at) await this.deps.blobs.deletePrefix(inputKeys.prefix(id));
  }

  override async deleteExpired(): Promise<number> {
    let removed = 0;
    for (const row of await this.deps.repo.expired(nowIso())) {
      if (!(await this.deps.repo.delete(row.id))) continue;
      // A finished upload's bytes are its recording's input now.
      if (!row.finished_at) await this.deps.blobs.deletePrefix(inputKeys.prefix(row.id));
      removed += 1;
    }
    return removed;
  }

  override getExpiration(): number {
    return this.deps.expiryMs;
  }
}

function toUpload(row: TusUpload): Upload {
  return new Upload({
    id: row.id,
    size: row.length,
    offset: row.received_bytes,
    metadata: JSON.parse(row.metadata) as Record<string, string | null>,
    creation_date: row.created_at,
  });
}
