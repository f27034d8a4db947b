import { ERRORS as TUS } from '@tus/utils';
import { AppError } from '../errors.ts';

type TusError = { status_code: number; body: string };

/**
 * @tus/server's refusals as the errors table's codes, with the statuses tus 1.0 defines: 404 for an
 * unknown upload, 410 for an expired one, 409 for an offset conflict, 412 without Tus-Resumable, 413
 * past Tus-Max-Size. Where the library answers otherwise it is corrected: 403 for a missing
 * Upload-Offset becomes 400, for a missing Content-Type 415 (§3.2 PATCH), and 501 for an extension this
 * server does not offer becomes 400 (a client retries 5xx, and retrying will not help).
 */
export function fromTus(error: TusError, maxBytes: number): AppError {
  switch (error) {
    case TUS.FILE_NOT_FOUND:
      return new AppError('not_found', 'upload not found');
    case TUS.FILE_NO_LONGER_EXISTS:
      return new AppError('upload_expired', 'this upload expired before it was finished: start a new one');
    case TUS.INVALID_OFFSET:
      return new AppError('offset_mismatch', 'Upload-Offset is not the offset of the upload: ask for it (HEAD)');
    case TUS.ERR_MAX_SIZE_EXCEEDED:
      return new AppError('payload_too_large', `an upload may be at most ${maxBytes} bytes (Tus-Max-Size)`, {
        details: { max_bytes: maxBytes },
      });
    case TUS.ERR_SIZE_EXCEEDED:
      return new AppError('payload_too_large', 'the body goes past the Upload-Length declared for this upload');
    case TUS.INVALID_LENGTH:
      return new AppError('bad_request', 'send Upload-Length: the size of the file in bytes');
    case TUS.UNSUPPORTED_CREATION_DEFER_LENGTH_EXTENSION:
      return new AppError(
        'bad_request',
        'Upload-Defer-Length is not supported: declare Upload-Length when creating the upload',
      );
    case TUS.UNSUPPORTED_CONCATENATION_EXTENSION:
      return new AppError('bad_request', 'Upload-Concat (parallel uploads) is not supported');
    case TUS.INVALID_METADATA:
      return new AppError(
        'bad_request',
        'Upload-Metadata must be comma-separated "key base64value" pairs with unique keys',
      );
    case TUS.MISSING_OFFSET:
      return new AppError('bad_request', 'send Upload-Offset: the offset this PATCH writes at');
    case TUS.INVALID_CONTENT_TYPE:
      return new AppError('unsupported_media', 'send the bytes as Content-Type: application/offset+octet-stream');
    case TUS.INVALID_TERMINATION:
      return new AppError('conflict', 'a finished upload is a recording now: delete the recording instead');
    case TUS.ABORTED:
      return new AppError('conflict', 'this request was ended: another request took the upload over');
    case TUS.ERR_LOCK_TIMEOUT:
      return new AppError('busy', 'another request is still writing this upload; try again', { retryAfter: 1 });
    default:
      // MaxFileExceededError (an instance, not the table's object): the body passed the limit.
      if (error.status_code === 413) return fromTus(TUS.ERR_SIZE_EXCEEDED, maxBytes);
      return new AppError('internal', 'internal server error', { cause: error });
  }
}

/** One of @tus/server's own refusals (its table's objects, or an error carrying a status and a body). */
export const isTusError = (error: unknown): error is TusError =>
  typeof error === 'object' &&
  error !== null &&
  typeof (error as TusError).status_code === 'number' &&
  typeof (error as TusError).body === 'string';

/**
 * An error @tus/server answers by itself before any handler runs (no Tus-Resumable, an invalid tus
 * header), from its status and plain-text message.
 */
export function tusEarlyError(status: number, text: string): AppError {
  if (status === 412) {
    return new AppError('tus_version_unsupported', 'send Tus-Resumable: 1.0.0 (the tus protocol version)');
  }
  return new AppError('bad_request', text.trim() || 'bad request');
}
