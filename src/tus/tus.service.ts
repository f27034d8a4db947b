import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { Server, type ServerOptions } from '@tus/server';
import type { Upload } from '@tus/utils';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { NodeRequest } from 'srvx/node';
import type { Principal } from '../auth/principal.ts';
import { nowIso } from '../db/index.ts';
import { AppError } from '../errors.ts';
import type { OrgAccess } from '../orgs/access.ts';
import type { Lifecycle } from '../recordings/lifecycle.ts';
import { cleanName, nameFromFilename } from '../recordings/uploads.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { Spool } from '../storage/spool.ts';
import { textProblem } from '../text-policy.ts';
import { fromTus, isTusError, tusEarlyError } from './tus-errors.ts';
import { createTusLocker } from './tus-locker.ts';
import { type TusOwner, TusStore } from './tus-store.ts';
import type { TusUploadsRepo } from './tus-uploads.repo.ts';

/** Where the tus endpoint lives; an upload's URL is this followed by `/<id>`. */
export const TUS_PATH = '/api/uploads/tus';
/** The response header of the request that finished an upload: the id of the recording it became. */
export const RECORDING_ID_HEADER = 'Earshot-Recording-Id';

const MiB = 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface TusServiceDeps {
  repo: TusUploadsRepo;
  blobs: BlobStore;
  spool: Spool;
  orgAccess: OrgAccess;
  lifecycle: Lifecycle;
  /** MAX_UPLOAD_BYTES: a larger Upload-Length is refused at creation (413), before any byte is sent. */
  maxBytes: number;
  expiryMs: number;
  /** How long a lock nobody renews lasts (the lease length of in-flight work). */
  lockTtlMs: number;
  /** Browser origins besides the server's own that may upload (ALLOWED_ORIGINS). */
  allowedOrigins: readonly string[];
  log: FastifyBaseLogger;
}

/** Who sends the request being handled (none for OPTIONS), and what was decided about an upload it creates. */
interface TusRequest {
  actor: Principal | undefined;
  owner?: TusOwner;
}

/** A tus answer for the route to send: status, headers and the (small, text) body. */
export interface TusAnswer {
  status: number;
  headers: Headers;
  body: string;
}

/** Who may resume, inspect or end an upload: the person, or the API key, that created it. */
const actorKey = (actor: Principal) => (actor.kind === 'api_key' ? `key:${actor.keyId}` : `user:${actor.userId}`);

/**
 * tus 1.0 resumable uploads (https://tus.io/protocols/resumable-upload): @tus/server speaks the
 * protocol; Earshot decides who may do what, where the bytes go (TusStore) and what a finished upload
 * becomes (a recording, through the lifecycle, like a multipart upload).
 *
 * The library's hooks only receive its own request object, so the route runs each request inside
 * `requests` (AsyncLocalStorage) with the authenticated actor; the creation hook leaves the owner it
 * decided there for the store.
 */
