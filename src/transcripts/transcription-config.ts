import { statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, int } from '../config.ts';

/**
 * Which speech-to-text provider transcribes recordings, if any, from the environment (called by
 * loadConfig; nothing else reads these variables):
 *
 * - `openai`: an OpenAI-compatible `POST <TRANSCRIBE_BASE_URL>/audio/transcriptions` (OpenAI, Groq,
 *   speaches, whisper.cpp's server), with TRANSCRIBE_API_KEY and TRANSCRIBE_MODEL.
 * - `whisper`: whisper.cpp inside FFmpeg's `whisper` filter, in the media workers, on the ggml model
 *   file WHISPER_MODEL names.
 * - `off`: neither is configured; requests for a transcript are answered 503 naming the variables.
 *
 * TRANSCRIBE_PROVIDER chooses explicitly; without it, WHISPER_MODEL or TRANSCRIBE_BASE_URL being set
 * chooses (both set is ambiguous and refused).
 */
export type TranscriptionConfig =
  | { provider: 'off' }
  | {
      provider: 'openai';
      /** Up to and including the API version, e.g. `https://api.openai.com/v1` (the OpenAI SDKs' base URL). */
      baseUrl: string;
      apiKey: string | null;
      model: string;
      /** The whole request: sending the audio, the provider's work and its answer. */
      timeoutMs: number;
      language: string | null;
    }
  | { provider: 'whisper'; modelPath: string; language: string | null };

type Env = Record<string, string | undefined>;

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export function parseTranscriptionConfig(env: Env): TranscriptionConfig {
  const explicit = env.TRANSCRIBE_PROVIDER || undefined;
  if (explicit !== undefined && !['openai', 'whisper', 'off'].includes(explicit)) {
    throw new ConfigError(`TRANSCRIBE_PROVIDER must be openai, whisper or off; got "${explicit}"`);
  }
  if (!explicit && env.WHISPER_MODEL && env.TRANSCRIBE_BASE_URL) {
    throw new ConfigError(
      'both WHISPER_MODEL and TRANSCRIBE_BASE_URL are set: set TRANSCRIBE_PROVIDER=whisper or openai to choose',
    );
  }
  const provider = explicit ?? (env.WHISPER_MODEL ? 'whisper' : env.TRANSCRIBE_BASE_URL ? 'openai' : 'off');
  const language = languageOf(env);
  if (provider === 'whisper') return { provider, modelPath: whisperModel(env), language };
  if (provider === 'openai') {
    return {
      provider,
      baseUrl: baseUrlOf(env),
      apiKey: env.TRANSCRIBE_API_KEY || null,
      model: env.TRANSCRIBE_MODEL || 'whisper-1',
      timeoutMs: int(env, 'TRANSCRIBE_TIMEOUT_MS', 10 * 60_000, 100, 6 * 3_600_000),
      language,
    };
  }
  return { provider: 'off' };
}

function languageOf(env: Env): string | null {
  const language = env.TRANSCRIBE_LANGUAGE || null;
  if (language !== null && !/^[a-z]{2,3}$/.test(language)) {
    throw new ConfigError(`TRANSCRIBE_LANGUAGE must be an ISO 639-1 code such as "en" or "de"; got "${language}"`);
  }
  return language;
}

function baseUrlOf(env: Env): string {
  const raw = env.TRANSCRIBE_BASE_URL || OPENAI_DEFAULT_BASE_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      `TRANSCRIBE_BASE_URL must be an http(s) URL such as ${OPENAI_DEFAULT_BASE_URL}; got "${raw}"`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`TRANSCRIBE_BASE_URL must be an http(s) URL; got "${raw}"`);
  }
  if (url.search || url.hash) throw new ConfigError('TRANSCRIBE_BASE_URL must not have a query or a fragment');
  return url.href.replace(/\/+$/, '');
}

/**
 * Checked at start, so a mistyped path stops the server with a clear message instead of failing every
 * transcription later; the worker checks again on use (the file may go away while the server runs).
 */
function whisperModel(env: Env): string {
  if (!env.WHISPER_MODEL) {
    throw new ConfigError('TRANSCRIBE_PROVIDER=whisper needs WHISPER_MODEL: the path of a whisper.cpp ggml model file');
  }
  const modelPath = path.resolve(env.WHISPER_MODEL);
  const stat = statSync(modelPath, { throwIfNoEntry: false });
  if (!stat?.isFile()) {
    throw new ConfigError(
      `WHISPER_MODEL names ${modelPath}, which is not a file: give the path of a whisper.cpp ggml model ` +
        '(such as ggml-base.en.bin), or unset it to turn local transcription off',
    );
  }
  return modelPath;
}
