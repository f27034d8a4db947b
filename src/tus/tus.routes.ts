import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { TokenService } from '../auth/tokens.ts';
import { authenticate } from '../http/authenticate.ts';
import { errors } from '../http/openapi.ts';
import { Text } from '../text-policy.ts';
import { RECORDING_ID_HEADER, TUS_PATH, type TusAnswer, type TusService } from './tus.service.ts';

export interface TusRoutesOptions {
  tus: TusService;
  tokens: TokenService;
  maxBytes: number;
}

/** tus headers, for the document: every one is text under the plain rule; @tus/server checks their form. */
const header = (description: string) => Type.Optional(Text('plain', { description }));
const TUS_RESUMABLE = header('`1.0.0`, the tus protocol version: required on every request but OPTIONS (else 412).');
const RequestHeaders = {
  create: Type.Object({
    'tus-resumable': TUS_RESUMABLE,
    'upload-length': header(
      'Size of the file in bytes (decimal). Required: Upload-Defer-Length is not supported. Above Tus-Max-Size: 413 before any byte is sent.',
    ),
    'upload-metadata': header(
      'Comma-separated `key base64(value)` pairs: `filename` (suggests the name), `name` (the recording name), `org_id` (default: your personal organisation, or an API key’s own); others are kept and answered back on HEAD.',
    ),
    'content-type': header(
      '`application/offset+octet-stream` to send the first bytes with the creation request (creation-with-upload).',
    ),
  }),
  patch: Type.Object({
    'tus-resumable': TUS_RESUMABLE,
    'upload-offset': header('The offset this request writes at: the Upload-Offset a HEAD answered (else 409).'),
    'content-type': header('`application/offset+octet-stream` (else 415).'),
  }),
  other: Type.Object({ 'tus-resumable': TUS_RESUMABLE }),
};
const Params = Type.Object({ id: Text('plain', { description: 'The upload id, the last segment of its Location.' }) });

/** An empty answer whose meaning is in its headers. */
const empty = (description: string, headers: Record<string, string> = {}) =>
  Type.Null({
    description,
    headers: Object.fromEntries(
      Object.entries(headers).map(([name, about]) => [name, { type: 'string', description: about }]),
    ),
  });
const failures = errors(400, 401, 403, 404, 412, 503);
const tags = ['uploads'];

/** Sends the library's answer through Fastify, so the app's hooks (node header, logging) see it. */
function send(reply: FastifyReply, answer: TusAnswer) {
  for (const [name, value] of answer.headers) reply.header(name, value);
  return reply.status(answer.status).send(answer.body || undefined);
}

/**
 * tus 1.0 resumable uploads at /api/uploads/tus (src/tus/tus.service.ts). Every request but OPTIONS is
 * authenticated like any other route (Bearer access token or API key). Bodies are the raw bytes: this
 * plugin's parser for application/offset+octet-stream leaves the request stream to @tus/server, which
 * reads it as it arrives.
 */
