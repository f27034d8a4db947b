import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createJobQueue } from './job-queue.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('job queue', () => {
  it('runs at most `concurrency` jobs and one job per id', async () => {
    const queue = createJobQueue<number>({ concurrency: 2, maxQueued: 10 });
    let running = 0;
    let peak = 0;
    let calls = 0;
    const job = (value: number) => async () => {
      calls++;
      running++;
      peak = Math.max(peak, running);
      await sleep(20);
      running--;
      return value;
    };
    const results = await Promise.all([
      queue.enqueue('a', job(1)),
      queue.enqueue('a', job(99)),
      queue.enqueue('b', job(2)),
      queue.enqueue('c', job(3)),
    ]);
    assert.deepEqual(results, [1, 1, 2, 3]);
    assert.equal(peak, 2);
    assert.equal(calls, 3);
  });

  it('lets a caller wait a bounded time', async () => {
    const queue = createJobQueue<string>({ concurrency: 1, maxQueued: 10 });
    queue.enqueue('slow', async () => {
      await sleep(200);
      return 'done';
    });
    assert.equal(await queue.waitFor('slow', 10), undefined);
    assert.equal(await queue.waitFor('slow', 1000), 'done');
    assert.equal(await queue.waitFor('unknown', 10), undefined);
  });

  it('cancels through the abort signal and refuses work when full or closing', async () => {
    const queue = createJobQueue<string>({ concurrency: 1, maxQueued: 1 });
    const running = queue.enqueue(
      'r',
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    const waiting = queue.enqueue('w', async () => 'never');
    await assert.rejects(
      queue.enqueue('x', async () => 'x'),
      { code: 'busy' },
    );
    await queue.cancel('w');
    await assert.rejects(waiting, { code: 'conflict' });
    await queue.close();
    await assert.rejects(running, { code: 'busy' });
    await assert.rejects(
      queue.enqueue('y', async () => 'y'),
      { code: 'busy' },
    );
    assert.equal(queue.size, 0);
  });
});
