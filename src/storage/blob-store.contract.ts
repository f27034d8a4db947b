/**
 * The behaviour every BlobStore must have (as tus-node-server runs one suite against every DataStore).
 * Call it from each implementation's test file with a factory for a fresh, empty store.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { BlobStore } from './blob-store.ts';

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function blobStoreContract(name: string, create: () => Promise<{ store: BlobStore; dispose(): Promise<void> }>) {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let dispose: () => Promise<void>;
    let scratch: string;
    const content = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

    const localFile = async (bytes: Buffer) => {
      const file = path.join(scratch, `f-${Math.random().toString(36).slice(2)}`);
      await writeFile(file, bytes);
      return file;
    };

    before(async () => {
      ({ store, dispose } = await create());
      scratch = await mkdtemp(path.join(tmpdir(), 'blob-contract-'));
    });
    after(async () => {
      await dispose();
      await rm(scratch, { recursive: true, force: true });
    });

    it('stores a file under a key, consuming the local file', async () => {
      const file = await localFile(content);
      const info = await store.putFile('recordings/org-1/a.ogg', file);
      assert.equal(info.size, content.length);
      assert.ok(info.etag.length > 2);
      await assert.rejects(writeFile(file, '', { flag: 'r+' }), { code: 'ENOENT' });
      assert.deepEqual(await bytesOf(await store.read('recordings/org-1/a.ogg')), content);
    });

    it('reads inclusive byte ranges', async () => {
      assert.deepEqual(
        await bytesOf(await store.read('recordings/org-1/a.ogg', { start: 10, end: 19 })),
        content.subarray(10, 20),
      );
      assert.deepEqual(
        await bytesOf(await store.read('recordings/org-1/a.ogg', { start: 999, end: 999 })),
        content.subarray(999),
      );
    });

    it('stats: size and an etag that changes with the content', async () => {
      const before = await store.stat('recordings/org-1/a.ogg');
      assert.equal(before?.size, content.length);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.putFile(
        'recordings/org-1/a.ogg',
        await localFile(Buffer.from('different and longer content than before'.repeat(30))),
      );
      const after = await store.stat('recordings/org-1/a.ogg');
      assert.notEqual(after?.etag, before?.etag);
      assert.equal(await store.stat('recordings/org-1/missing.ogg'), undefined);
    });

    it('answers not_found for a missing key and deletes idempotently', async () => {
      await assert.rejects(store.read('recordings/org-1/missing.ogg'), { code: 'not_found' });
      await store.delete('recordings/org-1/a.ogg');
      await store.delete('recordings/org-1/a.ogg');
      assert.equal(await store.stat('recordings/org-1/a.ogg'), undefined);
    });

    it('refuses keys that could escape the store', async () => {
      for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'a/./b', '']) {
        await assert.rejects(async () => store.stat(key), `key ${JSON.stringify(key)}`);
      }
    });
  });
}
