import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { TokenService } from '../auth/tokens.ts';
import type { Recording } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import { authenticate } from '../http/authenticate.ts';
import { binary, errors, response } from '../http/openapi.ts';
import type { Spool } from '../storage/spool.ts';
import { IdParams, StreamHeaders, StreamQuery, StreamResponse, toRecordingJson } from './recordings.schemas.ts';
import { type ChunkFile, chunkPathIn, discardChunk, type StreamService } from './stream.service.ts';

export interface StreamRoutesOptions {
  streams: StreamService;
  tokens: TokenService;
  spool: Spool;
  chunkBytes: number;
}

const CHUNK_TYPES = ['application/octet-stream', 'audio/ogg', 'audio/webm', 'audio/opus'];
/** The raw chunk in each type it may be sent as, for the document (the handler reads the body itself). */
const CHUNK_BODY = {
  content: Object.fromEntries(
    CHUNK_TYPES.map((type) => [type, { schema: binary('The next bytes of one Ogg/Opus or WebM/Opus recording') }]),
  ),
};

/**
 * Streams a chunk body into a spool file of its own, refusing it (413) as soon as it passes the chunk
 * limit. The caller removes it (discardChunk) when the request is done.
 */
async function receiveChunk(
  body: unknown,
  spool: Spool,
  limit: number,
  declared: string | undefined,
): Promise<ChunkFile> {
  if (declared !== undefined && Number(declared) > limit) {
    throw new AppError('payload_too_large', `a chunk may be at most ${limit} bytes`);
  }
  // Another parser (JSON, form) handled the body: not one of the chunk types.
  if (body !== undefined && body !== null && !(body instanceof Readable)) {
    throw new AppError('unsupported_media', `send chunks as ${CHUNK_TYPES.join(', ')}`);
  }
  const folder = await spool.dirFor(`incoming-${randomUUID()}`);
  const chunk: ChunkFile = { path: chunkPathIn(folder), size: 0 };
  try {
    const counter = new Transform({
      transform(piece: Buffer, _encoding, done) {
        chunk.size += piece.length;
        if (chunk.size > limit) done(new AppError('payload_too_large', `a chunk may be at most ${limit} bytes`));
        else done(null, piece);
      },
    });
    await pipeline(body instanceof Readable ? body : Readable.from([]), counter, createWriteStream(chunk.path));
    return chunk;
  } catch (error) {
    await discardChunk(chunk);
    throw error;
  }
}

const oneHeader = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** The stream's state after a call: 202 while processing, else 200 (or `status`, e.g. 201 on create). */
function sendStreamState(reply: FastifyReply, recording: Recording, status?: number) {
  return reply
    .status(status ?? (recording.status === 'processing' ? 202 : 200))
    .header('upload-offset', String(recording.received_bytes))
    .send({
      recording_id: recording.id,
      offset: recording.received_bytes,
      status: recording.status,
      recording: toRecordingJson(recording),
    });
}

function withOffsetHeader(reply: FastifyReply, error: unknown): never {
  if (isAppError(error) && typeof error.details?.offset === 'number') {
    reply.header('upload-offset', String(error.details.offset));
  }
  throw error;
}

