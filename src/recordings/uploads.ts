import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Multipart } from '@fastify/multipart';
import type { Recording } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { OrgAccess } from '../orgs/access.ts';
import type { Spool } from '../storage/spool.ts';
import type { RecordingsRepo } from './recordings.repo.ts';
import { type RecordingsService, SPOOL_FILES } from './recordings.service.ts';

export const MAX_NAME_LENGTH = 200;
/** Name of an upload still being received; the startup sweep removes folders holding only this. */
export const UPLOAD_PART = 'upload.part';

/** A display name from the client's file name: no folders, no extension, no control characters. */
export function nameFromFilename(filename: string | undefined): string | undefined {
  if (!filename) return undefined;
  const base = path.posix.basename(filename.replaceAll('\\', '/'));
  const stem = base.includes('.') ? base.slice(0, base.lastIndexOf('.')) : base;
  const clean = stem
    .replace(/\p{Cc}/gu, ' ')
    .trim()
    .slice(0, MAX_NAME_LENGTH);
  return clean || undefined;
}

export function cleanName(raw: string): string {
  const name = raw.replace(/\p{Cc}/gu, ' ').trim();
  if (!name) throw new AppError('validation_failed', 'name must not be empty');
  if (name.length > MAX_NAME_LENGTH) {
    throw new AppError('validation_failed', `name must be at most ${MAX_NAME_LENGTH} characters`);
  }
  return name;
}

export interface UploadDeps {
  repo: RecordingsRepo;
  spool: Spool;
  orgAccess: OrgAccess;
  recordings: RecordingsService;
  /** Default time an upload request waits for processing before answering 202. */
  waitMs: number;
}

/**
 * Receives one multipart upload into the spool (streamed to disk, never held in memory) and creates
 * the recording in status `processing`. The org is checked before the file is read when `org_id`
 * comes first (query string or an earlier field); when it follows the file, the stored bytes are
 * removed if the check fails. Size limits are enforced by @fastify/multipart (`limits.fileSize`).
 */
export function createUploadReceiver(deps: UploadDeps) {
  const { repo, spool, orgAccess, recordings } = deps;

  async function receiveUpload(input: {
    userId: string;
    parts: AsyncIterable<Multipart>;
    orgId?: string | undefined;
    name?: string | undefined;
  }): Promise<{ recording: Recording; inputPath: string }> {
    const id = randomUUID();
    let orgId = input.orgId;
    let orgChecked = false;
    let name = input.name;
    let filename: string | undefined;
    let received = false;
    const partPath = spool.pathFor(id, UPLOAD_PART);
    const inputPath = spool.pathFor(id, SPOOL_FILES.upload);
    try {
      for await (const part of input.parts) {
        if (part.type === 'field') {
          if (part.valueTruncated) throw new AppError('payload_too_large', `field "${part.fieldname}" is too long`);
          if (part.fieldname === 'name') name = String(part.value);
          else if (part.fieldname === 'org_id') {
            if (orgChecked && orgId !== String(part.value)) {
              throw new AppError('validation_failed', 'org_id was given twice with different values');
            }
            orgId = String(part.value);
          }
          continue;
        }
        if (part.fieldname !== 'file') {
          part.file.resume();
          throw new AppError(
            'validation_failed',
            `unexpected file field "${part.fieldname}": send the audio as "file"`,
          );
        }
        if (orgId !== undefined) {
          await orgAccess.require(input.userId, orgId);
          orgChecked = true;
        }
        await spool.dirFor(id);
        await pipeline(part.file, createWriteStream(partPath, { flags: 'wx' }));
        if (part.file.truncated) throw new AppError('payload_too_large', 'the file is larger than the upload limit');
        filename = part.filename;
        received = true;
      }
      if (!received)
        throw new AppError('validation_failed', 'no file: send the audio in a multipart field named "file"');
      if (orgId === undefined) orgId = await orgAccess.personalOrgId(input.userId);
      else if (!orgChecked) await orgAccess.require(input.userId, orgId);
      const displayName = name !== undefined ? cleanName(name) : (nameFromFilename(filename) ?? 'Upload');

      const size = (await stat(partPath)).size;
      if (size === 0) throw new AppError('invalid_media', 'the uploaded file is empty');
      // Durable before the recording exists, so a crash never leaves a row pointing at half a file.
      const handle = await open(partPath, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(partPath, inputPath);
      const recording = await repo.create({
        id,
        orgId,
        userId: input.userId,
        name: displayName,
        source: 'upload',
        status: 'processing',
        inputKey: SPOOL_FILES.upload,
        receivedBytes: size,
      });
      return { recording, inputPath };
    } catch (error) {
      await spool.remove(id);
      throw error;
    }
  }

  return {
    /**
     * Stores the upload, queues processing and waits up to `waitMs` for it. `done` false means still
     * processing (answer 202). When processing fails within the wait, the recording is deleted and the
     * error is thrown: a client told "415/422" at once keeps nothing behind. Failures after the wait
     * leave the recording `failed` with the message in `error`.
     */
    async upload(input: {
      userId: string;
      parts: AsyncIterable<Multipart>;
      orgId?: string | undefined;
      name?: string | undefined;
      waitMs?: number | undefined;
    }): Promise<{ recording: Recording; done: boolean }> {
      const { recording, inputPath } = await receiveUpload(input);
      const job = recordings.startProcessing(recording.id, inputPath);
      let outcome: Awaited<typeof job> | undefined;
      try {
        outcome = await Promise.race([
          job,
          new Promise<undefined>((resolve) => setTimeout(resolve, input.waitMs ?? deps.waitMs, undefined).unref()),
        ]);
      } catch (error) {
        // The queue refused the job (full or shutting down): nothing will process it.
        await repo.delete(recording.id);
        await spool.remove(recording.id);
        throw error;
      }
      if (!outcome) return { recording: (await repo.get(recording.id)) ?? recording, done: false };
      if (outcome.ok) return { recording: outcome.recording, done: true };
      if (outcome.interrupted) return { recording: (await repo.get(recording.id)) ?? recording, done: false };
      await repo.delete(recording.id);
      throw outcome.error;
    },
  };
}

export type UploadService = ReturnType<typeof createUploadReceiver>;
