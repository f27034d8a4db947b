import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { asDatabaseUnavailable, DatabaseUnavailableError, isDatabaseOutage } from './unavailable.ts';

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });
/** An error as the server sends it (pg-protocol's DatabaseError carries the SQLSTATE in `code`). */
const sqlState = (code: string) => Object.assign(new pg.DatabaseError('from the server', 0, 'error'), { code });

describe('database outage classification', () => {
  it('recognises socket errors, pg and pg-pool messages, and the SQLSTATEs of an unavailable server', () => {
    const outages = [
      withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      withCode('ECONNRESET', 'read ECONNRESET'),
      withCode('ETIMEDOUT'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated due to connection timeout', { cause: new Error('Connection terminated') }),
      new Error('timeout exceeded when trying to connect'),
      new Error('Query read timeout'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('timeout expired'),
      sqlState('57014'), // statement_timeout
      sqlState('57P01'), // admin_shutdown
      sqlState('57P02'),
      sqlState('57P03'), // the database system is starting up
      sqlState('25P03'), // idle_in_transaction_session_timeout
      sqlState('53300'), // too many connections
      sqlState('08006'), // connection failure
      sqlState('08P01'), // protocol violation
      new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect failed'),
    ];
    for (const error of outages) assert.equal(isDatabaseOutage(error), true, error.message);
  });

  it('leaves query errors and everything else alone', () => {
    const others = [
      sqlState('23505'), // unique violation: the caller's business
      sqlState('42P01'), // undefined table: a bug
      sqlState('28P01'), // wrong password: retrying will not help
      sqlState('3D000'), // no such database
      new Error('syntax error at or near "selec"'),
      new Error('a message that merely mentions Connection terminated'),
      'ECONNRESET',
      undefined,
    ];
    for (const error of others) assert.equal(isDatabaseOutage(error), false, String(error));
  });
});

describe('asDatabaseUnavailable', () => {
  it('maps the DatabaseUnavailableError of the adapter, also as a cause, to a 503 with Retry-After', () => {
    const outage = new DatabaseUnavailableError(withCode('ECONNRESET', 'read ECONNRESET'));
    for (const error of [outage, new Error('database migration failed', { cause: outage })]) {
      const mapped = asDatabaseUnavailable(error);
      assert.equal(mapped?.code, 'database_unavailable');
      assert.equal(mapped.httpStatus, 503);
      assert.equal(mapped.wsCloseCode, 1013);
      assert.equal(mapped.retryAfter, 5);
    }
  });

  it('does not map a network error that did not come from the database adapter', () => {
    // An ECONNRESET from object storage or a webhook is not a database outage.
    assert.equal(asDatabaseUnavailable(withCode('ECONNRESET')), undefined);
    assert.equal(asDatabaseUnavailable(new Error('internal')), undefined);
  });
});
