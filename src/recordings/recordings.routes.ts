import fastifyMultipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { looksLikeApiKey } from '../api-keys/api-key-token.ts';
import type { TokenService } from '../auth/tokens.ts';
import { AppError } from '../errors.ts';
import { authenticate } from '../http/authenticate.ts';
import { checkedParts } from '../http/multipart.ts';
import { binary, errors, noContent, response } from '../http/openapi.ts';
import { contentDisposition, decideRange } from './http-range.ts';
import {
  AudioQuery,
  IdParams,
  ListQuery,
  ListResponse,
  RecordingJson,
  RenameBody,
  toRecordingJson,
  UploadFields,
  UploadForm,
  UploadQuery,
} from './recordings.schemas.ts';
import type { RecordingsService } from './recordings.service.ts';
import { cleanName, type UploadService } from './uploads.ts';

export interface RecordingsRoutesOptions {
  recordings: RecordingsService;
  uploads: UploadService;
  tokens: TokenService;
  uploadBytes: number;
  /** `redirect`: send the client to a short-lived presigned URL of the store when it gives one. */
  audioDelivery: { audioDelivery: 'stream' | 'redirect'; presignedUrlTtlSec: number };
}

const failures = errors(401, 403, 404, 409, 413, 415, 422);
const oneHeader = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(', ') : value);
/** The audio is streamed as it is; this only documents it (Fastify never serialises a stream). */
const audio = (description: string) => ({
  description,
  content: { 'audio/ogg': { schema: binary('Ogg/Opus, 16 kHz mono') } },
});

