import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { TokenService } from '../auth/tokens.ts';
import { AppError } from '../errors.ts';
import { authenticate } from '../http/authenticate.ts';
import { errors, ref, response } from '../http/openapi.ts';
import { contentDisposition } from '../recordings/http-range.ts';
import { IdParams } from '../recordings/recordings.schemas.ts';
import { toSrt, toVtt } from './formats.ts';
import { TranscriptJson, TranscriptQuery, toTranscriptJson } from './transcripts.schemas.ts';
import type { TranscriptsService } from './transcripts.service.ts';

export interface TranscriptsRoutesOptions {
  transcripts: TranscriptsService;
  tokens: TokenService;
}

const SUBTITLES = {
  srt: { type: 'application/x-subrip; charset=utf-8', write: toSrt },
  vtt: { type: 'text/vtt; charset=utf-8', write: toVtt },
} as const;

/** `?format=` wins; otherwise the Accept header may ask for a subtitle type; JSON by default. */
function formatOf(query: string | undefined, accept: string | undefined): 'json' | 'srt' | 'vtt' {
  if (query === 'json' || query === 'srt' || query === 'vtt') return query;
  if (accept?.includes('text/vtt')) return 'vtt';
  if (accept?.includes('application/x-subrip')) return 'srt';
  return 'json';
}

const failures = errors(401, 404, 409, 422, 429, 503);
const Subtitles = Type.String({ description: 'SubRip or WebVTT text' });

export const transcriptsRoutes: FastifyPluginAsyncTypebox<TranscriptsRoutesOptions> = async (app, options) => {
  const { transcripts } = options;
  const preHandler = authenticate(options.tokens);
  const base = { tags: ['transcripts'], params: IdParams };

  app.get(
    '/api/recordings/:id/transcript',
    {
      preHandler,
      schema: {
        ...base,
        operationId: 'getTranscript',
        summary: "A recording's transcript: JSON segments, SubRip or WebVTT",
        description:
          'JSON: status, provider, model, language and the segments with start and end in seconds. With ' +
          '`?format=srt` or `?format=vtt` (or Accept: application/x-subrip or text/vtt) the segments as a ' +
          'subtitle file; 409 while there are none yet.',
        querystring: TranscriptQuery,
        response: {
          200: {
            description: 'The transcript, as JSON or as the subtitle format asked for',
            content: {
              'application/json': { schema: ref(TranscriptJson) },
              'application/x-subrip': { schema: Subtitles },
              'text/vtt': { schema: Subtitles },
            },
          },
          ...failures,
        },
      },
    },
    async (request, reply) => {
      const view = await transcripts.get(request.user, request.params.id);
      const format = formatOf(request.query.format, request.headers.accept);
      if (format === 'json') return toTranscriptJson(view);
      if (view.segments.length === 0 && view.transcript?.status !== 'ready') {
        throw new AppError(
          'conflict',
          `there is no transcript yet (it is ${view.transcript?.status ?? 'not requested'})`,
          {
            details: { status: view.transcript?.status ?? 'none' },
          },
        );
      }
      const subtitles = SUBTITLES[format];
      return reply
        .type(subtitles.type)
        .header('content-disposition', contentDisposition('inline', view.name, `.${format}`))
        .send(subtitles.write(view.segments));
    },
  );

  app.post(
    '/api/recordings/:id/transcript',
    {
      preHandler,
      schema: {
        ...base,
        operationId: 'requestTranscript',
        summary: 'Transcribe a ready recording (again)',
        description:
          'Queues a transcript: 202 with status `pending` (or the one already pending or being made). A ' +
          'finished transcript stays readable until the new one replaces it. 409 while the recording is not ' +
          'ready; 503 `transcription_unavailable` when the server has no provider (the message names the ' +
          'variables to set); 429 past the per-user queue limit.',
        response: { 202: response('Queued: the transcript with status `pending`', TranscriptJson), ...failures },
      },
    },
    async (request, reply) =>
      reply.status(202).send(toTranscriptJson(await transcripts.request(request.user, request.params.id))),
  );
};
