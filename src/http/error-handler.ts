import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { asDatabaseUnavailable } from '../db/unavailable.ts';
import { AppError, ERRORS, type ErrorCode, isAppError, toAppError } from '../errors.ts';
import { validationError } from './validation.ts';

/**
 * The one place request failures become responses: `{error, message, details?}` with the status from
 * the ERRORS table, for our errors, Fastify's and its plugins', and Node's HTTP parser's. Anything
 * unexpected is logged and hidden behind a generic 500.
 */

/** Errors of Fastify, its plugins and Node's HTTP server, by their `code`. */
const KNOWN_CODES: Readonly<Record<string, { code: ErrorCode; message?: string }>> = {
  // Fastify: content-type parsing, routing
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'bad_request' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'bad_request' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad_request' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media', message: 'this route does not take this Content-Type' },
  FST_ERR_BAD_URL: { code: 'bad_request', message: 'the URL is not valid percent-encoded UTF-8' },
  FST_ERR_INVALID_URL: { code: 'bad_request', message: 'the URL is not valid' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'uri_too_long', message: 'a path segment of the URL is too long' },
  // @fastify/multipart
  FST_INVALID_MULTIPART_CONTENT_TYPE: { code: 'unsupported_media', message: 'expected a multipart/form-data body' },
  FST_REQ_FILE_TOO_LARGE: { code: 'payload_too_large' },
  FST_PARTS_LIMIT: { code: 'payload_too_large' },
  FST_FILES_LIMIT: { code: 'payload_too_large' },
  FST_FIELDS_LIMIT: { code: 'payload_too_large' },
  FST_PROTO_VIOLATION: { code: 'bad_request' },
  FST_INVALID_JSON_FIELD_ERROR: { code: 'bad_request' },
  FST_MP_PREMATURE_CLOSE: { code: 'bad_request', message: 'the request ended before the multipart body did' },
  // Node's HTTP server (clientError): headers not received in time, too large; the client went away.
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request_timeout', message: 'the request headers did not arrive in time' },
  HPE_HEADER_OVERFLOW: { code: 'headers_too_large', message: 'the request headers are too large' },
  ECONNRESET: { code: 'bad_request', message: 'the client closed the connection' },
};

/**
 * Errors from libraries that carry only an HTTP status (@fastify/static's `send`, http-errors): each
 * status a client may be given this way, by name. Others are logged as unmapped and answered 400.
 */
const KNOWN_STATUSES: Readonly<Record<number, ErrorCode>> = {
  400: 'bad_request',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media',
  416: 'range_not_satisfiable',
  431: 'headers_too_large',
};

/**
 * @fastify/busboy (under @fastify/multipart) reports a malformed form with a plain Error known only by
 * its message: a body that ends before its closing boundary (truncated, or written with another
 * boundary than the Content-Type's), or a Content-Type whose boundary it cannot find (src/http/
 * multipart.ts refuses most of those first, with a clearer message). test/multipart.test.ts fails
 * if an upgrade changes them.
 */
const MULTIPART_MALFORMED = /unexpected end of multipart data|^Multipart: Boundary not found$/i;

type LogLike = Pick<FastifyRequest['log'], 'error' | 'warn'>;

/** Maps any thrown value to the AppError the client sees, logging the server's own failures. */
export function errorForClient(error: unknown, log: LogLike): AppError {
  // A database outage is a 503, never a 500: the same request may well succeed when retried.
  const unavailable = asDatabaseUnavailable(error);
  if (unavailable) {
    log.warn({ err: error }, 'database unavailable');
    return unavailable;
  }
  const appError = (isAppError(error) ? undefined : fromLibrary(error, log)) ?? toAppError(error);
  if (appError.code === 'internal' || appError.code === 'insufficient_storage') {
    log.error({ err: error }, appError.code === 'internal' ? 'unhandled error' : 'out of storage space');
  }
  return appError;
}

/** Fastify's, its plugins' and Node's errors; undefined for anything else. */
function fromLibrary(error: unknown, log: LogLike): AppError | undefined {
  if (!(error instanceof Error)) return undefined;
  const libraryError = error as Partial<FastifyError> & Error;
  if (libraryError.validation) return validationError(libraryError.validation, libraryError.validationContext);
  const known = libraryError.code ? KNOWN_CODES[libraryError.code] : undefined;
  if (known) return new AppError(known.code, known.message ?? libraryError.message);
  if (error.constructor === Error && MULTIPART_MALFORMED.test(error.message)) {
    return new AppError('bad_request', 'the multipart body is malformed: truncated, or its boundary is wrong');
  }
  const status = libraryError.statusCode;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  const code = KNOWN_STATUSES[status];
  if (code) return new AppError(code, libraryError.message);
  log.error({ err: error }, `unmapped client error (HTTP ${status}): add it to src/http/error-handler.ts`);
  return new AppError('bad_request', 'bad request');
}

function errorBody(error: AppError): { error: ErrorCode; message: string; details?: Record<string, unknown> } {
  return { error: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
}

function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const appError = errorForClient(error, request.log);
  if (appError.retryAfter !== undefined) reply.header('retry-after', String(appError.retryAfter));
  // Answered before the whole body arrived (refused early, or it stalled): the rest would be read as
  // the next request or never come, so this connection carries no other request.
  if (!request.raw.complete) reply.header('connection', 'close');
  return reply.status(appError.httpStatus).send(errorBody(appError));
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));

  app.setNotFoundHandler((request) => {
    throw new AppError('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`);
  });

  // Plugins may answer an error with no body (@fastify/websocket: a plain GET of a WebSocket route is
  // a bare 404); give it the table's shape, and the table's status, like every other error.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode < 400 || (payload !== undefined && payload !== null && payload !== '')) return payload;
    const code = KNOWN_STATUSES[reply.statusCode] ?? (reply.statusCode >= 500 ? 'internal' : 'bad_request');
    reply.status(ERRORS[code].http).type('application/json; charset=utf-8');
    return JSON.stringify({ error: code, message: STATUS_CODES[ERRORS[code].http] ?? 'error' });
  });
}

/**
 * Fastify's `frameworkErrors` option: errors raised before a route is chosen (a URL that does not
 * decode, a path segment over the router's limit) go through the same mapping instead of Fastify's
 * own JSON shape.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void sendError(error, request, reply);
}

/**
 * Fastify's `clientErrorHandler` option: Node's HTTP parser refused the request (malformed, headers too
 * large or too slow) before Fastify saw it, so the answer is written to the socket directly, in the
 * table's shape, and the connection closed.
 */
export function clientErrorHandler(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const mapped = KNOWN_CODES[error.code ?? ''];
  const appError = mapped
    ? new AppError(mapped.code, mapped.message ?? error.message)
    : new AppError('bad_request', 'malformed HTTP request');
  this.log.debug({ err: error }, 'client error');
  if (socket.writable) {
    const body = JSON.stringify(errorBody(appError));
    const status = appError.httpStatus;
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
