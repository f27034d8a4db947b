import { Kysely, type Migration, type MigrationProvider, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { DATABASE_DEFAULTS } from '../config.ts';
import * as accounts from './migrations/001_accounts.ts';
import * as recordings from './migrations/002_recordings.ts';
import * as invitations from './migrations/003_invitations.ts';
import * as cluster from './migrations/004_cluster.ts';
import * as apiKeys from './migrations/005_api_keys.ts';
import * as webhooks from './migrations/006_webhooks.ts';
import * as transcripts from './migrations/007_transcripts.ts';
import * as liveFormats from './migrations/008_live_formats.ts';
import * as trash from './migrations/009_trash.ts';
import * as tusUploads from './migrations/010_tus_uploads.ts';
import * as slidingRateLimits from './migrations/011_sliding_rate_limits.ts';
import { createPostgresPool, type DatabaseLimits, type DatabaseLog, kyselyPool } from './postgres.ts';
import type { Database } from './schema.ts';
import { openNodeSqlite } from './sqlite-adapter.ts';

export type { DatabaseLimits, DatabaseLog } from './postgres.ts';

export type Db = Kysely<Database>;
export type DbDialect = 'sqlite' | 'postgres';

/** Migrations are listed in code (not read from a folder) so the order is explicit and bundling-safe. */
const migrations: Record<string, Migration> = {
  '001_accounts': accounts,
  '002_recordings': recordings,
  '003_invitations': invitations,
  '004_cluster': cluster,
  '005_api_keys': apiKeys,
  '006_webhooks': webhooks,
  '007_transcripts': transcripts,
  '008_live_formats': liveFormats,
  '009_trash': trash,
  '010_tus_uploads': tusUploads,
  '011_sliding_rate_limits': slidingRateLimits,
};

// BIGINT columns (byte counts) come back as strings from pg; every value we store fits a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface DatabaseHandle {
  db: Db;
  /**
   * The same database, for work allowed to take longer than a request: on PostgreSQL each statement
   * may run for `longStatementTimeoutMs` instead of `statementTimeoutMs` (SQLite has no statement
   * limit; there it is `db`). Migrations run on it.
   */
  longDb: Db;
  dialect: DbDialect;
  /** Resolves when the database answers a trivial query; rejects with the reason it did not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL: the schema this instance's tables live in (the tests give each app its own). */
  schema?: string | undefined;
  /** PostgreSQL time limits; the configuration's defaults when not given. */
  limits?: DatabaseLimits;
  /** Where connection failures are reported; nowhere when not given. */
  log?: DatabaseLog;
}

/** Opens the database named by `url` (`sqlite:<file>` or `postgres://…`). */
export function openDatabase(url: string, options: OpenDatabaseOptions = {}): DatabaseHandle {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: openNodeSqlite(file) }) });
    return handle(db, db, 'sqlite');
  }
  const limits = options.limits ?? DATABASE_DEFAULTS;
  const pool = createPostgresPool(url, { schema: options.schema, limits, log: options.log ?? { warn: () => {} } });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: kyselyPool(pool, limits) }) });
  const longDb = new Kysely<Database>({ dialect: new PostgresDialect({ pool: kyselyPool(pool, limits, true) }) });
  return handle(db, longDb, 'postgres');
}

function handle(db: Db, longDb: Db, dialect: DbDialect): DatabaseHandle {
  return {
    db,
    longDb,
    dialect,
    async ping() {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

/**
 * `schema` (PostgreSQL) must name the schema the connection's search_path points at: without it
 * Kysely looks for its migration tables in every schema, and an app migrating a fresh schema while
 * another schema already has them skips creating its own ("kysely_migration_lock does not exist").
 */
export async function migrateToLatest(db: Db, schema?: string): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations };
  const migrator = new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (!error && !failed) return;
    // Kysely looks for its tables by listing every table of every schema, which fails with
    // invalid_schema_name (3F000) or undefined_table (42P01) when another schema of the database is
    // dropped meanwhile: not ours, so looking again is right.
    const code = (error as { code?: unknown } | undefined)?.code;
    if (attempt < 5 && (code === '3F000' || code === '42P01')) continue;
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed`, { cause: error });
  }
}

export const nowIso = (): string => new Date().toISOString();

/** True for a unique or primary key violation, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, errcode, message } = error as { code?: unknown; errcode?: unknown; message?: unknown };
  if (code === '23505') return true;
  // SQLITE_CONSTRAINT_UNIQUE = 2067, SQLITE_CONSTRAINT_PRIMARYKEY = 1555
  if (errcode === 2067 || errcode === 1555) return true;
  return typeof message === 'string' && /UNIQUE constraint failed/i.test(message);
}
