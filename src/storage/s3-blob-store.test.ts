/**
 * The BlobStore contract against a real S3 server: the radosgw that scripts/s3-server.sh runs, whose
 * settings scripts/test.ts passes as EARSHOT_TEST_S3_STORAGE_URL, EARSHOT_TEST_S3_AWS_ACCESS_KEY_ID, …
 * Each run works under its own key prefix in the test bucket and deletes it afterwards.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { blobStoreContract, bytesOf, LARGE, pattern } from './blob-store.contract.ts';
import { createS3BlobStore, type S3StoreConfig } from './s3-blob-store.ts';
import { parseStorageConfig } from './storage-config.ts';

const MiB = 1024 * 1024;
const ENV_PREFIX = 'EARSHOT_TEST_S3_';
const settings = Object.fromEntries(
  Object.entries(process.env)
    .filter(([name]) => name.startsWith(ENV_PREFIX))
    .map(([name, value]) => [name.slice(ENV_PREFIX.length), value]),
);
const skip =
  process.env.EARSHOT_TEST_S3 === 'off'
    ? 'EARSHOT_TEST_S3=off'
    : settings.STORAGE_URL
      ? false
      : `no S3 server: \`npm test\` starts one with scripts/s3-server.sh and passes ${ENV_PREFIX}* settings`;

if (skip) {
  it('S3 BlobStore against radosgw', { skip });
} else {
  const { store: parsed } = parseStorageConfig(settings, tmpdir());
  assert.equal(parsed.kind, 's3', `${ENV_PREFIX}STORAGE_URL must be an s3:// URL`);
  const { kind: _kind, ...base } = parsed;
  const runPrefix = `test-${randomBytes(6).toString('hex')}/`;
  // Small parts and pages so the tests exercise multipart uploads, list pagination and batched deletes.
  const tuning = { partSize: 5 * MiB, batchSize: 2 };
  const storeAt = (prefix: string, overrides: Partial<S3StoreConfig> = {}) =>
    createS3BlobStore({ ...base, ...overrides, prefix: runPrefix + prefix }, tuning);

  after(async () => {
    const bucket = createS3BlobStore({ ...base, prefix: '' });
    await bucket.deletePrefix(runPrefix);
    assert.deepEqual(await bucket.list(runPrefix), []);
    await bucket.close();
  });

  let contractRuns = 0;
  blobStoreContract('S3 (radosgw)', { kind: 's3' }, async () => {
    const store = storeAt(`contract-${++contractRuns}/`);
    return { store, dispose: () => store.close() };
  });

  describe('S3 store', () => {
    let scratch: string;
    const store = storeAt('s3/');
    const localFile = async (bytes: Buffer) => {
      const file = path.join(scratch, `f-${randomBytes(4).toString('hex')}`);
      await writeFile(file, bytes);
      return file;
    };
    before(async () => {
      scratch = await mkdtemp(path.join(tmpdir(), 's3-store-'));
    });
    after(async () => {
      await store.close();
      await rm(scratch, { recursive: true, force: true });
    });

    it('puts small files in one request and large ones in parts', async () => {
      const small = pattern(5 * MiB);
      const one = await store.putFile('parts/small.bin', await localFile(small));
      // A single PUT's ETag is the MD5 of the bytes the server stored.
      assert.equal(one.etag, `"${createHash('md5').update(small).digest('hex')}"`);
      // A multipart object's ETag ends with its part count: 11 MiB in 5 MiB parts is three.
      const three = await store.putFile('parts/large.bin', await localFile(pattern(LARGE)));
      assert.match(three.etag, /-3"$/);
      assert.ok((await bytesOf(await store.read('parts/large.bin'))).equals(pattern(LARGE)));
    });

    it('aborts a failed multipart upload: no object, no parts left, the local file kept', async () => {
      const proxy = await faultyProxy(new URL(base.endpoint!), (request) =>
        /[?&]partNumber=2(&|$)/.test(request.url ?? ''),
      );
      const failing = storeAt('s3/', { endpoint: proxy.endpoint });
      try {
        const file = await localFile(pattern(LARGE, 5));
        await assert.rejects(failing.putFile('broken/a.bin', file), /injected/);
        assert.ok(proxy.failures() > 0, 'the proxy failed part 2');
        assert.equal((await stat(file)).size, LARGE, 'the local file is kept for a retry');
        assert.deepEqual(await store.list('broken/'), []);
        assert.equal(await store.stat('broken/a.bin'), undefined);

        const client = rawClient();
        const uploads = await client.send(
          new ListMultipartUploadsCommand({ Bucket: base.bucket, Prefix: `${runPrefix}s3/broken/` }),
        );
        client.destroy();
        assert.deepEqual(uploads.Uploads ?? [], [], 'the multipart upload was aborted');
      } finally {
        await failing.close();
        await proxy.close();
      }
    });

    it('keeps each store inside its key prefix', async () => {
      const one = storeAt('tenant-1/');
      const two = storeAt('tenant-2/');
      try {
        await one.putBytes('shared/a.bin', Buffer.from('one'));
        assert.deepEqual(await two.list('shared/'), []);
        assert.equal(await two.stat('shared/a.bin'), undefined);
        await two.deletePrefix('shared/');
        assert.deepEqual(await bytesOf(await one.read('shared/a.bin')), Buffer.from('one'));
        const bucket = createS3BlobStore({ ...base, prefix: '' });
        assert.deepEqual(await bucket.list(`${runPrefix}tenant-1/`), [
          { key: `${runPrefix}tenant-1/shared/a.bin`, size: 3 },
        ]);
        await bucket.close();
      } finally {
        await one.close();
        await two.close();
      }
    });

    it('is refused with a wrong secret key (the server checks signatures)', async () => {
      const credentials = { ...base.credentials!, secretAccessKey: 'not-the-secret-key' };
      const impostor = storeAt('s3/', { credentials });
      try {
        await assert.rejects(impostor.stat('parts/small.bin'), (error: { $metadata?: { httpStatusCode?: number } }) => {
          assert.equal(error.$metadata?.httpStatusCode, 403);
          return true;
        });
        await assert.rejects(impostor.putBytes('impostor.bin', Buffer.from('x')), { name: 'SignatureDoesNotMatch' });
        assert.equal(await store.stat('impostor.bin'), undefined);
      } finally {
        await impostor.close();
      }
    });

    it('reports a missing bucket as an error, not as a missing object', async () => {
      const lost = storeAt('s3/', { bucket: 'earshot-no-such-bucket' });
      try {
        await assert.rejects(lost.read('parts/small.bin'), { name: 'NoSuchBucket' });
        await assert.rejects(lost.list('parts/'), { name: 'NoSuchBucket' });
      } finally {
        await lost.close();
      }
    });
  });

  function rawClient(): S3Client {
    return new S3Client({
      region: base.region,
      endpoint: base.endpoint!,
      forcePathStyle: base.forcePathStyle,
      credentials: base.credentials!,
    });
  }
}

/**
 * A pass-through HTTP proxy in front of radosgw that answers 500 to the requests `fail` picks: a real server
 * failing a part mid-upload. The Host header passes unchanged, so the signatures still verify.
 */
async function faultyProxy(target: URL, fail: (request: http.IncomingMessage) => boolean) {
  let failures = 0;
  const server = http.createServer((request, response) => {
    if (fail(request)) {
      failures++;
      request.resume();
      request.on('end', () => {
        response.writeHead(500, { 'content-type': 'application/xml' });
        response.end('<Error><Code>InternalError</Code><Message>injected by the test</Message></Error>');
      });
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', (error) => response.destroy(error));
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failures: () => failures,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('S3 BlobStore against a server that stops answering', () => {
  it('fails the request after the idle timeout instead of waiting forever', async () => {
    // Accepts connections and reads requests, never answers: a frozen object store.
    const server = http.createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const store = createS3BlobStore({
      bucket: 'frozen',
      prefix: '',
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      connectTimeoutMs: 1000,
      idleTimeoutMs: 300,
    });
    try {
      await assert.rejects(store.putBytes('inputs/r/live/0-1', Buffer.from('x'), { ifAbsent: true }));
      await assert.rejects(store.list('inputs/r/'));
    } finally {
      await store.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
