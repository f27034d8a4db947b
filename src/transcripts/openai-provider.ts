/**
 * The OpenAI-compatible transcription API: `POST {base}/audio/transcriptions`, multipart/form-data with
 * the audio `file`, `model`, `response_format=verbose_json` and `timestamp_granularities[]=segment`, as
 * OpenAI (whisper-1), Groq, speaches and whisper.cpp's server (started with `--inference-path
 * /v1/audio/transcriptions`) take it. The answer's `segments` carry start and end in seconds.
 *
 * How answers become errors: 400, 413, 415 and 422 are the provider refusing this audio (too large, a
 * format it does not take, a bad parameter): `transcription_refused`, not retried. 429 is `rate_limited`
 * with the provider's Retry-After, retried no sooner. Everything else (5xx, 401/403/404 — a key or URL
 * an operator can fix —, no answer within TRANSCRIBE_TIMEOUT_MS, unreachable, a body that is not the
 * verbose_json shape) is `transcription_provider_error`, retried with backoff.
 */
import { openAsBlob } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.ts';
import { cleanSegments, type TranscribeOptions, type Transcription, type TranscriptionProvider } from './provider.ts';

export interface OpenAiProviderOptions {
  baseUrl: string;
  apiKey: string | null;
  model: string;
  timeoutMs: number;
}

/** A transcript of six hours is a few MB of JSON; an answer far beyond that is not one. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
const REFUSALS = new Set([400, 413, 415, 422]);

export function createOpenAiProvider(options: OpenAiProviderOptions): TranscriptionProvider {
  const endpoint = `${options.baseUrl}/audio/transcriptions`;

  async function send(file: string, language: string | null, signal: AbortSignal): Promise<Response> {
    const form = new FormData();
    // A file-backed Blob: the audio is streamed from disk, not read into memory.
    form.append('file', await openAsBlob(file, { type: 'audio/ogg' }), path.basename(file));
    form.append('model', options.model);
    form.append('response_format', 'verbose_json');
    form.append('timestamp_granularities[]', 'segment');
    if (language) form.append('language', language);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    return fetch(endpoint, { method: 'POST', body: form, headers, signal, redirect: 'error' });
  }

  return {
    name: 'openai',
    model: options.model,

    async transcribe(file: string, { language, signal }: TranscribeOptions): Promise<Transcription> {
      const timeout = AbortSignal.timeout(options.timeoutMs);
      const both = AbortSignal.any([signal, timeout]);
      let body: string;
      let response: Response;
      try {
        response = await send(file, language, both);
        body = await readCapped(response);
      } catch (error) {
        signal.throwIfAborted(); // the job was cancelled: not the provider's failure
        if (timeout.aborted) {
          throw new AppError(
            'transcription_provider_error',
            `the transcription server did not answer within ${options.timeoutMs / 1000} s (TRANSCRIBE_TIMEOUT_MS)`,
          );
        }
        if (error instanceof AppError) throw error;
        throw new AppError('transcription_provider_error', `could not reach the transcription server at ${endpoint}`, {
          cause: error,
          details: { reason: causeText(error) },
        });
      }
      if (!response.ok) throw errorFor(response, body);
      return parseVerboseJson(body, language);
    },
  };
}

async function readCapped(response: Response): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > MAX_ANSWER_BYTES) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_ANSWER_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const tooLarge = () =>
  new AppError(
    'transcription_provider_error',
    `the transcription server's answer is larger than ${MAX_ANSWER_BYTES} bytes`,
  );

function causeText(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/** OpenAI's error body is `{"error": {"message", "type", "code"}}`; others send text or `{"detail"}`. */
function providerMessage(body: string): string {
  let message = body;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; detail?: unknown; message?: unknown };
    const candidate =
      typeof parsed.error === 'object' ? parsed.error?.message : (parsed.error ?? parsed.detail ?? parsed.message);
    if (typeof candidate === 'string') message = candidate;
  } catch {
    // not JSON: the text itself
  }
  message = message.replace(/\s+/g, ' ').trim();
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

function errorFor(response: Response, body: string): AppError {
  const status = response.status;
  const said = providerMessage(body);
  const because = said ? `: ${said}` : '';
  const details = { provider_status: status };
  if (REFUSALS.has(status)) {
    return new AppError('transcription_refused', `the transcription server refused the audio (${status})${because}`, {
      details,
    });
  }
  if (status === 429) {
    const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
    return new AppError('rate_limited', `the transcription server is rate limiting requests (429)${because}`, {
      details,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }
  const hint =
    status === 401 || status === 403
      ? ' (check TRANSCRIBE_API_KEY)'
      : status === 404
        ? ' (check TRANSCRIBE_BASE_URL and TRANSCRIBE_MODEL)'
        : '';
  return new AppError('transcription_provider_error', `the transcription server answered ${status}${hint}${because}`, {
    details,
  });
}

function malformed(why: string): AppError {
  return new AppError('transcription_provider_error', `the transcription server's answer is not verbose_json: ${why}`);
}

/** The verbose_json answer: `{task, language, duration, text, segments: [{id, start, end, text, ...}]}`. */
export function parseVerboseJson(body: string, requested: string | null): Transcription {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw malformed('it is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw malformed('it is not an object');
  const answer = parsed as { segments?: unknown; language?: unknown };
  if (!Array.isArray(answer.segments)) throw malformed('it has no "segments" array');
  const segments = answer.segments.map((segment: unknown, index) => {
    const { start, end, text } = (segment ?? {}) as { start?: unknown; end?: unknown; text?: unknown };
    if (typeof start !== 'number' || typeof end !== 'number' || !Number.isFinite(start) || !Number.isFinite(end)) {
      throw malformed(`segment ${index} has no numeric start and end`);
    }
    if (typeof text !== 'string') throw malformed(`segment ${index} has no text`);
    return { start, end, text };
  });
  const language = typeof answer.language === 'string' && answer.language ? answer.language : requested;
  return { segments: cleanSegments(segments), language };
}
