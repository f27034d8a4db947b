import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Kysely's SqliteDialect speaks the better-sqlite3 interface. Node's built-in `node:sqlite` is almost
 * the same; this adapter bridges the two differences (spread parameters and the `reader` flag), so the
 * embedded default needs no native addon built against a particular V8.
 */
export function openNodeSqlite(file: string): SqliteDatabase {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL');
  // Durability before speed: a 2xx (a stream offset, a recording row) may rest on a commit. In WAL mode
  // NORMAL syncs the log only at checkpoints, and "a transaction committed in WAL mode with
  // synchronous=NORMAL might roll back following a power loss or system crash"; FULL syncs the WAL at
  // every commit (https://www.sqlite.org/pragma.html#pragma_synchronous). Cost: BENCHMARKS.md.
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA busy_timeout = 5000');
  // SQLite's own lower() folds ASCII only ("To do case conversions on non-ASCII characters, load the
  // ICU extension", https://www.sqlite.org/lang_corefunc.html#lower), and the ICU extension works by
  // replacing lower(). This does the same with JavaScript's Unicode case mapping, so a search for
  // "réunion" finds "RÉUNION" here as it does on PostgreSQL.
  db.function('lower', { deterministic: true }, (value) => (typeof value === 'string' ? value.toLowerCase() : value));
  return {
    close: () => db.close(),
    prepare: (sql: string) => wrapStatement(db.prepare(sql)),
  };
}

type Params = ReadonlyArray<unknown>;

function wrapStatement(statement: StatementSync): SqliteStatement {
  const args = (parameters: Params) => parameters.map(toSqliteValue) as never[];
  return {
    reader: statement.columns().length > 0,
    all: (parameters: Params) => statement.all(...args(parameters)),
    run: (parameters: Params) => {
      const { changes, lastInsertRowid } = statement.run(...args(parameters));
      return { changes: Number(changes), lastInsertRowid: Number(lastInsertRowid) };
    },
    iterate: (parameters: Params) => statement.iterate(...args(parameters)) as IterableIterator<unknown>,
  };
}

/** node:sqlite binds only null, numbers, bigints, strings and bytes. */
function toSqliteValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  return value;
}