export function createTusService(deps: TusServiceDeps) {
  const { repo, orgAccess, lifecycle, maxBytes, log } = deps;
  const requests = new AsyncLocalStorage<TusRequest>();
  /**
   * The error a request ended with, thrown again by the route so the app's error handler answers it in
   * the table's shape (and logs a server fault once). The library's own refusals become table codes.
   */
  const failures = new WeakMap<object, unknown>();

  const current = (): TusRequest => {
    const request = requests.getStore();
    if (!request) throw new AppError('internal', 'a tus request ran outside of its route');
    return request;
  };
  /** The route authenticates every request but OPTIONS, which calls no hook. */
  const actorOf = (): Principal => {
    const { actor } = current();
    if (!actor) throw new AppError('internal', 'a tus request reached a hook without an actor');
    return actor;
  };

  const metadataText = (metadata: Upload['metadata'], key: string, rule: 'plain' | 'display') => {
    const value = metadata?.[key];
    if (value === undefined || value === null) return undefined;
    const problem = textProblem(value, rule);
    if (problem) {
      throw new AppError('validation_failed', `Upload-Metadata ${key} ${problem}`, {
        details: { field: `metadata.${key}` },
      });
    }
    return value;
  };

  /** Creation: the organisation (metadata `org_id`, else the actor's default) must allow recording. */
  async function decideOwner(upload: Upload): Promise<TusOwner> {
    const actor = actorOf();
    const named = metadataText(upload.metadata, 'org_id', 'plain');
    const orgId = named ?? (await orgAccess.defaultOrgId(actor));
    await orgAccess.require(actor, orgId, 'record');
    await lifecycle.checkQueueRoom(actor.userId);
    // The multipart upload refuses an empty file too; here it is known before anything is sent.
    if (upload.size === 0) throw new AppError('invalid_media', 'the file is empty (Upload-Length: 0)');
    const name = metadataText(upload.metadata, 'name', 'display');
    const filename = metadataText(upload.metadata, 'filename', 'plain');
    return {
      orgId,
      userId: actor.userId,
      actor: actorKey(actor),
      name: name !== undefined ? cleanName(name) : (nameFromFilename(filename) ?? 'Upload'),
    };
  }

  /** Another actor's upload is not found, so upload ids cannot be probed. */
  async function checkOwner(request: { method: string }, id: string): Promise<void> {
    const actor = actorOf();
    const row = await repo.get(id);
    if (!row || row.actor !== actorKey(actor)) throw new AppError('not_found', 'upload not found');
    // Bytes go into the organisation only while the actor may still record there.
    if (request.method === 'PATCH') await orgAccess.require(actor, row.org_id, 'record');
  }

  /**
   * A complete upload becomes the recording of the same id, once: the request that stored its last byte
   * does it, and a HEAD or the periodic task (`cleanUp`) does it when that request failed right after.
   */
  async function finish(id: string): Promise<string> {
    const row = await repo.get(id);
    if (!row) throw new AppError('not_found', 'upload not found');
    if (!row.finished_at) {
      await lifecycle.createStoredUpload(
        { id: row.id, orgId: row.org_id, userId: row.user_id, name: row.name, size: row.length },
        (trx) => repo.claimFinished(trx, id, nowIso()),
      );
    }
    return id;
  }

  const options: ServerOptions & { datastore: TusStore } = {
    path: TUS_PATH,
    datastore: new TusStore({
      repo,
      blobs: deps.blobs,
      spool: deps.spool,
      ownerOf: () => {
        const { owner } = current();
        if (!owner) throw new AppError('internal', 'an upload was created without an owner');
        return owner;
      },
      expiryMs: deps.expiryMs,
      pieceBytes: 8 * MiB,
    }),
    maxSize: maxBytes,
    // Relative, so it holds behind any load balancer or proxy (clients resolve it against the endpoint).
    relativeLocation: true,
    namingFunction: () => randomUUID(),
    getFileIdFromRequest: (_request, lastPath) => (lastPath && UUID.test(lastPath) ? lastPath : undefined),
    locker: createTusLocker(repo, {
      ttlMs: deps.lockTtlMs,
      heartbeatMs: Math.min(2000, deps.lockTtlMs / 4),
      retryMs: 250,
      timeoutMs: deps.lockTtlMs + 10_000,
    }),
    disableTerminationForFinishedUploads: true,
    exposedHeaders: [RECORDING_ID_HEADER],
    allowedOrigins: (origin) => deps.allowedOrigins.includes(origin),
    async onIncomingRequest(request, id) {
      if (request.method !== 'POST') await checkOwner(request, id);
    },
    async onUploadCreate(_request, upload) {
      current().owner = await decideOwner(upload);
      return {};
    },
    async onUploadFinish(_request, upload) {
      const recordingId = await finish(upload.id);
      return { headers: { [RECORDING_ID_HEADER]: recordingId, Location: `/api/recordings/${recordingId}` } };
    },
    onResponseError(request, error) {
      failures.set(request, isTusError(error) ? fromTus(error, maxBytes) : error);
      return undefined;
    },
  };
  const server = new Server(options);

  return {
    /**
     * Handles one tus request for `actor` (authenticated by the route; none for OPTIONS). Resolves with
     * the library's answer, or rejects with the error it ended with, for the app's error handler. A
     * HEAD of a complete upload also names its recording (making it first if the request that stored the
     * last byte failed right after), so a client that resumes a finished upload learns it too.
     */
    async handle(
      request: FastifyRequest,
      reply: FastifyReply,
      actor: Principal | undefined,
      uploadId?: string,
    ): Promise<TusAnswer> {
      const nodeRequest = new NodeRequest({ req: request.raw, res: reply.raw });
      return requests.run({ actor }, async () => {
        const response = await server.handleWeb(nodeRequest);
        const answer = { status: response.status, headers: new Headers(response.headers), body: await response.text() };
        answer.headers.delete('content-length');
        if (answer.status >= 400) {
          // The library's own headers (Tus-Resumable, CORS) go with the error too; the body is ours.
          answer.headers.delete('content-type');
          for (const [name, value] of answer.headers) reply.header(name, value);
          throw failures.get(nodeRequest) ?? tusEarlyError(answer.status, answer.body);
        }
        const offset = answer.headers.get('upload-offset');
        if (
          request.method === 'HEAD' &&
          uploadId &&
          offset !== null &&
          offset === answer.headers.get('upload-length')
        ) {
          answer.headers.set(RECORDING_ID_HEADER, await finish(uploadId));
        }
        return answer;
      });
    },

    /** Housekeeping: complete uploads whose final request failed become recordings; expired ones go. */
    async cleanUp(): Promise<{ finished: number; expired: number }> {
      let finished = 0;
      for (const row of await repo.completeUnfinished(nowIso())) {
        await finish(row.id);
        finished += 1;
      }
      const expired = await options.datastore.deleteExpired();
      if (finished || expired) log.info({ finished, expired }, 'resumable uploads cleaned up');
      return { finished, expired };
    },
  };
}

export type TusService = ReturnType<typeof createTusService>;
