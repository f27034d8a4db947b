import type { FastifyError, FastifyInstance } from 'fastify';
import { asDatabaseUnavailable } from '../db/unavailable.ts';
import { AppError, ERRORS, isAppError } from '../errors.ts';

/**
 * The one place request failures become responses: `{error, message, details?}` with the status from
 * the ERRORS table. Fastify's own errors (bad JSON, schema validation, body limits) are mapped to the
 * same shape; a database outage is a 503 (never a 500: the request may succeed when retried); anything
 * unexpected is logged and hidden behind a generic 500.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const appError = toAppError(error);
    if (appError.code === 'internal') {
      request.log.error({ err: error }, 'unhandled error');
    } else if (appError.code === 'database_unavailable') {
      request.log.warn({ err: error }, 'database unavailable');
    }
    if (appError.retryAfter !== undefined) reply.header('retry-after', String(appError.retryAfter));
    const body: Record<string, unknown> = { error: appError.code, message: appError.message };
    if (appError.details) body.details = appError.details;
    return reply.status(appError.httpStatus).send(body);
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ error: 'not_found', message: `no route for ${request.method} ${request.url.split('?')[0]}` }),
  );
}

function toAppError(error: FastifyError | AppError): AppError {
  if (isAppError(error)) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    return new AppError(
      'validation_failed',
      `request ${fastifyError.validationContext ?? ''} ${fastifyError.message}`.trim(),
      {
        details: { issues: fastifyError.validation.map((v) => ({ path: v.instancePath, message: v.message })) },
      },
    );
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('bad_request', fastifyError.message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
      return new AppError('payload_too_large', fastifyError.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media', fastifyError.message);
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new AppError('unsupported_media', 'expected a multipart/form-data body');
  }
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) {
    const code =
      (Object.keys(ERRORS) as (keyof typeof ERRORS)[]).find((c) => ERRORS[c].http === status) ?? 'bad_request';
    return new AppError(code, fastifyError.message);
  }
  return asDatabaseUnavailable(error) ?? new AppError('internal', 'internal server error', { cause: error });
}
