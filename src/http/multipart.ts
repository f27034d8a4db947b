import type { Multipart } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import type { TObject } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError } from '../errors.ts';
import { withoutForbidden } from '../text-policy.ts';
import { validationError } from './validation.ts';

// RFC 2046 §5.1.1: 1 to 70 characters from `bchars`, not ending with a space; quoted or not.
const BOUNDARY_PARAM = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/**
 * `request.parts()` with the checks @fastify/multipart leaves to the route, so a malformed form is a
 * 400 or 422 before anything is stored:
 * - a multipart Content-Type must carry a usable boundary (the parser throws a plain Error otherwise);
 * - every field must be one `fields` declares and match its schema, as a property of a JSON body
 *   would (the same validator and messages, `body.<field>`);
 * - a file's name, which may become the recording's name, loses the characters names may not contain
 *   (src/text-policy.ts): the client chose the file, not that text.
 * A request that is not multipart at all is refused by `request.parts()` itself (415).
 */
export function checkedParts(request: FastifyRequest, fields: TObject): AsyncIterable<Multipart> {
  if (request.isMultipart()) {
    const match = BOUNDARY_PARAM.exec(request.headers['content-type'] ?? '');
    const boundary = match?.[1] ?? match?.[2];
    if (!boundary) throw new AppError('bad_request', 'the multipart Content-Type has no boundary parameter');
    if (!BOUNDARY.test(boundary)) {
      throw new AppError('bad_request', "the multipart boundary must be 1 to 70 letters, digits or '()+_,-./:=? ");
    }
  }
  const checker = Compile(fields);
  const parts = request.parts();
  return (async function* () {
    for await (const part of parts) {
      if (part.type === 'file') {
        yield { ...part, filename: withoutForbidden(part.filename, 'display') };
        continue;
      }
      const value = { [part.fieldname]: part.value };
      if (!checker.Check(value)) throw validationError(checker.Errors(value), 'body');
      yield part;
    }
  })();
}
