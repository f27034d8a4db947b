/**
 * The durable processing queue (src/jobs/jobs.repo.ts) on both dialects: fair share between users and
 * organisations, claims that expire, attempts, and the per-user quota.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DatabaseHandle, nowIso, openDatabase } from '../src/db/index.ts';
import { createJobsRepo } from '../src/jobs/jobs.repo.ts';
import { createRecordingsRepo } from '../src/recordings/recordings.repo.ts';
import { startTestServer, type TestServer } from './helpers.ts';

describe('the processing queue', () => {
  let server: TestServer & { schema?: string };
  let database: DatabaseHandle;
  const users = ['alice', 'bob', 'carol'];

  before(async () => {
    // A server migrates a fresh database (SQLite file or PostgreSQL schema); its own job runners are
    // stopped so that only this test claims.
    server = await startTestServer();
    await server.stop();
    database = openDatabase(server.config.databaseUrl, server.schema ? { schema: server.schema } : {});
    const now = nowIso();
    for (const org of ['org-1', 'org-2']) {
      await database.db.insertInto('orgs').values({ id: org, name: org, personal: 0, created_at: now }).execute();
    }
    for (const user of users) {
      await database.db
        .insertInto('users')
        .values({
          id: user,
          email: `${user}@example.com`,
          name: null,
          password_hash: 'x',
          personal_org_id: 'org-1',
          created_at: now,
        })
        .execute();
    }
  });
  after(async () => {
    await database?.close();
    await server?.close();
  });

  /** Queues one job per entry, oldest first, and returns the recording ids in order. */
  async function queue(entries: { userId: string; orgId: string }[]): Promise<string[]> {
    const recordings = createRecordingsRepo(database.db);
    const jobs = createJobsRepo(database.db, database.dialect, 'test-node');
    const ids: string[] = [];
    for (const { userId, orgId } of entries) {
      const row = await recordings.insert(database.db, {
        orgId,
        userId,
        name: 'r',
        source: 'upload',
        status: 'processing',
        inputKey: 'upload',
      });
      await jobs.enqueue(database.db, { kind: 'process', recordingId: row.id, userId, orgId });
      ids.push(row.id);
      // Distinct creation times, so "oldest first" is well defined.
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    return ids;
  }

  async function clear(): Promise<void> {
    await database.db.deleteFrom('jobs').execute();
  }

  it('gives the next free worker to whoever has fewest jobs running, and caps each user', async () => {
    await clear();
    const [a1, a2, , b1] = await queue([
      { userId: 'alice', orgId: 'org-1' },
      { userId: 'alice', orgId: 'org-1' },
      { userId: 'alice', orgId: 'org-1' },
      { userId: 'bob', orgId: 'org-2' },
    ]);
    const jobs = createJobsRepo(database.db, database.dialect, 'test-node');
    const limits = { lockMs: 60_000, maxRunningPerUser: 2, maxRunningPerOrg: 10 };
    assert.equal((await jobs.claim(limits))?.recording_id, a1, 'the oldest job first');
    assert.equal((await jobs.claim(limits))?.recording_id, b1, "bob's job before alice's second: he has none running");
    assert.equal((await jobs.claim(limits))?.recording_id, a2);
    assert.equal(await jobs.claim(limits), undefined, 'alice has her two running; her third waits');
    assert.deepEqual(await jobs.depth(), { queued: 1, running: 3 });
    assert.equal(await jobs.countForUser('alice'), 3);
  });

  it('caps each organisation across its users', async () => {
    await clear();
    const [a, , b] = await queue([
      { userId: 'alice', orgId: 'org-1' },
      { userId: 'carol', orgId: 'org-1' },
      { userId: 'bob', orgId: 'org-2' },
    ]);
    const jobs = createJobsRepo(database.db, database.dialect, 'test-node');
    const limits = { lockMs: 60_000, maxRunningPerUser: 5, maxRunningPerOrg: 1 };
    assert.equal((await jobs.claim(limits))?.recording_id, a);
    assert.equal((await jobs.claim(limits))?.recording_id, b, "org-1 has its one running: carol's job waits");
    assert.equal(await jobs.claim(limits), undefined);
  });

  it('lets another node claim a job whose claim ran out, counting the attempt; a retry waits for its time', async () => {
    await clear();
    const [id] = await queue([{ userId: 'alice', orgId: 'org-1' }]);
    const first = createJobsRepo(database.db, database.dialect, 'node-a');
    const second = createJobsRepo(database.db, database.dialect, 'node-b');
    const limits = { lockMs: 50, maxRunningPerUser: 5, maxRunningPerOrg: 5 };
    const claimed = await first.claim(limits);
    assert.deepEqual([claimed?.recording_id, claimed?.attempts, claimed?.locked_by], [id, 1, 'node-a']);
    assert.equal(await second.claim(limits), undefined, 'held while its claim runs');
    await new Promise((resolve) => setTimeout(resolve, 80));
    const again = await second.claim(limits);
    assert.deepEqual([again?.attempts, again?.locked_by], [2, 'node-b'], 'node-a died: node-b takes it over');
    assert.equal(await first.renew(claimed!.id, 1000), false, 'node-a cannot renew what is no longer its own');
    await second.release(again!.id, new Date(Date.now() + 60_000).toISOString(), 'worker crashed');
    assert.equal(await first.claim(limits), undefined, 'a retry waits for its time');
    await second.complete(again!.id);
  });
});
