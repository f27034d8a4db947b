import { AppError } from '../errors.ts';

/**
 * The `next_cursor` of a list, newest first: the sort time and id of the last item, opaque to clients.
 * Keyset paging stays exact while items are added, unlike an offset.
 */
export interface PagePosition {
  at: string;
  id: string;
}

export function encodePageCursor(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');
}

/** A `before` the client sent back; anything this server did not hand out is a 422. */
export function decodePageCursor(cursor: string): PagePosition {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string') {
      return { at: value[0], id: value[1] };
    }
  } catch {}
  throw new AppError('validation_failed', '"before" is not a cursor this server returned (use next_cursor)');
}
