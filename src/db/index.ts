import { Kysely, type Migration, type MigrationProvider, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import * as accounts from './migrations/001_accounts.ts';
import * as recordings from './migrations/002_recordings.ts';
import * as invitations from './migrations/003_invitations.ts';
import * as cluster from './migrations/004_cluster.ts';
import type { Database } from './schema.ts';
import { openNodeSqlite } from './sqlite-adapter.ts';

export type Db = Kysely<Database>;
export type DbDialect = 'sqlite' | 'postgres';

/** Migrations are listed in code (not read from a folder) so the order is explicit and bundling-safe. */
const migrations: Record<string, Migration> = {
  '001_accounts': accounts,
  '002_recordings': recordings,
  '003_invitations': invitations,
  '004_cluster': cluster,
};

// BIGINT columns (byte counts) come back as strings from pg; every value we store fits a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface DatabaseHandle {
  db: Db;
  dialect: DbDialect;
  /** True when the database answers a trivial query (readiness probe). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Opens the database named by `url` (`sqlite:<file>` or `postgres://…`). For PostgreSQL an optional
 * `schema` isolates this instance's tables (the tests give each app its own).
 */
export function openDatabase(url: string, options: { schema?: string } = {}): DatabaseHandle {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: openNodeSqlite(file) }) });
    return handle(db, 'sqlite');
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return handle(db, 'postgres');
}

function handle(db: Db, dialect: DbDialect): DatabaseHandle {
  return {
    db,
    dialect,
    async ping() {
      try {
        await sql`select 1`.execute(db);
        return true;
      } catch {
        return false;
      }
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
  const { error, results } = await new Migrator({
    db,
    provider,
    ...(schema ? { migrationTableSchema: schema } : {}),
  }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
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
