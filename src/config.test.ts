import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

describe('configuration: public URL, metrics and logs', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'earshot-config-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));
  const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: dataDir, ...env });

  it('takes PUBLIC_URL without its trailing slash, and says when it is only a guess', () => {
    const set = load({ PUBLIC_URL: 'https://earshot.example.com/audio/' });
    assert.equal(set.publicUrl, 'https://earshot.example.com/audio');
    assert.equal(set.publicUrlConfigured, true);
    const guessed = load({ HOST: '0.0.0.0', PORT: '9000' });
    assert.equal(guessed.publicUrl, 'http://localhost:9000');
    assert.equal(guessed.publicUrlConfigured, false);
    for (const bad of ['ftp://example.com', 'https://user:pw@example.com', 'https://example.com/?a=1', 'not a url']) {
      assert.throws(() => load({ PUBLIC_URL: bad }), ConfigError, bad);
    }
  });

  it('turns metrics on with a METRICS_TOKEN long enough not to be guessed', () => {
    assert.equal(load({}).metricsToken, undefined);
    const token = 'a'.repeat(32);
    assert.equal(load({ METRICS_TOKEN: token }).metricsToken, token);
    for (const bad of ['short', `${'a'.repeat(31)}`, `${'a'.repeat(32)} b`, 'é'.repeat(40)]) {
      assert.throws(() => load({ METRICS_TOKEN: bad }), /METRICS_TOKEN/, bad);
    }
  });

  it('reads LOG_FORMAT: pretty, json or auto (the default)', () => {
    assert.equal(load({}).logFormat, 'auto');
    assert.equal(load({ LOG_FORMAT: 'json' }).logFormat, 'json');
    assert.throws(() => load({ LOG_FORMAT: 'yaml' }), /LOG_FORMAT/);
  });
});