export const tusRoutes: FastifyPluginAsyncTypebox<TusRoutesOptions> = async (app, options) => {
  const { tus, tokens, maxBytes } = options;
  const auth = authenticate(tokens);
  app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null));

  const discovery = {
    schema: {
      tags,
      operationId: 'discoverTus',
      security: [],
      summary: 'tus discovery: version, extensions and the size limit',
      description:
        'Answers 204 with `Tus-Version: 1.0.0`, `Tus-Extension: creation,creation-with-upload,termination,expiration` ' +
        `and \`Tus-Max-Size\` (MAX_UPLOAD_BYTES, ${maxBytes} here): an upload above it is refused at creation. ` +
        'Needs no token (browsers send it as a CORS preflight).',
      response: {
        204: empty('What this server supports', {
          'Tus-Version': '1.0.0',
          'Tus-Extension': 'creation,creation-with-upload,termination,expiration',
          'Tus-Max-Size': 'the largest Upload-Length accepted, in bytes',
        }),
      },
    },
  };
  app.options(TUS_PATH, discovery, async (request, reply) => send(reply, await tus.handle(request, reply, undefined)));
  // The same answer for a browser's CORS preflight before HEAD, PATCH or DELETE; documented once, above.
  app.options(`${TUS_PATH}/:id`, { schema: { hide: true, params: Params } }, async (request, reply) =>
    send(reply, await tus.handle(request, reply, undefined)),
  );

  app.post(
    TUS_PATH,
    {
      preHandler: auth,
      schema: {
        tags,
        operationId: 'createTusUpload',
        summary: 'Create a resumable upload (tus creation)',
        description:
          'Declares the file’s size (`Upload-Length`) and metadata; answers 201 with the upload’s URL in ' +
          '`Location` and `Upload-Expires` (unfinished uploads are removed after RESUMABLE_UPLOAD_EXPIRY_SECONDS). ' +
          'The organisation must allow you to record (API keys: the `record` scope). A body in ' +
          '`application/offset+octet-stream` is stored as the first bytes (creation-with-upload). ' +
          `Upload-Length above ${maxBytes} bytes: 413, before any byte is sent.`,
        headers: RequestHeaders.create,
        response: {
          201: empty('Created', {
            Location: 'the upload’s URL (relative): HEAD, PATCH and DELETE it',
            'Upload-Expires': 'when an unfinished upload is removed (RFC 9110 date)',
            'Upload-Offset': 'bytes stored, when the request carried some',
            [RECORDING_ID_HEADER]: 'when this request completed the upload: the recording it became',
          }),
          ...failures,
          ...errors(409, 413, 415, 422, 429, 507),
        },
      },
    },
    async (request, reply) => send(reply, await tus.handle(request, reply, request.user)),
  );

  app.head(
    `${TUS_PATH}/:id`,
    {
      preHandler: auth,
      // @fastify/swagger leaves HEAD routes out unless told: this one is the tus offset request.
      config: { swagger: { exposeHeadRoute: true } },
      schema: {
        tags,
        operationId: 'getTusUploadOffset',
        summary: 'How much of the upload is stored (tus offset)',
        description:
          'Answers 200 with `Upload-Offset` (bytes stored: resume there), `Upload-Length` and `Upload-Metadata`, ' +
          `and once complete \`${RECORDING_ID_HEADER}\`. Another person’s (or API key’s) upload: 404. Expired: 410.`,
        params: Params,
        headers: RequestHeaders.other,
        response: {
          200: empty('The upload’s state', {
            'Upload-Offset': 'bytes stored',
            'Upload-Length': 'the declared size',
            'Upload-Metadata': 'as sent at creation',
            [RECORDING_ID_HEADER]: 'once every byte is stored: the recording the upload became',
          }),
          ...failures,
          ...errors(410),
        },
      },
    },
    async (request, reply) => send(reply, await tus.handle(request, reply, request.user, request.params.id)),
  );

  app.patch(
    `${TUS_PATH}/:id`,
    {
      preHandler: auth,
      schema: {
        tags,
        operationId: 'appendTusUpload',
        summary: 'Append bytes at the upload’s offset (tus PATCH)',
        description:
          'The body (`application/offset+octet-stream`) is written at `Upload-Offset`, which must be the ' +
          'upload’s offset (else 409). Bytes are stored as they arrive: when the connection drops, HEAD says ' +
          'how far the server got. Answers 204 with the new `Upload-Offset`. The request that stores the ' +
          `last byte makes the upload a recording, processed like any upload: its answer carries \`${RECORDING_ID_HEADER}\` ` +
          'and `Location: /api/recordings/{id}` — poll that until status is ready or failed. Past the ' +
          'declared length: 413. A body that stops arriving: its bytes so far are kept.',
        params: Params,
        headers: RequestHeaders.patch,
        consumes: ['application/offset+octet-stream'],
        response: {
          204: empty('Stored', {
            'Upload-Offset': 'bytes stored now',
            'Upload-Expires': 'while unfinished: when it is removed',
            [RECORDING_ID_HEADER]: 'when this request completed the upload: the recording it became',
            Location: 'with it: /api/recordings/{id}',
          }),
          ...failures,
          ...errors(409, 410, 413, 415, 507),
        },
      },
    },
    async (request, reply) => send(reply, await tus.handle(request, reply, request.user, request.params.id)),
  );

  app.delete(
    `${TUS_PATH}/:id`,
    {
      preHandler: auth,
      schema: {
        tags,
        operationId: 'cancelTusUpload',
        summary: 'Cancel an unfinished upload (tus termination)',
        description:
          'Removes the upload and its bytes: 204. A finished upload is a recording: 409 (delete the recording).',
        params: Params,
        headers: RequestHeaders.other,
        response: { 204: empty('Removed'), ...failures, ...errors(409) },
      },
    },
    async (request, reply) => send(reply, await tus.handle(request, reply, request.user, request.params.id)),
  );
};
