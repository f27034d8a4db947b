import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MediaEngineWithStats } from './index.ts';
import { createMediaEngine } from './index.ts';
import { fixture, rejectsWith, tempDir, writeToneWav } from './test-helpers.ts';

const dir = tempDir();
/** Long enough (a few seconds of encoding) to still be running when the test interferes. */
const LONG = join(dir, 'long.wav');
const waitFor = async (cond: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

before(() => writeToneWav(LONG, 600, 16_000, 1));

describe('media engine: worker supervision', () => {
  let engine: MediaEngineWithStats;
  before(() => {
    engine = createMediaEngine({ workers: 2, jobTimeoutMs: 30_000, maxDurationSec: 3600 });
  });
  after(() => engine.close());

  test('killing a worker mid-job fails only that job; the next job succeeds', async () => {
    let started = false;
    const doomed = engine.normalize(LONG, join(dir, 'doomed.ogg'), { onProgress: () => (started = true) });
    doomed.catch(() => {}); // asserted below; keeps the early rejection from being reported as unhandled
    await waitFor(() => started);
    // Only the doomed job runs yet, so the one busy worker is its worker; the other job goes elsewhere.
    const busy = engine.stats().workers.find((w) => w.busy && w.pid);
    assert.ok(busy?.pid);
    const other = engine.normalize(fixture('speech.flac'), join(dir, 'other.ogg'));
    process.kill(busy.pid, 'SIGKILL');
    await rejectsWith(doomed, 'internal', /crashed/);
    assert.equal((await other).codec, 'opus');
    const next = await engine.normalize(fixture('speech.wav'), join(dir, 'next.ogg'));
    assert.equal(next.codec, 'opus');
    await waitFor(() => engine.stats().workers.length === 2);
  });

  test('a crashed worker fails its live sessions with AppError internal', async () => {
    const input = join(dir, 'live-crash.input');
    writeFileSync(input, Buffer.alloc(100));
    const live = await engine.openLive(join(dir, 'live-crash.ogg'), input);
    await live.advance(100);
    const w = engine.stats().workers.find((x) => x.live > 0);
    assert.ok(w?.pid);
    process.kill(w.pid, 'SIGKILL');
    await waitFor(() => !engine.stats().workers.some((x) => x.pid === w.pid));
    await rejectsWith(live.advance(200), 'internal');
    await rejectsWith(live.finish(), 'internal');
  });

  test('an aborted job stops', async () => {
    const ac = new AbortController();
    let started = false;
    const job = engine.normalize(LONG, join(dir, 'aborted.ogg'), {
      signal: ac.signal,
      onProgress: () => (started = true),
    });
    await waitFor(() => started);
    ac.abort();
    await rejectsWith(job, 'internal', /cancelled|aborted/);
  });
});

describe('media engine: limits', () => {
  test('a job over jobTimeoutMs fails with media_timeout and the worker is replaced', async () => {
    const engine = createMediaEngine({ workers: 1, jobTimeoutMs: 300, maxDurationSec: 3600 });
    try {
      await rejectsWith(engine.normalize(LONG, join(dir, 'slow.ogg')), 'media_timeout', /limit/);
      const ok = await createMediaEngineJob(engine);
      assert.equal(ok, 'opus');
    } finally {
      await engine.close();
    }
  });

  test('duration over maxDurationSec is media_too_long', async () => {
    const engine = createMediaEngine({ workers: 1, jobTimeoutMs: 10_000, maxDurationSec: 60 });
    try {
      await rejectsWith(
        engine.normalize(LONG, join(dir, 'too-long.ogg')),
        'media_too_long',
        /10(\.0)?min exceeds the 1(\.0)?min limit/,
      );
    } finally {
      await engine.close();
    }
  });

  test('jobs queue when workers are busy and a full queue rejects with busy', async () => {
    const engine = createMediaEngine({ workers: 1, jobTimeoutMs: 30_000, maxDurationSec: 3600, maxQueue: 1 });
    try {
      await waitFor(() => engine.stats().workers.length === 1);
      let started = false;
      const running = engine.normalize(LONG, join(dir, 'q1.ogg'), { onProgress: () => (started = true) });
      await waitFor(() => started);
      const queued = engine.normalize(fixture('speech.wav'), join(dir, 'q2.ogg'));
      assert.equal(engine.stats().queued, 1);
      const err = await rejectsWith(engine.normalize(fixture('speech.wav'), join(dir, 'q3.ogg')), 'busy');
      assert.equal(err.httpStatus, 503);
      assert.equal((await running).codec, 'opus');
      assert.equal((await queued).codec, 'opus');
    } finally {
      await engine.close();
    }
  });
});

async function createMediaEngineJob(engine: MediaEngineWithStats): Promise<string> {
  // A 5 s file encodes in well under the 300 ms limit.
  return (await engine.normalize(fixture('speech.wav'), join(dir, 'after-timeout.ogg'))).codec;
}
