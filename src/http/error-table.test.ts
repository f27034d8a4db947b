import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { AppError, ERRORS } from '../errors.ts';
import { errorForClient } from './error-handler.ts';

const TABLE_STATUSES = new Set<number>(Object.values(ERRORS).map((entry) => entry.http));
const logged: string[] = [];
const log = { error: (_: unknown, message: string) => logged.push(message), warn() {} } as never;
const libraryError = (fields: Record<string, unknown>, message = 'library message') =>
  Object.assign(new Error(message), fields);

describe('the error table', () => {
  let dataDir: string;
  let app: Awaited<ReturnType<typeof buildApp>>;
  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'earshot-table-'));
    app = await buildApp(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', MEDIA_WORKERS: '1' }), { logger: false });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('has a code for every error status a route declares', () => {
    const document = app.swagger() as { paths: Record<string, Record<string, { responses?: object }>> };
    const declared: string[] = [];
    for (const [route, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const status of Object.keys(operation.responses ?? {})) {
          if (Number(status) >= 400) declared.push(`${method.toUpperCase()} ${route} ${status}`);
        }
      }
    }
    assert.ok(declared.length > 20, 'the document lists the routes’ errors');
    for (const entry of declared) assert.ok(TABLE_STATUSES.has(Number(entry.split(' ')[2])), entry);
  });

  it('maps Fastify’s, its plugins’ and Node’s errors by code', () => {
    const cases: [Record<string, unknown>, string, number][] = [
      [{ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }, 'bad_request', 400],
      [{ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }, 'payload_too_large', 413],
      [{ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }, 'unsupported_media', 415],
      [{ code: 'FST_ERR_MAX_PARAM_LENGTH', statusCode: 414 }, 'uri_too_long', 414],
      [{ code: 'FST_ERR_BAD_URL', statusCode: 400 }, 'bad_request', 400],
      [{ code: 'FST_INVALID_MULTIPART_CONTENT_TYPE', statusCode: 406 }, 'unsupported_media', 415],
      [{ code: 'FST_MP_PREMATURE_CLOSE', statusCode: 400 }, 'bad_request', 400],
      [{ code: 'FST_REQ_FILE_TOO_LARGE', statusCode: 413 }, 'payload_too_large', 413],
      [{ code: 'ERR_HTTP_REQUEST_TIMEOUT' }, 'request_timeout', 408],
      [{ code: 'HPE_HEADER_OVERFLOW' }, 'headers_too_large', 431],
    ];
    for (const [fields, code, status] of cases) {
      const mapped = errorForClient(libraryError(fields), log);
      assert.deepEqual([mapped.code, mapped.httpStatus], [code, status], JSON.stringify(fields));
    }
  });

  it('maps errors that carry only a status to the code of that status, never another status', () => {
    for (const status of [400, 403, 404, 408, 413, 414, 415, 416, 431]) {
      assert.equal(errorForClient(libraryError({ statusCode: status }), log).httpStatus, status);
    }
    logged.length = 0;
    const unknown = errorForClient(libraryError({ statusCode: 418 }), log);
    assert.deepEqual([unknown.code, unknown.httpStatus], ['bad_request', 400]);
    assert.match(logged.join(), /unmapped client error \(HTTP 418\)/);
  });

  it('turns a full disk anywhere in the cause chain into insufficient_storage, and hides the rest', () => {
    const full = libraryError({ code: 'ENOSPC', errno: -28, syscall: 'write' }, 'ENOSPC: no space left on device');
    const quota = libraryError({ code: 'EDQUOT' }, 'EDQUOT: disk quota exceeded');
    for (const error of [
      full,
      quota,
      new Error('append failed', { cause: full }),
      new AppError('internal', 'x', { cause: quota }),
    ]) {
      const mapped = errorForClient(error, log);
      assert.deepEqual([mapped.code, mapped.httpStatus], ['insufficient_storage', 507]);
      assert.doesNotMatch(mapped.message, /ENOSPC|EDQUOT/);
    }
    const hidden = errorForClient(new TypeError('cannot read properties of undefined'), log);
    assert.deepEqual([hidden.code, hidden.httpStatus, hidden.message], ['internal', 500, 'internal server error']);
    // A client error stays what it is, whatever caused it.
    assert.equal(errorForClient(new AppError('not_found', 'gone', { cause: full }), log).code, 'not_found');
  });
});
