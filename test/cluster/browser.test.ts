/**
 * The web page's recorder survives the loss of a node (issue 10): the page is served through the load
 * balancer of a three-node cluster, the node holding its live recording is killed and its disk lost,
 * and the recording carries on elsewhere and comes out whole.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { type BrowserSession, lastRecorded, longSpeechWav, openBrowserSession, signIn } from '../e2e/browser.ts';
import { api } from '../helpers.ts';
import { type Cluster, clusterToolsPresent, startCluster } from './cluster.ts';

const skip = clusterToolsPresent() ? false : 'haproxy or radosgw missing: .ci/run installs them';

describe('cluster: the page records through a node loss', { skip }, () => {
  let cluster: Cluster;
  let session: BrowserSession;
  let page: Page;
  let wav: string;

  before(async () => {
    cluster = await startCluster({ nodes: 3, env: { LIVE_COMMIT_INTERVAL_MS: '500' } });
    wav = await longSpeechWav();
    // The page encodes with WebCodecs here (Chromium), MediaRecorder elsewhere: tap both.
    session = await openBrowserSession(wav, { viewport: { width: 1280, height: 860 }, timeoutMs: 15_000, tap: true });
    page = session.page;
  });
  after(async () => {
    await session?.close();
    await cluster?.close();
    if (wav) await rm(wav, { force: true });
  });

  it('records, loses the node holding the recording, carries on elsewhere, and saves one whole recording', async () => {
    const email = `cluster-${Date.now()}@example.com`;
    const password = 'a long enough passphrase 42';
    const registered = await api(cluster, 'POST', '/api/auth/register', { json: { email, password } });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    await signIn(page, cluster.url, { email, password });

    const name = 'Through a node loss';
    await page.getByLabel('Name (optional)').first().fill(name);
    await page.getByRole('button', { name: 'Start recording' }).click();
    await page.locator('.live[data-state="recording"]').waitFor();
    await page.waitForTimeout(4000);

    const client = new pg.Client({ connectionString: cluster.databaseUrl });
    await client.connect();
    const { rows } = await client
      .query("select id, lease_owner from recordings where name = $1 and status = 'receiving'", [name])
      .finally(() => client.end());
    assert.equal(rows.length, 1);
    const owner = cluster.nodes.findIndex((node) => node.id === rows[0].lease_owner);
    assert.ok(owner >= 0, `the recording is held by ${rows[0].lease_owner}`);
    await cluster.kill(owner, { signal: 'SIGKILL', wipe: true });

    // The page notices, reconnects through the balancer to a live node, resumes and records on.
    await page.locator('.live[data-state="recording"]').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(4000);
    await page.getByRole('button', { name: 'Stop and save' }).click();
    await page.getByText(`Saved "${name}"`).waitFor({ timeout: 60_000 });
    const recorded = await lastRecorded(page);

    const token = await page.evaluate(
      () => (JSON.parse(localStorage.getItem('earshot.session') ?? '{}') as { access_token: string }).access_token,
    );
    const list = await api(cluster, 'GET', '/api/recordings?limit=50', { token });
    const found = list.body.items.filter((r: { name: string }) => r.name === name);
    assert.equal(found.length, 1, 'one recording, not a second one started after the loss');
    let recording = found[0];
    for (let i = 0; i < 600 && recording.status !== 'ready' && recording.status !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      recording = (await api(cluster, 'GET', `/api/recordings/${recording.id}`, { token })).body;
    }
    assert.equal(recording.status, 'ready', JSON.stringify(recording));
    assert.equal(recording.received_bytes, recorded.bytes.length, 'every byte the page recorded, once');
    if (recorded.kind === 'webcodecs') {
      assert.equal(recording.pipeline, 'remux', 'the Opus the page encoded, kept as it was across the takeover');
    }
    assert.ok(
      Math.abs(recording.duration_sec - recorded.decoded) < 0.1,
      `duration ${recording.duration_sec} s ≈ the page's recorded audio, ${recorded.decoded} s`,
    );
    await cluster.start(owner);
  });
});