export const streamRoutes: FastifyPluginAsyncTypebox<StreamRoutesOptions> = async (app, options) => {
  const { streams, tokens } = options;
  const auth = authenticate(tokens);

  // Chunks arrive as raw bodies; the handler reads the stream itself (with the chunk limit), so Fastify
  // does not buffer or parse it.
  app.addContentTypeParser(CHUNK_TYPES, (_request, payload, done) => done(null, payload));

  app.post(
    '/api/recordings/stream',
    {
      preHandler: auth,
      schema: {
        tags: ['recordings'],
        operationId: 'appendStreamChunk',
        summary: 'Append a chunk to a chunked stream (creates the recording on the first chunk)',
        description:
          'The raw body (application/octet-stream, audio/ogg or audio/webm) is the next piece of ONE Ogg/Opus ' +
          'or WebM/Opus recording, split anywhere. The first call has no recording_id (optional `name`, ' +
          '`org_id`), starts at offset 0 and answers 201 with the `recording_id`. Later calls name it ' +
          '(`recording_id` query or `Recording-Id` header) and may state the byte offset they append at ' +
          '(`offset` query or `Upload-Offset` header, as in tus); without an offset the chunk is appended at ' +
          'the end, and an Ogg chunk whose pages (by serial and sequence number) are already stored is taken ' +
          'as a retry. Every answer reports the bytes stored so far (`offset`, `Upload-Offset`). Resending a ' +
          'chunk that is already stored (same offset, same bytes) is harmless: 200 with the current offset. ' +
          'Chunks of one stream may reach different nodes of a cluster. A gap or overlap is 409 with the server offset in ' +
          'the body (`details.offset`) and the `Upload-Offset` header. Ogg chunks are checked page by page ' +
          '(capture pattern, version, sizes, CRC-32) and a corrupt one is refused with 422 without touching ' +
          'what is stored; WebM is recognised by its EBML magic on the first chunk and later chunks are ' +
          'accepted as they are (the container is checked when the stream is processed). A chunk is ' +
          'acknowledged only once it is on disk (fsync). `final=true` (or POST .../finish) ends the stream ' +
          'and processes it like an upload: 200 when ready within a few seconds, else 202 with status ' +
          'processing. Appending to a finished stream is 409. Chunk larger than the limit: 413; first chunk ' +
          'neither Ogg nor WebM: 415. A body that stops arriving: 408. Server disk full: 507 (the offset is unchanged).',
        streamedBody: CHUNK_BODY,
        querystring: StreamQuery,
        headers: StreamHeaders,
        response: {
          200: response('Stored (or already stored); with final=true, also processed', StreamResponse),
          201: response('The first chunk: the stream and its recording were created', StreamResponse),
          202: response('Finished and still processing: poll GET /api/recordings/{id}', StreamResponse),
          ...errors(401, 403, 404, 408, 409, 413, 415, 422, 507),
        },
      },
    },
    async (request, reply) => {
      try {
        const query = request.query;
        const recordingId = query.recording_id ?? request.headers['recording-id'];
        const offset = query.offset ?? request.headers['upload-offset'];
        const chunk = await receiveChunk(
          request.body,
          options.spool,
          options.chunkBytes,
          oneHeader(request.headers['content-length']),
        );
        // The received copy goes before the answer does: nothing of a request outlives it.
        const result = await streams
          .append({
            actor: request.user,
            recordingId,
            orgId: query.org_id,
            name: query.name,
            offset,
            final: query.final === true,
            chunk,
          })
          .finally(() => discardChunk(chunk));
        reply.header('location', `/api/recordings/${result.recording.id}`);
        return sendStreamState(reply, result.recording, result.created ? 201 : undefined);
      } catch (error) {
        return withOffsetHeader(reply, error);
      }
    },
  );

  app.post(
    '/api/recordings/stream/:id/finish',
    {
      preHandler: auth,
      schema: {
        tags: ['recordings'],
        operationId: 'finishStream',
        summary: 'End a chunked stream and process it',
        description:
          '200 with the ready recording when processing ends within a few seconds, else 202 (status ' +
          'processing). 422 when nothing was received or the data ends inside an Ogg page, or when the ' +
          'stream is not usable audio (the recording is then `failed`). Finishing twice answers the state.',
        params: IdParams,
        response: {
          200: response('Finished and processed: the recording is ready', StreamResponse),
          202: response('Finished and still processing: poll GET /api/recordings/{id}', StreamResponse),
          ...errors(401, 403, 404, 409, 422),
        },
      },
    },
    async (request, reply) => {
      try {
        return sendStreamState(reply, await streams.finish(request.user, request.params.id));
      } catch (error) {
        return withOffsetHeader(reply, error);
      }
    },
  );
};
