import { Type } from 'typebox';
import { ref } from '../http/openapi.ts';
import type { TranscriptView } from './transcripts.service.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const SegmentJson = Type.Object(
  {
    start: Type.Number({ description: 'Seconds from the start of the recording.' }),
    end: Type.Number({ description: 'Seconds from the start of the recording.' }),
    text: Type.String(),
  },
  { $id: 'TranscriptSegment', description: 'A stretch of speech and its text' },
);

export const TranscriptJson = Type.Object(
  {
    recording_id: Type.String(),
    status: Type.Union(
      [
        Type.Literal('none'),
        Type.Literal('pending'),
        Type.Literal('processing'),
        Type.Literal('ready'),
        Type.Literal('failed'),
      ],
      {
        description:
          'none: never requested. pending: queued. processing: being made. ready: done. failed: see `error` ' +
          "(POST again to retry). The status is the latest request's; `segments` are the last finished " +
          "transcript's, kept while a new one is made or if it fails.",
      },
    ),
    available: Type.Boolean({
      description: 'The server has a transcription provider (TRANSCRIBE_BASE_URL or WHISPER_MODEL), so POST works.',
    }),
    provider: Nullable(Type.String({ description: '`openai` (an OpenAI-compatible server) or `whisper` (local).' })),
    model: Nullable(Type.String()),
    language: Nullable(Type.String({ description: 'As the provider detected it, or as configured.' })),
    error: Nullable(Type.String({ description: 'Why the latest request failed.' })),
    error_code: Nullable(Type.String({ description: 'The error code of that failure, from the errors table.' })),
    requested_at: Nullable(Type.String({ format: 'date-time' })),
    finished_at: Nullable(Type.String({ format: 'date-time' })),
    segments: Type.Array(ref(SegmentJson)),
  },
  { $id: 'Transcript', description: "A recording's transcript: the latest request's status and the segments" },
);

export function toTranscriptJson(view: TranscriptView) {
  const t = view.transcript;
  return {
    recording_id: view.recordingId,
    status: t?.status ?? ('none' as const),
    available: view.available,
    provider: t?.provider ?? null,
    model: t?.model ?? null,
    language: t?.language ?? null,
    error: t?.error ?? null,
    error_code: t?.error_code ?? null,
    requested_at: t?.created_at ?? null,
    finished_at: t?.finished_at ?? null,
    segments: view.segments,
  };
}

export const TranscriptQuery = Type.Object({
  format: Type.Optional(
    Type.Union([Type.Literal('json'), Type.Literal('srt'), Type.Literal('vtt')], {
      description:
        'json (default), srt (SubRip) or vtt (WebVTT); without it, Accept: text/vtt or application/x-subrip.',
    }),
  ),
});
