/**
 * Every expected failure Earshot reports carries a stable code from this table. The table is the one
 * place that decides what a client sees: the HTTP status for requests and the WebSocket close code for
 * live sessions (RFC 6455 §7.4: 1008 policy violation, 1009 too big, 1011 server error; 4000–4999 are
 * Earshot's own, listed in docs/live-protocol.md). The close codes come from the client package, so the
 * server and its clients share one list.
 */
import { CloseCode } from '../packages/live-client/src/protocol.ts';

export const ERRORS = {
  bad_request: { http: 400, ws: CloseCode.policyViolation },
  // HTTP only: request framing and transport (src/http/error-handler.ts, src/http/body-timeout.ts).
  request_timeout: { http: 408, ws: CloseCode.policyViolation },
  uri_too_long: { http: 414, ws: CloseCode.policyViolation },
  range_not_satisfiable: { http: 416, ws: CloseCode.policyViolation },
  headers_too_large: { http: 431, ws: CloseCode.policyViolation },
  validation_failed: { http: 422, ws: CloseCode.policyViolation },
  weak_password: { http: 422, ws: CloseCode.policyViolation },
  unauthenticated: { http: 401, ws: CloseCode.policyViolation },
  invalid_credentials: { http: 401, ws: CloseCode.policyViolation },
  invalid_token: { http: 401, ws: CloseCode.policyViolation },
  forbidden: { http: 403, ws: CloseCode.policyViolation },
  // RFC 6750 §3.1: the API key is valid but lacks the scope the action needs.
  insufficient_scope: { http: 403, ws: CloseCode.policyViolation },
  not_found: { http: 404, ws: CloseCode.notFound },
  conflict: { http: 409, ws: CloseCode.conflict },
  email_taken: { http: 409, ws: CloseCode.policyViolation },
  offset_mismatch: { http: 409, ws: CloseCode.conflict },
  // HTTP only: resumable uploads (tus 1.0 §3.2, §5.4.4): a request without Tus-Resumable: 1.0.0, and
  // an upload that expired before it was finished.
  tus_version_unsupported: { http: 412, ws: CloseCode.policyViolation },
  upload_expired: { http: 410, ws: CloseCode.policyViolation },
  payload_too_large: { http: 413, ws: CloseCode.messageTooBig },
  unsupported_media: { http: 415, ws: CloseCode.unsupportedMedia },
  invalid_media: { http: 422, ws: CloseCode.invalidMedia },
  media_too_long: { http: 422, ws: CloseCode.limitReached },
  rate_limited: { http: 429, ws: CloseCode.tooManySessions },
  too_many_sessions: { http: 429, ws: CloseCode.tooManySessions },
  busy: { http: 503, ws: CloseCode.tryAgainLater },
  /** Not ready, or a dependency (object storage) is unreachable: retry later. */
  unavailable: { http: 503, ws: CloseCode.tryAgainLater },
  /** The disk (or quota) is full: ENOSPC or EDQUOT anywhere in an error's cause chain. */
  insufficient_storage: { http: 507, ws: CloseCode.internalError },
  // The database is unreachable, timed out or went away (src/db/unavailable.ts); 1013 = try again later.
  database_unavailable: { http: 503, ws: CloseCode.tryAgainLater },
  media_timeout: { http: 422, ws: CloseCode.timeout },
  // Transcripts (src/transcripts/): no provider configured or the local engine cannot run; the provider
  // refused the audio (a verdict: not retried); the provider failed, timed out or answered nonsense.
  transcription_unavailable: { http: 503, ws: CloseCode.internalError },
  transcription_refused: { http: 422, ws: CloseCode.internalError },
  transcription_provider_error: { http: 502, ws: CloseCode.internalError },
  // Live sessions (src/live/protocol.ts documents when each is used).
  handshake_timeout: { http: 408, ws: CloseCode.policyViolation },
  idle_timeout: { http: 408, ws: CloseCode.timeout },
  session_taken_over: { http: 409, ws: CloseCode.conflict },
  recording_finished: { http: 409, ws: CloseCode.finished },
  recording_too_large: { http: 413, ws: CloseCode.limitReached },
  internal: { http: 500, ws: CloseCode.internalError },
} as const satisfies Record<string, { http: number; ws: number }>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** Seconds a client should wait before retrying (Retry-After), for rate limits and overload. */
  readonly retryAfter: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }

  get httpStatus(): number {
    return ERRORS[this.code].http;
  }

  get wsCloseCode(): number {
    return ERRORS[this.code].ws;
  }
}

export const isAppError = (value: unknown): value is AppError => value instanceof AppError;

/** errno codes that mean "no space left": the device is full (ENOSPC) or the user's quota is (EDQUOT). */
const STORAGE_FULL = new Set(['ENOSPC', 'EDQUOT']);

/** True when `error`, or an error in its `cause` chain, is a full disk or quota. */
export function isStorageFull(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth += 1) {
    if (STORAGE_FULL.has((current as NodeJS.ErrnoException).code ?? '')) return true;
  }
  return false;
}

/**
 * Any thrown value as an AppError, for HTTP and the live protocol alike: an AppError as it is (unless
 * it is `internal` caused by a full disk), a full disk wherever it was raised as `insufficient_storage`,
 * anything else as `internal` (its details stay in the logs).
 */
export function toAppError(error: unknown): AppError {
  if (isAppError(error) && error.code !== 'internal') return error;
  if (isStorageFull(error)) {
    return new AppError('insufficient_storage', 'the server has no storage space left; try again later', {
      cause: error,
    });
  }
  if (isAppError(error)) return error;
  return new AppError('internal', 'internal server error', { cause: error });
}
