/**
 * An OpenAI-compatible transcription server for tests: real HTTP on a loopback port, the multipart body
 * parsed for real, and answers in the shape OpenAI gives (verbose_json with segments; errors as
 * `{"error": {"message", "type", "param", "code"}}`). Each recording's requests can be scripted (an
 * error, a delay, a malformed body); unscripted requests get a transcript.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  recordingId: string;
  path: string;
  authorization: string | undefined;
  fields: Record<string, string>;
  file: { name: string; type: string; bytes: Buffer };
  at: number;
  /** The client gave up before an answer was sent (a timeout, or a cancelled job). */
  aborted: boolean;
}

export type Behaviour =
  | { kind: 'answer'; segments?: Segment[]; language?: string }
  | { kind: 'error'; status: number; message: string; headers?: Record<string, string> }
  | { kind: 'raw'; status: number; body: string; contentType: string }
  /** Waits this long before answering with a transcript (or until the client goes away). */
  | { kind: 'slow'; ms: number };

export interface Segment {
  start: number;
  end: number;
  text: string;
}

export const DEFAULT_SEGMENTS: Segment[] = [
  { start: 0, end: 2.4, text: ' Hello & welcome to the <budget> meeting.' },
  { start: 2.4, end: 5.0065, text: ' Réunion budgétaire, deuxième partie.' },
];

export interface FakeTranscriber {
  /** The base URL to give as TRANSCRIBE_BASE_URL (ends in /v1). */
  baseUrl: string;
  seen: SeenRequest[];
  /** The next answers for this recording, in order; after them it gets a transcript. */
  script(recordingId: string, ...behaviours: Behaviour[]): void;
  requestsFor(recordingId: string): SeenRequest[];
  close(): Promise<void>;
}

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The verbose_json answer as OpenAI's whisper-1 gives it. */
function verboseJson(segments: Segment[], language: string): string {
  return JSON.stringify({
    task: 'transcribe',
    language,
    duration: segments.at(-1)?.end ?? 0,
    text: segments.map((s) => s.text).join(''),
    segments: segments.map((s, id) => ({
      id,
      seek: 0,
      start: s.start,
      end: s.end,
      text: s.text,
      tokens: [50364, 2425, 50414],
      temperature: 0,
      avg_logprob: -0.25,
      compression_ratio: 1.2,
      no_speech_prob: 0.01,
    })),
    usage: { type: 'duration', seconds: Math.ceil(segments.at(-1)?.end ?? 0) },
  });
}

export async function startFakeTranscriber(): Promise<FakeTranscriber> {
  const scripts = new Map<string, Behaviour[]>();
  const seen: SeenRequest[] = [];
  const server: Server = createServer(async (request, response) => {
    const raw = await body(request);
    if (request.method !== 'POST' || request.url !== '/v1/audio/transcriptions') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"no such route"}}');
      return;
    }
    // The multipart body, parsed by the platform's own parser (as a real server's framework would).
    const form = await new Response(new Uint8Array(raw), {
      headers: { 'content-type': request.headers['content-type'] ?? '' },
    })
      .formData()
      .catch(() => null);
    const file = form?.get('file');
    if (!form || !(file instanceof File)) {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ error: { message: 'Could not parse multipart form', type: 'invalid_request_error' } }),
      );
      return;
    }
    const fields: Record<string, string> = {};
    for (const [key, value] of form) if (typeof value === 'string') fields[key] = value;
    const recordingId = file.name.replace(/\.ogg$/, '');
    const entry: SeenRequest = {
      recordingId,
      path: request.url,
      authorization: request.headers.authorization,
      fields,
      file: { name: file.name, type: file.type, bytes: Buffer.from(await file.arrayBuffer()) },
      at: Date.now(),
      aborted: false,
    };
    seen.push(entry);
    response.on('close', () => {
      if (!response.writableFinished) entry.aborted = true;
    });
    const behaviour = scripts.get(recordingId)?.shift() ?? { kind: 'answer' };
    const json = (status: number, text: string, headers: Record<string, string> = {}) =>
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(text);
    switch (behaviour.kind) {
      case 'answer':
        json(200, verboseJson(behaviour.segments ?? DEFAULT_SEGMENTS, behaviour.language ?? 'english'));
        return;
      case 'error':
        json(
          behaviour.status,
          JSON.stringify({
            error: { message: behaviour.message, type: 'invalid_request_error', param: null, code: null },
          }),
          behaviour.headers,
        );
        return;
      case 'raw':
        response.writeHead(behaviour.status, { 'content-type': behaviour.contentType }).end(behaviour.body);
        return;
      case 'slow': {
        const timer = setTimeout(() => json(200, verboseJson(DEFAULT_SEGMENTS, 'english')), behaviour.ms);
        response.on('close', () => clearTimeout(timer));
        return;
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    seen,
    script(recordingId, ...behaviours) {
      scripts.set(recordingId, behaviours);
    },
    requestsFor: (recordingId) => seen.filter((request) => request.recordingId === recordingId),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
