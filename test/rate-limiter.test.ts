import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRateLimiter, type RateLimiter } from '../src/cluster/rate-limiter.ts';
import { type DatabaseHandle, openDatabase } from '../src/db/index.ts';
import { startTestServer, type TestServer } from './helpers.ts';

const rule = { max: 3, windowMs: 60_000 };

describe('rate limiter: a sliding window in the database', () => {
  let server: TestServer & { schema?: string };
  let handle: DatabaseHandle;
  let clock = 0;
  let limiter: RateLimiter;
  let keys = 0;
  const freshKey = () => `test:${++keys}`;
  const allowed = async (key: string) => (await limiter.consume(key, rule)).allowed;

  before(async () => {
    server = await startTestServer(); // migrates this dialect's database
    handle = openDatabase(server.config.databaseUrl, server.schema ? { schema: server.schema } : {});
    limiter = createRateLimiter(handle.db, () => clock);
  });
  after(async () => {
    await handle.close();
    await server.close();
  });

  it('refuses the event past the budget and says when one more fits', async () => {
    clock = 10 * 60_000 + 20_000; // a third into a window
    const key = freshKey();
    assert.deepEqual([await allowed(key), await allowed(key), await allowed(key)], [true, true, true]);
    const refused = await limiter.consume(key, rule);
    assert.equal(refused.allowed, false);
    // Four counted, the refused one too: one more fits once they weigh two, half-way into the next window.
    if (!refused.allowed) assert.equal(refused.retryAfterSec, 40 + 30);
  });

  it('does not hand out a fresh budget at the window boundary', async () => {
    clock = 20 * 60_000 - 1_000; // a second before a boundary
    const key = freshKey();
    for (let i = 0; i < 3; i++) assert.ok(await allowed(key));
    clock += 2_000; // a second after it: the previous window still weighs 58/60 of its three
    assert.equal(await allowed(key), false);
    const peeked = await limiter.peek(key, rule);
    assert.equal(peeked.allowed, false);
  });

  it('lets the budget back in as the previous window slides out', async () => {
    clock = 30 * 60_000 + 59_000;
    const key = freshKey();
    for (let i = 0; i < 3; i++) assert.ok(await allowed(key));
    clock = 31 * 60_000 + 30_000; // half of the previous window's three still counts: 1.5
    assert.equal((await limiter.peek(key, rule)).allowed, true, 'peek counts nothing');
    assert.ok(await allowed(key)); // 2.5
    assert.equal(await allowed(key), false); // 3.5
    clock = 33 * 60_000; // two windows on, nothing weighs
    for (let i = 0; i < 3; i++) assert.ok(await allowed(key));
  });

  it('keeps keys apart and purges old windows', async () => {
    clock = 40 * 60_000;
    const [a, b] = [freshKey(), freshKey()];
    for (let i = 0; i < 3; i++) assert.ok(await allowed(a));
    assert.ok(await allowed(b));
    clock = 45 * 60_000;
    const purged = await limiter.purge(3 * 60_000);
    assert.ok(purged >= 2, `purged ${purged}`);
    assert.ok(await allowed(a));
  });
});
