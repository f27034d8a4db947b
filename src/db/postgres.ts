import type { PostgresPool, PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { DatabaseUnavailableError, isDatabaseOutage } from './unavailable.ts';

/** Time limits on every PostgreSQL connection, so a database that is down or hung fails fast. */
export interface DatabaseLimits {
  /** Opening a connection, and waiting for a free one when the pool is full. */
  connectTimeoutMs: number;
  /** statement_timeout of request work. */
  statementTimeoutMs: number;
  /** statement_timeout of work allowed to run longer: migrations, batch jobs (`DatabaseHandle.longDb`). */
  longStatementTimeoutMs: number;
  /** idle_in_transaction_session_timeout: the server ends a session that sits in an open transaction. */
  idleInTransactionTimeoutMs: number;
}

export interface DatabaseLog {
  warn(details: object, message: string): void;
}

/**
 * How much longer than statement_timeout the client waits for an answer (pg's query_timeout). The
 * server's cancel (57014) should come first, as it leaves the connection usable; the client's timer
 * is for a database that does not answer at all (a frozen host, a dropped network), which TCP alone
 * would notice only after many minutes.
 */
const CLIENT_GRACE_MS = 1000;

/** Idle connections send TCP keepalives after this long, so a silently dropped one is found and replaced. */
const KEEPALIVE_DELAY_MS = 10_000;

/**
 * A pg pool whose failures never escape as events: a connection that breaks while idle is removed by
 * the pool, which then emits 'error'; one that breaks while checked out emits 'error' on the client,
 * which pg-pool leaves without a listener then. Either, unheard, would crash the process; both are
 * logged here, and the query that was running (if any) fails with its own error. New connections are
 * opened on demand, so the pool heals once the database is back.
 */
export function createPostgresPool(
  url: string,
  options: { schema?: string | undefined; limits: DatabaseLimits; log: DatabaseLog },
): pg.Pool {
  const { limits, log } = options;
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: limits.connectTimeoutMs,
    // Sent in the startup packet, so every connection has them without an extra round trip.
    statement_timeout: limits.statementTimeoutMs,
    idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  pool.on('connect', (client) => {
    client.on('error', (error) => log.warn({ err: error }, 'database connection lost'));
  });
  // The client's own listener above has logged it; the pool has already dropped the connection.
  pool.on('error', () => {});
  return pool;
}

/**
 * The pool as Kysely sees it. Every query gets pg's query_timeout; a driver error is rethrown as a
 * DatabaseUnavailableError when it is an outage (refused, reset, timed out), so callers can tell it
 * from a bad query. A connection that failed without an answer from the server (a timeout, a broken
 * socket) may still have a query running on it: its later queries fail at once, and it is discarded
 * on release rather than returned to the pool.
 *
 * With `longer`, each checkout raises statement_timeout to `longStatementTimeoutMs` for the session
 * and resets it on release, so long work shares the pool (and its size limit) with requests. (A session
 * setting needs a session of its own: not PgBouncer in transaction mode, see docs/architecture.md.)
 */
export function kyselyPool(pool: pg.Pool, limits: DatabaseLimits, longer = false): PostgresPool {
  const statementTimeoutMs = longer ? limits.longStatementTimeoutMs : limits.statementTimeoutMs;
  const queryTimeoutMs = statementTimeoutMs + CLIENT_GRACE_MS;
  return {
    async connect() {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw classify(error);
      }
      const guarded = guard(client, queryTimeoutMs, longer);
      if (longer) {
        try {
          await guarded.query(`set statement_timeout = ${statementTimeoutMs}`, []);
        } catch (error) {
          client.release(true);
          throw error;
        }
      }
      return guarded;
    },
    // The request pool's Kysely instance ends the pg pool; the long one shares it and must not.
    end: async () => {
      if (!longer) await pool.end();
    },
  };
}

/** pg reads `query_timeout` from a query's config as well as the client's; @types/pg omits it there. */
type TimedQuery = pg.QueryConfig & { query_timeout: number };

function guard(client: pg.PoolClient, queryTimeoutMs: number, resetOnRelease: boolean): PostgresPoolClient {
  let broken: unknown;
  const query = async (text: string, values: readonly unknown[]) => {
    if (broken) throw broken;
    const config: TimedQuery = { text, values: [...values], query_timeout: queryTimeoutMs };
    try {
      return await client.query(config);
    } catch (error) {
      // The server answered with an error: the connection is in a known state and stays usable.
      if (error instanceof pg.DatabaseError) throw classify(error);
      broken = classify(error);
      throw broken;
    }
  };
  const release = (destroy?: boolean) => {
    if (destroy || broken) {
      client.release(true);
    } else if (resetOnRelease) {
      const reset: TimedQuery = { text: 'reset statement_timeout', query_timeout: queryTimeoutMs };
      client.query(reset).then(
        () => client.release(),
        (error: Error) => client.release(error),
      );
    } else {
      client.release();
    }
  };
  // Kysely calls query(cursor) only when the dialect is given a cursor class; this one is not.
  return { query, release } as unknown as PostgresPoolClient;
}

const classify = (error: unknown): unknown => (isDatabaseOutage(error) ? new DatabaseUnavailableError(error) : error);
