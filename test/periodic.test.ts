/**
 * Housekeeping on a cluster (src/periodic.ts): every node runs the same timers, and the named lease in
 * the shared database lets one node at a time do each run. Two "nodes" here are two sets of timers with
 * their own node ids on one database, as two processes would be.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { createNamedLeases } from '../src/cluster/named-leases.ts';
import { type DatabaseHandle, openDatabase } from '../src/db/index.ts';
import { runPeriodically } from '../src/periodic.ts';
import { eventually, startTestServer, type TestServer } from './helpers.ts';

const INTERVAL_MS = 200;

describe('periodic tasks on several nodes', () => {
  let server: TestServer & { schema?: string };
  let handle: DatabaseHandle;
  before(async () => {
    server = await startTestServer(); // migrates this dialect's database
    handle = openDatabase(server.config.databaseUrl, server.schema ? { schema: server.schema } : {});
  });
  after(async () => {
    await handle.close();
    await server.close();
  });

  it('runs each task on one node at a time, and on another once that node is gone', async () => {
    const log = pino({ level: 'silent' });
    const runs: { node: string; at: number }[] = [];
    const start = (node: string) =>
      runPeriodically(
        'test-sweep',
        INTERVAL_MS,
        async () => {
          runs.push({ node, at: Date.now() });
        },
        { log, leases: createNamedLeases(handle.db, node) },
      );
    const a = start('node-a');
    await a.firstRun;
    const b = start('node-b');
    await b.firstRun;
    const began = Date.now();
    await sleep(10 * INTERVAL_MS);
    const window = Date.now() - began;
    const during = runs.filter((run) => run.at >= began);
    // Two nodes' timers fire twice per interval; one lease lets one run through each time.
    assert.ok(during.length <= window / INTERVAL_MS + 2, `${during.length} runs in ${window} ms`);
    assert.ok(during.length >= 3, `${during.length} runs in ${window} ms`);

    a.stop(); // node a is gone: its lease runs out and node b's timer takes it
    const stoppedAt = Date.now();
    await eventually(() => {
      const later = runs.filter((run) => run.at > stoppedAt + INTERVAL_MS);
      assert.ok(later.length >= 2 && later.every((run) => run.node === 'node-b'), JSON.stringify(later));
    }, 20 * INTERVAL_MS);
    b.stop();
  });
});
