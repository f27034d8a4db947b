import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config.ts';
import { createBlobStore } from './index.ts';
import { parseStorageConfig } from './storage-config.ts';

const dataDir = '/srv/earshot';
const keys = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };

describe('storage configuration', () => {
  it('defaults to the blobs folder in DATA_DIR, streamed audio and 5-minute URLs', () => {
    assert.deepEqual(parseStorageConfig({}, dataDir), {
      store: { kind: 'local', root: '/srv/earshot/blobs' },
      audioDelivery: 'stream',
      presignedUrlTtlSec: 300,
    });
  });

  it('takes a folder as file:<path>, relative to the working directory', () => {
    assert.deepEqual(parseStorageConfig({ STORAGE_URL: 'file:/mnt/audio' }, dataDir).store, {
      kind: 'local',
      root: '/mnt/audio',
    });
    assert.deepEqual(parseStorageConfig({ STORAGE_URL: 'file:audio' }, dataDir).store, {
      kind: 'local',
      root: path.resolve('audio'),
    });
  });

  it('takes an S3 bucket with a key prefix, an endpoint and the AWS credentials', () => {
    const env = {
      STORAGE_URL: 's3://earshot-audio/prod/eu?endpoint=http://127.0.0.1:7480&region=eu-west-1&force_path_style=true',
      ...keys,
      AWS_SESSION_TOKEN: 'token',
      AUDIO_DELIVERY: 'redirect',
      PRESIGNED_URL_TTL_SECONDS: '60',
      S3_IDLE_TIMEOUT_MS: '12000',
    };
    assert.deepEqual(parseStorageConfig(env, dataDir), {
      store: {
        kind: 's3',
        bucket: 'earshot-audio',
        prefix: 'prod/eu/',
        endpoint: 'http://127.0.0.1:7480',
        region: 'eu-west-1',
        forcePathStyle: true,
        connectTimeoutMs: 5000,
        idleTimeoutMs: 12000,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' },
      },
      audioDelivery: 'redirect',
      presignedUrlTtlSec: 60,
    });
  });

  it('fills in S3 defaults: AWS_REGION, path style only with an endpoint, the SDK credential chain', () => {
    assert.deepEqual(
      parseStorageConfig({ STORAGE_URL: 's3://earshot-audio', AWS_REGION: 'eu-north-1' }, dataDir).store,
      {
        kind: 's3',
        bucket: 'earshot-audio',
        prefix: '',
        region: 'eu-north-1',
        forcePathStyle: false,
        connectTimeoutMs: 5000,
        idleTimeoutMs: 30_000,
      },
    );
    const minio = parseStorageConfig({ STORAGE_URL: 's3://b12/?endpoint=https://s3.internal:9000', ...keys }, dataDir);
    assert.equal(minio.store.kind === 's3' && minio.store.region, 'us-east-1');
    assert.equal(minio.store.kind === 's3' && minio.store.forcePathStyle, true);
    assert.equal(minio.store.kind === 's3' && minio.store.prefix, '');
    const virtualHosts = parseStorageConfig(
      { STORAGE_URL: 's3://b12?endpoint=https://s3.internal&force_path_style=false' },
      dataDir,
    );
    assert.equal(virtualHosts.store.kind === 's3' && virtualHosts.store.forcePathStyle, false);
  });

  it('refuses bad values with a message naming the variable', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ STORAGE_URL: 'http://bucket' }, /^STORAGE_URL must be file:/],
      [{ STORAGE_URL: 'file:' }, /^STORAGE_URL/],
      [{ STORAGE_URL: 's3://' }, /^STORAGE_URL names an invalid bucket/],
      [{ STORAGE_URL: 's3://Earshot_Audio' }, /^STORAGE_URL names an invalid bucket/],
      [{ STORAGE_URL: 's3://ab' }, /^STORAGE_URL names an invalid bucket/],
      [{ STORAGE_URL: 's3://bucket:9000' }, /^STORAGE_URL names an invalid bucket/],
      [{ STORAGE_URL: 's3://key:secret@bucket' }, /^STORAGE_URL must not hold credentials/],
      [{ STORAGE_URL: 's3://bucket/a%2Fb' }, /^STORAGE_URL has an invalid key prefix/],
      [{ STORAGE_URL: 's3://bucket/.hidden' }, /^STORAGE_URL has an invalid key prefix/],
      [{ STORAGE_URL: 's3://bucket?endpoint=ftp://host' }, /^STORAGE_URL endpoint must be http/],
      [{ STORAGE_URL: 's3://bucket?endpoint=http://host/path' }, /^STORAGE_URL endpoint must be http/],
      [{ STORAGE_URL: 's3://bucket?force_path_style=yes' }, /^STORAGE_URL force_path_style must be true or false/],
      [{ STORAGE_URL: 's3://bucket?regoin=eu-west-1' }, /^STORAGE_URL has an unknown parameter "regoin"/],
      [{ STORAGE_URL: 's3://bucket', AWS_ACCESS_KEY_ID: 'AKID' }, /^AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/],
      [{ STORAGE_URL: 's3://bucket', AWS_SESSION_TOKEN: 'token' }, /^AWS_SESSION_TOKEN/],
      [{ AUDIO_DELIVERY: 'presigned' }, /^AUDIO_DELIVERY must be stream or redirect/],
      [{ PRESIGNED_URL_TTL_SECONDS: '0' }, /^PRESIGNED_URL_TTL_SECONDS/],
      [{ PRESIGNED_URL_TTL_SECONDS: '604801' }, /^PRESIGNED_URL_TTL_SECONDS/],
      [{ PRESIGNED_URL_TTL_SECONDS: '5m' }, /^PRESIGNED_URL_TTL_SECONDS/],
    ];
    for (const [env, message] of bad) {
      assert.throws(
        () => parseStorageConfig(env, dataDir),
        (error) => {
          assert.ok(error instanceof ConfigError, `${JSON.stringify(env)} throws a ConfigError`);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });

  it('is part of the loaded configuration, and createBlobStore makes the store it names', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'storage-config-'));
    try {
      const local = loadConfig({ DATA_DIR: dir });
      assert.deepEqual(local.storage.store, { kind: 'local', root: path.join(dir, 'blobs') });
      assert.equal(createBlobStore(local.storage).kind, 'local');

      const cluster = {
        DATA_DIR: dir,
        STORAGE_URL: 's3://earshot-audio?endpoint=http://127.0.0.1:1',
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
        JWT_SECRET: 'a shared secret of at least thirty-two bytes',
        ...keys,
      };
      const s3 = loadConfig(cluster);
      assert.equal(s3.cluster, true);
      // One node's SQLite file or generated secret would split a cluster.
      assert.throws(() => loadConfig({ ...cluster, DATABASE_URL: undefined }), /DATABASE_URL/);
      assert.throws(() => loadConfig({ ...cluster, JWT_SECRET: undefined }), /JWT_SECRET/);
      const store = createBlobStore(s3.storage);
      assert.equal(store.kind, 's3');
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