export const recordingsRoutes: FastifyPluginAsyncTypebox<RecordingsRoutesOptions> = async (app, options) => {
  const { recordings, uploads, tokens } = options;
  const auth = authenticate(tokens);

  // Registered here so multipart parsing (and its limits) only exists on the upload route's plugin.
  await app.register(fastifyMultipart, {
    limits: { fileSize: options.uploadBytes, files: 1, fields: 10, parts: 12, fieldSize: 4096, headerPairs: 100 },
  });

  app.post(
    '/api/recordings/upload',
    {
      preHandler: auth,
      schema: {
        tags: ['recordings'],
        operationId: 'uploadRecording',
        summary: 'Upload an audio or video file',
        description:
          'multipart/form-data with one part `file` and optional fields `name` and `org_id` (before or after the ' +
          'file; `org_id` may also be a query parameter). Default organisation: your personal one. The file is ' +
          'streamed to disk; its format is decided by probing its content, never by name or Content-Type. ' +
          'Processing normalises it to Ogg/Opus 16 kHz mono. The request waits up to `wait` seconds (default ' +
          'about 3): if processing finished, 201 with the ready recording; if it is still running, 202 with ' +
          'status `processing` — poll GET /api/recordings/{id}. If the file turns out not to be usable audio ' +
          'within that time, the answer is 415 (not audio / unsupported format / no audio stream) or 422 ' +
          '(truncated, corrupt, too long) and nothing is kept. A failure found after a 202 leaves the recording ' +
          'with status `failed` and the reason in `error`. Send `org_id` before the file so a refused ' +
          'organisation is answered before the body is read. Larger than the limit: 413. A body that stops ' +
          'arriving: 408. Server disk full: 507.',
        streamedBody: { content: { 'multipart/form-data': { schema: UploadForm } } },
        querystring: UploadQuery,
        response: {
          201: response('Processed within the wait: the recording is ready', RecordingJson),
          202: response('Received and still processing: poll GET /api/recordings/{id}', RecordingJson),
          ...failures,
          ...errors(408, 503, 507),
        },
      },
    },
    async (request, reply) => {
      const result = await uploads.upload({
        actor: request.user,
        parts: checkedParts(request, UploadFields),
        orgId: request.query.org_id,
        name: request.query.name,
        waitMs: request.query.wait === undefined ? undefined : request.query.wait * 1000,
      });
      reply.header('location', `/api/recordings/${result.recording.id}`);
      return reply.status(result.done ? 201 : 202).send(toRecordingJson(result.recording));
    },
  );

  app.get(
    '/api/recordings',
    {
      preHandler: auth,
      schema: {
        tags: ['recordings'],
        operationId: 'listRecordings',
        summary: 'List recordings, newest first',
        description:
          'All recordings of every organisation you belong to, or of `org_id` only (404 if you are not a ' +
          'member). Pass `next_cursor` back as `before` for the next page; it is null on the last page. ' +
          '`q` keeps those whose name or transcript contains the text, ignoring case.',
        querystring: ListQuery,
        response: { 200: response('A page of recordings', ListResponse), ...failures },
      },
    },
    async (request) => {
      const page = await recordings.list(request.user, {
        limit: request.query.limit,
        ...(request.query.org_id ? { orgId: request.query.org_id } : {}),
        ...(request.query.before ? { before: request.query.before } : {}),
        ...(request.query.q ? { q: request.query.q } : {}),
      });
      return { items: page.items.map(toRecordingJson), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/api/recordings/:id',
    {
      preHandler: auth,
      schema: {
        tags: ['recordings'],
        operationId: 'getRecording',
        summary: 'A recording: status, progress and, once ready, the audio properties',
        params: IdParams,
        response: { 200: response('The recording', RecordingJson), ...failures },
      },
    },
    async (request) => toRecordingJson(await recordings.getVisible(request.user, request.params.id)),
  );

  app.patch(
    '/api/recordings/:id',
    {
      preHandler: auth,
      schema: {
        tags: ['recordings'],
        operationId: 'renameRecording',
        summary: 'Rename a recording',
        params: IdParams,
        body: RenameBody,
        response: { 200: response('The renamed recording', RecordingJson), ...failures },
      },
    },
    async (request) =>
      toRecordingJson(await recordings.rename(request.user, request.params.id, cleanName(request.body.name))),
  );

  app.delete(
    '/api/recordings/:id',
    {
      preHandler: auth,
      schema: {
        tags: ['recordings'],
        operationId: 'deleteRecording',
        summary: 'Delete a recording: it goes to the trash',
        description:
          "The recording leaves the lists and reads (404 from now on) and waits in the trash for the organisation's " +
          'retention (`trash_retention_days` of GET /api/orgs/{id}/settings, 30 days by default): ' +
          'POST /api/recordings/{id}/restore undoes it, DELETE /api/trash/{id} deletes it for good at once. ' +
          'Processing goes on meanwhile. 409 while the recording is being recorded live: stop it first.',
        params: IdParams,
        response: { 204: noContent('Moved to the trash'), ...failures },
      },
    },
    async (request, reply) => {
      await recordings.trash(request.user, request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/recordings/:id/reprocess',
    {
      preHandler: auth,
      schema: {
        tags: ['recordings'],
        operationId: 'reprocessRecording',
        summary: 'Process a failed recording again from the input it kept',
        description:
          'A recording that failed keeps what was received (the upload, the stream chunks, the live audio) ' +
          'until `input_kept_until`. This queues processing again: 202 with status `processing`. 409 when ' +
          'the recording is not failed or its input is no longer kept.',
        params: IdParams,
        response: { 202: response('Queued for processing again', RecordingJson), ...failures },
      },
    },
    async (request, reply) =>
      reply.status(202).send(toRecordingJson(await recordings.reprocess(request.user, request.params.id))),
  );

  // <audio> elements cannot send an Authorization header, so this one route also accepts the access token
  // in ?access_token= (RFC 6750 §2.3). It is checked by the same validator; its logs stay at warn so the
  // URL (with the token) is not written to the request log. Not an API key: a URL ends up in browser
  // history and proxy logs, where a 15-minute token expires but a key goes on working.
  const audioAuth = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = (request.query as { access_token?: string }).access_token;
    if (request.headers.authorization || !token) return auth.call(app, request, reply);
    if (looksLikeApiKey(token)) {
      throw new AppError('invalid_token', 'send an API key in the Authorization header, never in a URL');
    }
    request.user = await tokens.validateAccessToken(token);
  };

  app.get(
    '/api/recordings/:id/audio',
    {
      logLevel: 'warn',
      preHandler: audioAuth,
      schema: {
        tags: ['recordings'],
        operationId: 'getRecordingAudio',
        summary: 'The normalised audio (audio/ogg), with Range support',
        description:
          'Serves the Ogg/Opus file with `Accept-Ranges: bytes`: a single byte range gives 206 with ' +
          'Content-Range, an unsatisfiable one 416; several ranges are answered with the whole file (200). ' +
          'ETag with If-None-Match (304) and If-Range are supported. Inline by default (for <audio>); ' +
          '`?download=1` makes it an attachment. Authentication: the Bearer header, or — for <audio> elements ' +
          'that cannot send headers — the same short-lived access token in `?access_token=` (this route only; ' +
          'never an API key, which goes in the header). ' +
          '409 while the recording is not ready. With AUDIO_DELIVERY=redirect and S3 storage, the answer is ' +
          'instead 302 to a presigned URL of the object store, valid for PRESIGNED_URL_TTL_SECONDS, which ' +
          'serves the same bytes with Range.',
        params: IdParams,
        querystring: AudioQuery,
        response: {
          200: audio('The whole file'),
          206: audio('The byte range asked for (Content-Range says which)'),
          302: noContent('AUDIO_DELIVERY=redirect: the Location header is a presigned URL of the object store'),
          304: noContent('Not modified since the ETag given in If-None-Match'),
          ...failures,
          ...errors(416),
        },
      },
    },
    async (request, reply) => {
      const audio = await recordings.openAudio(request.user, request.params.id);
      const download = request.query.download === '1' || request.query.download === 'true';
      const disposition = contentDisposition(download ? 'attachment' : 'inline', audio.recording.name, '.ogg');
      if (options.audioDelivery.audioDelivery === 'redirect') {
        const url = await audio.signedUrl({
          expiresInSec: options.audioDelivery.presignedUrlTtlSec,
          contentDisposition: disposition,
        });
        if (url) return reply.header('cache-control', 'private, no-store').redirect(url, 302);
      }
      const decision = decideRange(
        {
          method: request.method,
          range: request.headers.range,
          ifRange: oneHeader(request.headers['if-range']),
          ifNoneMatch: oneHeader(request.headers['if-none-match']),
        },
        audio.blob,
      );
      reply.header('accept-ranges', 'bytes');
      if (decision.kind === 'unsatisfiable') {
        // RFC 9110 §15.5.17: a 416 names the current length so the client can ask again.
        reply.header('content-range', `bytes */${audio.blob.size}`);
        throw new AppError('range_not_satisfiable', `the file has ${audio.blob.size} bytes`);
      }
      reply
        .header('etag', audio.blob.etag)
        .header('cache-control', 'private, no-cache')
        .header('referrer-policy', 'no-referrer')
        .header('content-disposition', disposition);
      switch (decision.kind) {
        case 'not_modified':
          return reply.status(304).send(null);
        case 'partial':
          return reply
            .status(206)
            .type('audio/ogg')
            .header('content-range', `bytes ${decision.start}-${decision.end}/${audio.blob.size}`)
            .header('content-length', decision.end - decision.start + 1)
            .send(await audio.read({ start: decision.start, end: decision.end }));
        case 'full':
          return reply
            .status(200)
            .type('audio/ogg')
            .header('content-length', audio.blob.size)
            .send(await audio.read());
      }
    },
  );
};
