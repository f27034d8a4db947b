import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Multipart } from '@fastify/multipart';
import type { Principal } from '../auth/principal.ts';
import type { Recording } from '../db/schema.ts';
import { AppError, ERRORS, type ErrorCode } from '../errors.ts';
import type { OrgAccess } from '../orgs/access.ts';
import type { Spool } from '../storage/spool.ts';
import type { Lifecycle } from './lifecycle.ts';

export const MAX_NAME_LENGTH = 200;
/** An upload being received, in its own spool folder (which the start-up sweep removes after a crash). */
const UPLOAD_PART = 'upload.part';

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
  spool: Spool;
  orgAccess: OrgAccess;
  lifecycle: Lifecycle;
  /** Default time an upload request waits for processing before answering 202. */
  waitMs: number;
}

/**
 * Receives one multipart upload into the spool (streamed to disk, never held in memory), fsyncs it and
 * hands it to the lifecycle, which stores it and creates the recording in status `processing` with its
 * job queued. The org is checked before the file is read when `org_id` comes first (query string or an
 * earlier field); when it follows the file, the received bytes are removed if the check fails. Size
 * limits are enforced by @fastify/multipart (`limits.fileSize`).
 */
export function createUploadReceiver(deps: UploadDeps) {
  const { spool, orgAccess, lifecycle } = deps;

  async function receiveUpload(input: {
    actor: Principal;
    parts: AsyncIterable<Multipart>;
    orgId?: string | undefined;
    name?: string | undefined;
  }): Promise<Recording> {
    const id = randomUUID();
    let orgId = input.orgId;
    /** The org checked before the file was read: the one named so far, else the actor's default. */
    let checkedOrgId: string | undefined;
    let orgChecked = false;
    let name = input.name;
    let filename: string | undefined;
    let received = false;
    // A folder of its own: the recording's folder belongs to its processing job once the upload is stored.
    const incoming = `incoming-${id}`;
    const partPath = spool.pathFor(incoming, UPLOAD_PART);
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
        // A refused upload (another org, a key without `record`) is answered before the file is read.
        checkedOrgId = orgId ?? (await orgAccess.defaultOrgId(input.actor));
        await orgAccess.require(input.actor, checkedOrgId, 'record');
        orgChecked = orgId !== undefined;
        await spool.dirFor(incoming);
        await pipeline(part.file, createWriteStream(partPath, { flags: 'wx' }));
        if (part.file.truncated) throw new AppError('payload_too_large', 'the file is larger than the upload limit');
        filename = part.filename;
        received = true;
      }
      if (!received)
        throw new AppError('validation_failed', 'no file: send the audio in a multipart field named "file"');
      orgId ??= checkedOrgId ?? (await orgAccess.defaultOrgId(input.actor));
      if (orgId !== checkedOrgId) await orgAccess.require(input.actor, orgId, 'record');
      const displayName = name !== undefined ? cleanName(name) : (nameFromFilename(filename) ?? 'Upload');

      const size = (await stat(partPath)).size;
      if (size === 0) throw new AppError('invalid_media', 'the uploaded file is empty');
      // Durable before it is stored and the recording exists: nothing is acknowledged from the page cache.
      const handle = await open(partPath, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      return await lifecycle.createUpload({
        id,
        orgId,
        userId: input.actor.userId,
        name: displayName,
        file: partPath,
        size,
      });
    } finally {
      await spool.remove(incoming);
    }
  }

  return {
    /**
     * Stores the upload, queues processing and waits up to `waitMs` for it. `done` false means still
     * processing (answer 202). When the media is refused within the wait (not audio, corrupt, too long),
     * the recording is deleted and the error is thrown: a client told "415/422" at once keeps nothing
     * behind, and still has its file. Failures after the wait leave the recording `failed`, with its
     * input kept for "process again".
     */
    async upload(input: {
      actor: Principal;
      parts: AsyncIterable<Multipart>;
      orgId?: string | undefined;
      name?: string | undefined;
      waitMs?: number | undefined;
    }): Promise<{ recording: Recording; done: boolean }> {
      const recording = await receiveUpload(input);
      const settled = await lifecycle.waitForSettled(recording.id, input.waitMs ?? deps.waitMs);
      if (!settled) return { recording: (await lifecycle.current(recording.id)) ?? recording, done: false };
      if (settled.status === 'ready') return { recording: settled, done: true };
      const code = settled.error_code && settled.error_code in ERRORS ? (settled.error_code as ErrorCode) : 'internal';
      if (ERRORS[code].http >= 500) return { recording: settled, done: true };
      await lifecycle.remove(settled);
      throw new AppError(code, settled.error ?? 'the file could not be processed');
    },
  };
}

export type UploadService = ReturnType<typeof createUploadReceiver>;
