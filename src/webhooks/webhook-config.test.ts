import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config.ts';
import { parseWebhookConfig } from './webhook-config.ts';

describe('webhook configuration', () => {
  it('defaults to public targets only, 15 s, about a day of retries, 4 at a time, 30 days kept', () => {
    assert.deepEqual(parseWebhookConfig({}), {
      allowPrivate: [],
      timeoutMs: 15_000,
      retryScheduleMs: [5000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      concurrency: 4,
      retentionDays: 30,
    });
  });

  it('takes true, false or a list of networks for WEBHOOK_ALLOW_PRIVATE', () => {
    assert.equal(parseWebhookConfig({ WEBHOOK_ALLOW_PRIVATE: 'true' }).allowPrivate, 'all');
    assert.deepEqual(parseWebhookConfig({ WEBHOOK_ALLOW_PRIVATE: 'false' }).allowPrivate, []);
    assert.deepEqual(parseWebhookConfig({ WEBHOOK_ALLOW_PRIVATE: '10.20.0.0/16, fd00:1::/64' }).allowPrivate, [
      '10.20.0.0/16',
      'fd00:1::/64',
    ]);
    for (const bad of ['yes', '10.0.0.0', '10.0.0.0/33', 'fd00::/129', 'example.com/8']) {
      assert.throws(() => parseWebhookConfig({ WEBHOOK_ALLOW_PRIVATE: bad }), ConfigError, bad);
    }
  });

  it('reads the retry schedule in ms, s, m and h, and refuses anything else', () => {
    assert.deepEqual(
      parseWebhookConfig({ WEBHOOK_RETRY_SCHEDULE: '50ms, 2s,3m,1h' }).retryScheduleMs,
      [50, 2000, 180_000, 3_600_000],
    );
    for (const bad of ['5', '5d', '-1s', '1s,,2s', '200h']) {
      assert.throws(() => parseWebhookConfig({ WEBHOOK_RETRY_SCHEDULE: bad }), ConfigError, bad);
    }
  });

  it('builds PUBLIC_URL from where the server listens unless it is given, without a trailing slash', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'earshot-config-'));
    try {
      const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: dataDir, ...env }).publicUrl;
      assert.equal(load({}), 'http://127.0.0.1:8000');
      assert.equal(load({ HOST: '0.0.0.0', PORT: '9000' }), 'http://localhost:9000');
      assert.equal(load({ PUBLIC_URL: 'https://earshot.example.com/' }), 'https://earshot.example.com');
      assert.equal(load({ PUBLIC_URL: 'https://example.com/earshot/' }), 'https://example.com/earshot');
      for (const bad of ['earshot.example.com', 'ftp://example.com', 'https://u:p@example.com', 'https://x.com/?a=1']) {
        assert.throws(() => load({ PUBLIC_URL: bad }), ConfigError, bad);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
