/**
 * What `PRAGMA synchronous = FULL` costs the embedded SQLite database against NORMAL (WAL mode both):
 * BENCH_UPDATES (1000) stream offset advances, each its own autocommit UPDATE through Kysely, the
 * node:sqlite adapter and the recordings repository (`advanceStream`), as a chunked stream makes
 * them. Rounds alternate the two settings on a fresh database file in the OS temp folder (so its file
 * system is the one measured); the median round counts. Results are printed and written into
 * BENCHMARKS.md between the sqlite-sync markers.
 *
 *   npx node bench/sqlite-sync.ts
 *   BENCH_UPDATES=200 BENCH_ROUNDS=3 npx node bench/sqlite-sync.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { migrateToLatest, openDatabase } from '../src/db/index.ts';
import { createRecordingsRepo } from '../src/recordings/recordings.repo.ts';

const UPDATES = Number(process.env.BENCH_UPDATES ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const SETTINGS = ['NORMAL', 'FULL'] as const;
type Setting = (typeof SETTINGS)[number];

const dir = mkdtempSync(path.join(tmpdir(), 'earshot-sqlite-sync-'));

/** Milliseconds for UPDATES offset advances on a fresh database with `setting`. */
async function round(setting: Setting, index: number): Promise<number> {
  const handle = openDatabase(`sqlite:${path.join(dir, `${setting}-${index}.db`)}`);
  try {
    await migrateToLatest(handle.db);
    // The adapter sets FULL; the NORMAL rounds step back to what it used to set.
    await sql.raw(`PRAGMA synchronous = ${setting}`).execute(handle.db);
    const now = new Date().toISOString();
    await handle.db.insertInto('orgs').values({ id: 'o', name: 'bench', personal: 1, created_at: now }).execute();
    await handle.db
      .insertInto('users')
      .values({
        id: 'u',
        email: 'bench@example.com',
        name: null,
        password_hash: 'x',
        personal_org_id: 'o',
        created_at: now,
      })
      .execute();
    const repo = createRecordingsRepo(handle.db);
    const { id, lease_epoch: epoch } = await repo.insert(handle.db, {
      orgId: 'o',
      userId: 'u',
      name: 'bench',
      source: 'stream',
      status: 'receiving',
      inputKey: 'stream.ogg',
    });
    const started = performance.now();
    for (let offset = 0; offset < UPDATES; offset++) {
      if (!(await repo.advanceStream(id, epoch, offset * 4096, (offset + 1) * 4096, null))) {
        throw new Error('offset lost');
      }
    }
    return performance.now() - started;
  } finally {
    await handle.close();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

const load = loadavg()[0] ?? 0;
const times: Record<Setting, number[]> = { NORMAL: [], FULL: [] };
for (let index = 0; index < ROUNDS; index++) {
  for (const setting of SETTINGS) times[setting].push(await round(setting, index));
}

const fileSystem = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n').at(-1)?.split(/\s+/);
const probe = openDatabase(`sqlite:${path.join(dir, 'version.db')}`);
const version = (await sql<{ v: string }>`select sqlite_version() as v`.execute(probe.db)).rows[0]?.v;
await probe.close();
rmSync(dir, { recursive: true, force: true });

const normal = median(times.NORMAL);
const full = median(times.FULL);
const perUpdate = (ms: number) => `${((ms * 1000) / UPDATES).toFixed(0)} µs`;
const section = `<!-- sqlite-sync-bench:start -->
## SQLite: synchronous = FULL against NORMAL

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version},
SQLite ${version}, WAL mode, database file on ${fileSystem?.[1]} (${fileSystem?.[0]}). ${UPDATES} stream offset advances
(\`recordingsRepo.advanceStream\`, one autocommit UPDATE each, through Kysely and the node:sqlite adapter);
median of ${ROUNDS} rounds, alternating settings, each on a fresh file. Load average ${load.toFixed(1)} at the start
(other work on the machine shows as the spread of the rounds; the median is the figure).

| synchronous | ${UPDATES} updates | per update | rounds (ms) |
| --- | --- | --- | --- |
| NORMAL | ${normal.toFixed(0)} ms | ${perUpdate(normal)} | ${times.NORMAL.map((t) => t.toFixed(0)).join(', ')} |
| FULL | ${full.toFixed(0)} ms | ${perUpdate(full)} | ${times.FULL.map((t) => t.toFixed(0)).join(', ')} |

FULL costs ${(full / normal).toFixed(1)}× NORMAL here: one fsync of the WAL per commit, about ${perUpdate(full - normal)} more per write
transaction on this (virtual) disk. Each acknowledged stream chunk pays it once, next to the fsync of the chunk's own
data that already comes before the acknowledgement; reads pay nothing. Earshot uses FULL so a commit that a 2xx rests on
(a stream offset, a recording row) survives a power loss, which NORMAL does not promise.

Reproduce: \`npx node bench/sqlite-sync.ts\`.
<!-- sqlite-sync-bench:end -->`;

console.log(section);
const file = path.join(import.meta.dirname, '..', 'BENCHMARKS.md');
const current = readFileSync(file, 'utf8');
const marked = /<!-- sqlite-sync-bench:start -->[\s\S]*<!-- sqlite-sync-bench:end -->/;
writeFileSync(file, marked.test(current) ? current.replace(marked, section) : `${current.trimEnd()}\n\n${section}\n`);
