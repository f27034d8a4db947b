import { AppError } from '../errors.ts';

/** What a client is told to wait before retrying while the database is away (seconds). */
export const DATABASE_RETRY_AFTER_SEC = 5;

/** Socket errors: the database host refused, dropped or never answered the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that say "not now" rather than "wrong query" (PostgreSQL, Appendix A): 57014 a statement
 * cancelled by statement_timeout, 57P01–57P03 and 57P05 a server shutting down, restarting or
 * ending an idle session, 25P03 idle_in_transaction_session_timeout, 53300 too many connections.
 * Class 08 (connection exception) is matched by its prefix.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57014', '57P01', '57P02', '57P03', '57P05', '25P03', '53300']);

/**
 * Messages of node-postgres (pg, pg-pool) errors that carry no code: a connection that ended
 * ("Connection terminated unexpectedly", "… due to connection timeout"), a pool that found no
 * connection in time, pg's query_timeout, a client whose socket already failed, and the client's
 * own connect timeout.
 */
const PG_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /^Client has encountered a connection error/,
  /^timeout expired$/,
];

/**
 * True when a driver error says the database is unreachable, timed out or went away, rather than that
 * a query was wrong. Only the database adapter asks, about errors it just received from pg: the same
 * ECONNRESET from another client (object storage, a webhook) is not a database outage.
 */
export function isDatabaseOutage(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (typeof message === 'string' && PG_MESSAGES.some((pattern) => pattern.test(message))) return true;
  // Node reports a failed connection to a host with several addresses as an AggregateError.
  if (Array.isArray(errors) && errors.some((inner) => isDatabaseOutage(inner, depth + 1))) return true;
  return isDatabaseOutage(cause, depth + 1);
}

/** A database outage, as the database adapter reports it; the driver's error is the cause. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  constructor(cause: unknown) {
    // Loggers (pino's err serializer) append the cause's message: "database unavailable: read ECONNRESET".
    super('database unavailable', { cause });
  }

  /** What went wrong, in the driver's words. */
  get reason(): string {
    return this.cause instanceof Error ? this.cause.message : String(this.cause);
  }
}

/**
 * The one mapping of database outages to what a client sees: `database_unavailable` (HTTP 503 with
 * Retry-After, WebSocket 1013 "try again later"), or undefined for any other error. The HTTP error
 * handler uses it; WebSocket code should too, before falling back to `internal`.
 */
export function asDatabaseUnavailable(error: unknown): AppError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (current instanceof DatabaseUnavailableError) {
      return new AppError('database_unavailable', 'the database is unavailable; retry shortly', {
        retryAfter: DATABASE_RETRY_AFTER_SEC,
        cause: error,
      });
    }
  }
  return undefined;
}
