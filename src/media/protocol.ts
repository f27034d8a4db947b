/** IPC messages between the engine (API process) and media worker processes. */

import type { ErrorCode } from '../errors.ts';
import { AppError, ERRORS } from '../errors.ts';
import type { LivePace } from './audio-budget.ts';
import type { PcmFormat } from './input-format.ts';
import type { OpusEncoderSettings } from './opus-writer.ts';
import type { AudioInfo } from './types.ts';
import type { WhisperJob, WhisperSegment } from './whisper.ts';

export interface JobLimits {
  maxDurationSec: number;
  maxProbeBytes: number;
}

export type Request =
  | {
      type: 'normalize';
      id: number;
      input: string;
      output: string;
      limits: JobLimits;
      encoder: OpusEncoderSettings;
      /** Set: the input is raw PCM of this format. */
      pcm?: PcmFormat;
    }
  | { type: 'probe'; id: number; path: string; limits: JobLimits }
  | { type: 'transcribe'; id: number; job: WhisperJob }
  | { type: 'cancel'; id: number; target: number }
  | {
      type: 'live-open';
      id: number;
      sid: number;
      output: string;
      /** The raw log the session reads its input from (see live-session.ts). */
      input: string;
      limits: JobLimits;
      encoder: OpusEncoderSettings;
      /** Set: the session's audio may not run ahead of the time since it started. */
      pace?: LivePace;
      /** Set: the input is raw PCM of this format. */
      pcm?: PcmFormat;
    }
  | { type: 'live-advance'; id: number; sid: number; bytes: number }
  | { type: 'live-finish'; id: number; sid: number }
  | { type: 'live-abort'; id: number; sid: number };

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export type Reply =
  | { type: 'ready' }
  | { type: 'progress'; id: number; fraction: number }
  | { type: 'done'; id: number; result?: AudioInfo | WhisperSegment[] }
  | { type: 'error'; id: number; error: WireError };

/** Anything thrown in a worker, as something that survives structured clone. */
export function toWire(err: unknown): WireError {
  if (err instanceof AppError) return { code: err.code, message: err.message, details: err.details };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message: `media worker error: ${message}` };
}

export function fromWire(e: WireError): AppError {
  const code: ErrorCode = e.code in ERRORS ? e.code : 'internal';
  return new AppError(code, e.message, e.details ? { details: e.details } : {});
}
