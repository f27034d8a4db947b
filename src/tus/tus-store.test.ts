import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ERRORS, Upload } from '@tus/utils';
import { isAppError } from '../errors.ts';
import { inputKeys } from '../recordings/lifecycle.ts';
import { eventually } from '../test-support/eventually.ts';
import { createTestLifecycle, type TestLifecycle } from '../test-support/lifecycle.ts';
import { createTusLocker } from './tus-locker.ts';
import { TusStore } from './tus-store.ts';
import { createTusUploadsRepo, type TusUploadsRepo } from './tus-uploads.repo.ts';

/**
 * The tus DataStore and locker on a real SQLite database and local object store: pieces, a body that
 * stops early, a holder that lost its lock, expiry, and the lock shared through the upload's row.
 */
describe('tus store and locker', () => {
  let t: TestLifecycle;
  let repo: TusUploadsRepo;
  let store: TusStore;
  const bytes = Buffer.from(Array.from({ length: 30 }, (_, i) => 65 + i));

  const makeStore = (expiryMs = 60_000) =>
    new TusStore({
      repo,
      blobs: t.blobs,
      spool: t.spool,
      ownerOf: () => ({ orgId: t.orgId, userId: t.userId, actor: `user:${t.userId}`, name: 'Test' }),
      expiryMs,
      pieceBytes: 10,
    });
  const create = async (id: string, s = store) => {
    await s.create(new Upload({ id, size: bytes.length, offset: 0, metadata: { filename: 'a.wav' } }));
  };
  /** A lock of the upload's row, as the locker takes it for a request; its epoch. */
  const lockFor = async (id: string, holder: string) => {
    const epoch = await repo.lock(id, holder, new Date().toISOString(), new Date(Date.now() + 60_000).toISOString());
    assert.ok(epoch !== undefined);
    return epoch;
  };

  beforeEach(async () => {
    t = await createTestLifecycle();
    repo = createTusUploadsRepo(t.database.db);
    store = makeStore();
  });
  afterEach(() => t.dispose());

  it('stores a body in pieces and moves the offset after each', async () => {
    await create('u1');
    await lockFor('u1', 'a');
    assert.equal(await store.write(Readable.from([bytes.subarray(0, 25)]), 'u1', 0), 25);
    assert.equal((await store.getUpload('u1')).offset, 25);
    const pieces = await t.blobs.list(inputKeys.tusPrefix('u1'));
    assert.deepEqual(
      pieces.map((p) => p.size),
      [10, 10, 5],
    );
    assert.equal(await store.write(Readable.from([bytes.subarray(25)]), 'u1', 25), 30);
    const upload = await store.getUpload('u1');
    assert.deepEqual([upload.offset, upload.size, upload.metadata], [30, 30, { filename: 'a.wav' }]);
  });

  it('keeps what arrived when the body stops early', async () => {
    await create('u2');
    await lockFor('u2', 'a');
    const body = new PassThrough();
    const writing = store.write(body, 'u2', 0);
    body.write(bytes.subarray(0, 13));
    await eventually(async () => assert.equal((await t.blobs.list(inputKeys.tusPrefix('u2'))).length, 1));
    body.destroy(new Error('connection reset'));
    await assert.rejects(writing, /connection reset/);
    assert.equal((await store.getUpload('u2')).offset, 13);
  });

  it('refuses the commit of a request that lost its lock, and reads the pieces of the one that replaced it', async () => {
    await create('u3');
    const first = await lockFor('u3', 'a');
    await store.write(Readable.from([bytes.subarray(0, 10)]), 'u3', 0);
    // The first request stalls with 5 bytes in hand; its lock runs out and a second request takes over.
    const stale = new PassThrough();
    const staleWrite = store.write(stale, 'u3', 10);
    stale.write(Buffer.from('zzzzz'));
    await repo.unlock('u3', 'a');
    const second = await lockFor('u3', 'b');
    assert.ok(second > first);
    assert.equal(await store.write(Readable.from([bytes.subarray(10)]), 'u3', 10), 30);
    stale.end();
    await assert.rejects(staleWrite, (error) => isAppError(error) && error.code === 'conflict');
    // Its late piece is stored (under its own epoch) but is not part of the upload.
    assert.equal((await t.blobs.list(inputKeys.tusPrefix('u3'))).length, 4);

    const recording = await t.lifecycle.createStoredUpload(
      { id: 'u3', orgId: t.orgId, userId: t.userId, name: 'Test', size: 30 },
      (trx) => repo.claimFinished(trx, 'u3', new Date().toISOString()),
    );
    assert.ok(recording);
    assert.equal(recording.source, 'upload');
    assert.equal(
      await t.lifecycle.createStoredUpload(
        { id: 'u3', orgId: t.orgId, userId: t.userId, name: 'Test', size: 30 },
        (trx) => repo.claimFinished(trx, 'u3', new Date().toISOString()),
      ),
      undefined,
      'claimed once',
    );
    const staged = path.join(t.dir, 'staged');
    assert.equal(await t.lifecycle.stageInput(recording, staged), 30);
    assert.deepEqual(await readFile(staged), bytes);
  });

  it('removes expired uploads and their bytes, but not the bytes of one that became a recording', async () => {
    const expiring = makeStore(1);
    await create('old', expiring);
    await create('done', expiring);
    await lockFor('old', 'a');
    await lockFor('done', 'a');
    await expiring.write(Readable.from([bytes.subarray(0, 5)]), 'old', 0);
    await expiring.write(Readable.from([bytes]), 'done', 0);
    await repo.unlock('old', 'a');
    await repo.unlock('done', 'a');
    await t.lifecycle.createStoredUpload(
      { id: 'done', orgId: t.orgId, userId: t.userId, name: 'Test', size: 30 },
      (trx) => repo.claimFinished(trx, 'done', new Date().toISOString()),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await expiring.deleteExpired(), 2);
    await assert.rejects(expiring.getUpload('old'), (error) => error === ERRORS.FILE_NOT_FOUND);
    assert.equal((await t.blobs.list(inputKeys.tusPrefix('old'))).length, 0);
    assert.equal((await t.blobs.list(inputKeys.tusPrefix('done'))).length, 3);
  });

  it('locks through the row: a waiting request asks the holder to let go, and gets the lock after it', async () => {
    await create('u4');
    const locker = createTusLocker(repo, { ttlMs: 60_000, heartbeatMs: 20, retryMs: 10, timeoutMs: 5000 });
    const holder = locker.newLock('u4');
    let asked = 0;
    await holder.lock(new AbortController().signal, () => {
      asked += 1;
    });
    let acquired = false;
    const waiter = locker.newLock('u4');
    const waiting = waiter
      .lock(new AbortController().signal, () => {})
      .then(() => {
        acquired = true;
      });
    await eventually(() => assert.equal(asked, 1));
    assert.equal(acquired, false);
    await holder.unlock();
    await waiting;
    assert.equal((await repo.get('u4'))?.lock_epoch, 2);
    await waiter.unlock();
    assert.equal((await repo.get('u4'))?.lock_holder, null);
  });

  it('frees the lock of a holder that stopped renewing it (a node that died)', async () => {
    await create('u5');
    const dying = createTusLocker(repo, { ttlMs: 50, heartbeatMs: 60_000, retryMs: 10, timeoutMs: 5000 });
    await dying.newLock('u5').lock(new AbortController().signal, () => {});
    const locker = createTusLocker(repo, { ttlMs: 60_000, heartbeatMs: 60_000, retryMs: 10, timeoutMs: 5000 });
    await locker.newLock('u5').lock(new AbortController().signal, () => {});
    assert.equal((await repo.get('u5'))?.lock_epoch, 2);
  });

  it('gives up waiting after its timeout, and needs no lock for an upload without a row', async () => {
    await create('u6');
    const locker = createTusLocker(repo, { ttlMs: 60_000, heartbeatMs: 60_000, retryMs: 10, timeoutMs: 50 });
    await locker.newLock('u6').lock(new AbortController().signal, () => {});
    await assert.rejects(
      locker.newLock('u6').lock(new AbortController().signal, () => {}),
      (error) => error === ERRORS.ERR_LOCK_TIMEOUT,
    );
    await locker.newLock('missing').lock(new AbortController().signal, () => {});
  });
});
