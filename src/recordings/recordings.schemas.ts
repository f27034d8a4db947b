import { Type } from 'typebox';
import type { Recording } from '../db/schema.ts';
import { binary, ref } from '../http/openapi.ts';
import { Text } from '../text-policy.ts';
import { filenameFor } from './lifecycle.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const RecordingJson = Type.Object(
  {
    id: Type.String(),
    org_id: Type.String(),
    name: Type.String(),
    meeting_link: Nullable(Type.String()),
    source: Type.Union([Type.Literal('upload'), Type.Literal('stream'), Type.Literal('live')]),
    status: Type.Union([
      Type.Literal('receiving'),
      Type.Literal('processing'),
      Type.Literal('ready'),
      Type.Literal('failed'),
    ]),
    progress: Type.Number({ description: 'Fraction 0..1 of processing done; 1 when ready.' }),
    error: Nullable(Type.String({ description: 'Why processing failed (status failed).' })),
    error_code: Nullable(Type.String({ description: 'The error code of a failure, from the errors table.' })),
    input_kept_until: Nullable(
      Type.String({
        format: 'date-time',
        description: 'A failed recording keeps what was received until then: POST .../reprocess to try again.',
      }),
    ),
    duration_sec: Nullable(Type.Number()),
    size_bytes: Nullable(Type.Integer({ description: 'Size of the normalised Ogg/Opus file.' })),
    codec: Nullable(Type.String()),
    sample_rate: Nullable(Type.Integer({ description: 'Opus input sample rate (16000).' })),
    channels: Nullable(Type.Integer()),
    bitrate: Nullable(Type.Integer({ description: 'Average bits per second.' })),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    finished_at: Nullable(Type.String({ format: 'date-time' })),
    received_bytes: Type.Integer({ description: 'Input bytes received (the append offset for streams).' }),
    audio_sha256: Nullable(Type.String({ description: 'SHA-256 (hex) of the audio file, once ready.' })),
    committed_bytes: Type.Integer({
      description: 'Input bytes in shared storage (live recordings: the committed watermark).',
    }),
    pipeline: Nullable(
      Type.Union([Type.Literal('remux'), Type.Literal('transcode')], {
        description:
          'How the file was made, once ready: remux (the Opus packets the client sent, copied as they are: it ' +
          'already sent the stored format) or transcode (decoded and encoded again).',
      }),
    ),
    filename: Nullable(Type.String({ description: 'Stored audio file name, once ready.' })),
  },
  { $id: 'Recording', description: 'A recording: where it stands and, once ready, its audio' },
);

export function toRecordingJson(recording: Recording) {
  return {
    id: recording.id,
    org_id: recording.org_id,
    name: recording.name,
    meeting_link: recording.meeting_link,
    source: recording.source,
    status: recording.status,
    progress: recording.progress,
    error: recording.error,
    error_code: recording.error_code,
    input_kept_until: recording.status === 'failed' ? recording.input_expires_at : null,
    duration_sec: recording.duration_sec,
    size_bytes: recording.size_bytes,
    codec: recording.codec,
    sample_rate: recording.sample_rate,
    channels: recording.channels,
    bitrate: recording.bitrate,
    pipeline: recording.pipeline,
    created_at: recording.created_at,
    updated_at: recording.updated_at,
    finished_at: recording.finished_at,
    received_bytes: recording.received_bytes,
    audio_sha256: recording.audio_sha256,
    committed_bytes: recording.committed_bytes,
    filename: recording.audio_key ? filenameFor(recording.id) : null,
  };
}

// Request parts name every property they take and refuse others, like the JSON bodies (src/http/validation.ts).
const Strict = { additionalProperties: false } as const;
const Id = (description?: string) =>
  Text('plain', { minLength: 1, maxLength: 64, ...(description ? { description } : {}) });
const Name = Text('display', { maxLength: 200 });

export const IdParams = Type.Object({ id: Id() }, Strict);

export const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    before: Type.Optional(Text('plain', { maxLength: 512, description: 'next_cursor of the previous page' })),
    org_id: Type.Optional(Id('Only this organisation (default: all yours)')),
    q: Type.Optional(
      Text('display', {
        maxLength: 200,
        description: 'Only recordings whose name or transcript contains this text (case-insensitive).',
      }),
    ),
  },
  Strict,
);

export const ListResponse = Type.Object(
  {
    items: Type.Array(ref(RecordingJson)),
    next_cursor: Nullable(Type.String({ description: 'Pass it as `before` for the next page; null on the last.' })),
  },
  { $id: 'RecordingPage', description: 'A page of recordings, newest first' },
);

export const RenameBody = Type.Object({ name: Text('display', { minLength: 1, maxLength: 200 }) }, Strict);

export const UploadQuery = Type.Object(
  {
    org_id: Type.Optional(Id()),
    name: Type.Optional(Name),
    wait: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 30,
        description: 'Seconds to wait for processing (default: server setting).',
      }),
    ),
  },
  Strict,
);

/** The multipart fields of an upload besides `file` (checked as they arrive, src/http/multipart.ts). */
export const UploadFields = Type.Object({ org_id: Type.Optional(Id()), name: Type.Optional(Name) }, Strict);

/**
 * The multipart form as the document shows it: the file. Its optional fields are documented as the
 * query parameters they equal, where Swagger UI's "Try it out" leaves an empty one out (as form fields
 * it fills them with made-up values and sends them even when cleared).
 */
export const UploadForm = Type.Object(
  {
    file: binary('The audio or video file; its format is found from its content, never its name or type.'),
  },
  { description: 'The file. `org_id` and `name` may also be fields before it, instead of the query parameters.' },
);

export const AudioQuery = Type.Object(
  {
    download: Type.Optional(
      Type.Union([Type.Literal('1'), Type.Literal('0'), Type.Literal('true'), Type.Literal('false')]),
    ),
    access_token: Type.Optional(Text('plain', { maxLength: 4096 })),
  },
  Strict,
);

export const StreamQuery = Type.Object(
  {
    recording_id: Type.Optional(Id()),
    offset: Type.Optional(Type.Integer({ minimum: 0 })),
    final: Type.Optional(Type.Boolean()),
    name: Type.Optional(Name),
    org_id: Type.Optional(Id()),
  },
  Strict,
);

/** tus-style headers, the alternative to `recording_id` and `offset` (other headers pass unchecked). */
export const StreamHeaders = Type.Object({
  'recording-id': Type.Optional(Id('The recording to append to (alternative to the recording_id query).')),
  'upload-offset': Type.Optional(
    Type.Integer({ minimum: 0, description: 'Byte offset of this chunk (alternative to the offset query).' }),
  ),
});

export const StreamResponse = Type.Object(
  {
    recording_id: Type.String(),
    offset: Type.Integer({ description: 'Bytes stored so far: where the next chunk must start.' }),
    status: Type.String(),
    recording: ref(RecordingJson),
  },
  { $id: 'StreamState', description: 'Where a chunked stream stands after a call' },
);
