/**
 * A real lifecycle for unit tests: a fresh SQLite database in a temporary folder (migrated), a local
 * object store and a spool, with one user and organisation to own recordings.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type DatabaseHandle, migrateToLatest, nowIso, openDatabase } from '../db/index.ts';
import { createJobsRepo, type JobsRepo } from '../jobs/jobs.repo.ts';
import { createLifecycle, type Lifecycle } from '../recordings/lifecycle.ts';
import { createRecordingsRepo, type RecordingsRepo } from '../recordings/recordings.repo.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { createLocalBlobStore } from '../storage/local-blob-store.ts';
import { createSpool, type Spool } from '../storage/spool.ts';

export interface TestLifecycle {
  dir: string;
  database: DatabaseHandle;
  repo: RecordingsRepo;
  jobs: JobsRepo;
  blobs: BlobStore;
  spool: Spool;
  lifecycle: Lifecycle;
  userId: string;
  orgId: string;
  dispose(): Promise<void>;
}

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

export async function createTestLifecycle(options: { nodeId?: string; leaseMs?: number } = {}): Promise<TestLifecycle> {
  const dir = await mkdtemp(path.join(tmpdir(), 'earshot-lifecycle-'));
  const database = openDatabase(`sqlite:${path.join(dir, 'test.db')}`);
  await migrateToLatest(database.db);
  const now = nowIso();
  const orgId = 'org-1';
  const userId = 'user-1';
  await database.db.insertInto('orgs').values({ id: orgId, name: 'Org', personal: 1, created_at: now }).execute();
  await database.db
    .insertInto('users')
    .values({
      id: userId,
      email: 'u@example.com',
      name: null,
      password_hash: 'x',
      personal_org_id: orgId,
      created_at: now,
    })
    .execute();
  const nodeId = options.nodeId ?? 'node-a';
  const repo = createRecordingsRepo(database.db);
  const jobs = createJobsRepo(database.db, database.dialect, nodeId);
  const blobs = createLocalBlobStore(path.join(dir, 'blobs'));
  const spool = createSpool(path.join(dir, 'spool'));
  const lifecycle = createLifecycle({
    db: database.db,
    repo,
    jobs,
    blobs,
    spool,
    nodeId,
    leaseMs: options.leaseMs ?? 20_000,
    failedInputRetentionSec: 3600,
    maxQueuedPerUser: 100,
    log: quiet,
  });
  return {
    dir,
    database,
    repo,
    jobs,
    blobs,
    spool,
    lifecycle,
    userId,
    orgId,
    async dispose() {
      await database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
