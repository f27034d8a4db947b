/**
 * The behaviour every BlobStore must have (as tus-node-server runs one suite against every DataStore).
 * Call it from each implementation's test file with a factory for a fresh, empty store.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { BlobStore, PutResult } from './blob-store.ts';

export async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Bytes that differ with `seed`, so a mix of two objects or a shifted copy never compares equal. */
export function pattern(length: number, seed = 0): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) % 251;
  return bytes;
}

const MiB = 1024 * 1024;
/** Over two 5 MiB parts: an S3 store with 5 MiB parts uploads it in three. */
export const LARGE = 11 * MiB;

export interface ContractOptions {
  kind: BlobStore['kind'];
  /** Where the local files handed to putFile are made (default: the OS temp folder). */
  scratchParent?: string;
}

export function blobStoreContract(
  name: string,
  options: ContractOptions,
  create: () => Promise<{ store: BlobStore; dispose(): Promise<void> }>,
) {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let dispose: () => Promise<void>;
    let scratch: string;
    const content = pattern(1000);

    const localFile = async (bytes: Buffer) => {
      const file = path.join(scratch, `f-${Math.random().toString(36).slice(2)}`);
      await writeFile(file, bytes);
      return file;
    };
    const exists = (file: string) =>
      stat(file).then(
        () => true,
        () => false,
      );
    const readAll = async (key: string) => bytesOf(await store.read(key));

    before(async () => {
      ({ store, dispose } = await create());
      scratch = await mkdtemp(path.join(options.scratchParent ?? tmpdir(), 'blob-contract-'));
    });
    after(async () => {
      await dispose();
      await rm(scratch, { recursive: true, force: true });
    });

    it('says which kind of store it is', () => {
      assert.equal(store.kind, options.kind);
    });

    it('stores a file under a key, consuming the local file', async () => {
      const file = await localFile(content);
      const put = await store.putFile('recordings/org-1/a.ogg', file);
      assert.equal(put.size, content.length);
      assert.equal(put.created, true);
      assert.ok(put.etag.length > 2);
      assert.equal(await exists(file), false);
      assert.deepEqual(await store.stat('recordings/org-1/a.ogg'), { size: put.size, etag: put.etag });
      assert.deepEqual(await readAll('recordings/org-1/a.ogg'), content);
    });

    it('stores bytes, including an empty object', async () => {
      const put = await store.putBytes('bytes/a.bin', content);
      assert.equal(put.size, content.length);
      assert.equal(put.created, true);
      assert.deepEqual(await store.stat('bytes/a.bin'), { size: put.size, etag: put.etag });
      assert.deepEqual(await readAll('bytes/a.bin'), content);

      const empty = await store.putBytes('bytes/empty', new Uint8Array(0));
      assert.equal(empty.size, 0);
      assert.equal((await store.stat('bytes/empty'))?.size, 0);
      assert.equal((await readAll('bytes/empty')).length, 0);
    });

    it('reads inclusive byte ranges up to the edges, and refuses one that starts past the end', async () => {
      await store.putBytes('ranges/a.bin', content);
      const range = async (start: number, end: number) => bytesOf(await store.read('ranges/a.bin', { start, end }));
      assert.deepEqual(await range(0, 0), content.subarray(0, 1));
      assert.deepEqual(await range(10, 19), content.subarray(10, 20));
      assert.deepEqual(await range(999, 999), content.subarray(999));
      assert.deepEqual(await range(0, 999), content);
      // As in HTTP, an end past the last byte means "to the end".
      assert.deepEqual(await range(990, 5000), content.subarray(990));
      await assert.rejects(store.read('ranges/a.bin', { start: 1000, end: 1000 }), { code: 'internal' });
      await assert.rejects(store.read('ranges/a.bin', { start: 20, end: 10 }), { code: 'internal' });
      await assert.rejects(store.read('ranges/missing.bin', { start: 0, end: 10 }), { code: 'not_found' });
    });

    it('stats: size and an etag that changes with the content, even at the same size', async () => {
      const first = await store.putBytes('etag/a.bin', content);
      const second = await store.putBytes('etag/a.bin', pattern(content.length, 1));
      assert.notEqual(second.etag, first.etag);
      assert.deepEqual(await store.stat('etag/a.bin'), { size: content.length, etag: second.etag });
      const third = await store.putFile('etag/a.bin', await localFile(pattern(content.length, 2)));
      assert.notEqual(third.etag, second.etag);
      assert.deepEqual(await store.stat('etag/a.bin'), { size: content.length, etag: third.etag });
      assert.deepEqual(await readAll('etag/a.bin'), pattern(content.length, 2));
      assert.equal(await store.stat('etag/missing.bin'), undefined);
    });

    it('answers not_found for a missing key and deletes idempotently', async () => {
      await store.putBytes('gone/a.bin', content);
      await store.delete('gone/a.bin');
      await store.delete('gone/a.bin');
      assert.equal(await store.stat('gone/a.bin'), undefined);
      await assert.rejects(store.read('gone/a.bin'), { code: 'not_found' });
      const target = path.join(scratch, 'not-downloaded');
      await assert.rejects(store.download('gone/a.bin', target), { code: 'not_found' });
      assert.equal(await exists(target), false);
    });

    it('downloads into a local file, replacing what the file held', async () => {
      await store.putBytes('download/a.bin', content);
      const target = await localFile(pattern(5000, 3));
      assert.equal(await store.download('download/a.bin', target), content.length);
      assert.deepEqual(await readFile(target), content);
    });

    it('lists the keys under a prefix, at any depth, in byte order, with their sizes', async () => {
      for (const [key, size] of [
        ['list/b', 1],
        ['list/a/z', 2],
        ['list/a.x', 3],
        ['list/c/d/e', 4],
        ['list/a-1', 5],
        ['listed/q', 6],
        ['other/list/x', 7],
      ] as const) {
        await store.putBytes(key, pattern(size));
      }
      assert.deepEqual(await store.list('list/'), [
        { key: 'list/a-1', size: 5 },
        { key: 'list/a.x', size: 3 },
        { key: 'list/a/z', size: 2 },
        { key: 'list/b', size: 1 },
        { key: 'list/c/d/e', size: 4 },
      ]);
      assert.deepEqual(await store.list('list/a/'), [{ key: 'list/a/z', size: 2 }]);
      assert.deepEqual(await store.list('nothing/here/'), []);
    });

    it('deletes every key under a prefix and nothing else', async () => {
      for (const key of ['doomed/a', 'doomed/b/c', 'doomed/b/d/e', 'doomed-not/a', 'kept/doomed/a']) {
        await store.putBytes(key, content);
      }
      await store.deletePrefix('doomed/');
      assert.deepEqual(await store.list('doomed/'), []);
      assert.equal(await store.stat('doomed/b/d/e'), undefined);
      assert.deepEqual(
        (await store.list('doomed-not/')).map((entry) => entry.key),
        ['doomed-not/a'],
      );
      assert.deepEqual(
        (await store.list('kept/')).map((entry) => entry.key),
        ['kept/doomed/a'],
      );
      await store.deletePrefix('doomed/');
      // A key can go back under a deleted prefix.
      await store.putBytes('doomed/b/c', content);
      assert.deepEqual(await readAll('doomed/b/c'), content);
    });

    it('creates only when absent: a retried create keeps the first object', async () => {
      const first = await store.putBytes('once/a.bin', content, { ifAbsent: true });
      assert.equal(first.created, true);

      const again = await store.putBytes('once/a.bin', pattern(2000, 1), { ifAbsent: true });
      assert.deepEqual(again, { size: first.size, etag: first.etag, created: false });

      const file = await localFile(pattern(3000, 2));
      const fromFile = await store.putFile('once/a.bin', file, { ifAbsent: true });
      assert.deepEqual(fromFile, { size: first.size, etag: first.etag, created: false });
      assert.equal(await exists(file), false, 'the local file is consumed either way');
      assert.deepEqual(await readAll('once/a.bin'), content);

      const created = await store.putFile('once/b.bin', await localFile(content), { ifAbsent: true });
      assert.equal(created.created, true);
      assert.deepEqual(await store.stat('once/b.bin'), { size: created.size, etag: created.etag });
    });

    const exactlyOneWins = async (key: string, bodies: Buffer[], results: PutResult[]) => {
      const winners = results.flatMap((result, i) => (result.created ? [i] : []));
      assert.equal(winners.length, 1, `one create-only write wins, got ${winners.length}`);
      const winner = results[winners[0]!]!;
      for (const result of results) assert.deepEqual({ ...result, created: winner.created }, winner);
      assert.ok((await readAll(key)).equals(bodies[winners[0]!]!), 'the stored object is the winner');
    };

    it('lets exactly one of many concurrent create-only writes win', async () => {
      const small = Array.from({ length: 8 }, (_, i) => pattern(1000 + i, i));
      await exactlyOneWins(
        'race/small.bin',
        small,
        await Promise.all(small.map((body) => store.putBytes('race/small.bin', body, { ifAbsent: true }))),
      );
      const large = Array.from({ length: 3 }, (_, i) => pattern(LARGE + i, i));
      const files = await Promise.all(large.map(localFile));
      await exactlyOneWins(
        'race/large.bin',
        large,
        await Promise.all(files.map((file) => store.putFile('race/large.bin', file, { ifAbsent: true }))),
      );
    });

    it('never lets a reader see part of an object while it is written or replaced', async () => {
      const key = 'atomic/a.bin';
      const old = pattern(3 * MiB, 1);
      await store.putBytes(key, old);
      const writes = [
        { body: pattern(LARGE, 2), put: async (body: Buffer) => store.putFile(key, await localFile(body)) },
        { body: pattern(2 * MiB, 3), put: (body: Buffer) => store.putBytes(key, body) },
      ];
      let previous = old;
      for (const { body, put } of writes) {
        let done = false;
        const writing = put(body).finally(() => {
          done = true;
        });
        do {
          const seen = await readAll(key);
          assert.ok(seen.equals(previous) || seen.equals(body), `a read saw ${seen.length} bytes of neither object`);
          const listed = await store.list('atomic/');
          assert.deepEqual(
            listed.map((entry) => entry.key),
            [key],
            'only the object is listed',
          );
          assert.ok([previous.length, body.length].includes(listed[0]!.size));
        } while (!done);
        await writing;
        assert.ok((await readAll(key)).equals(body));
        previous = body;
      }
    });

    it('stores a large file whole', async () => {
      const body = pattern(LARGE, 4);
      const file = await localFile(body);
      const put = await store.putFile('large/a.bin', file);
      assert.equal(put.size, LARGE);
      assert.equal(await exists(file), false);
      assert.deepEqual(await store.stat('large/a.bin'), { size: LARGE, etag: put.etag });
      const target = path.join(scratch, 'large-download');
      assert.equal(await store.download('large/a.bin', target), LARGE);
      assert.ok((await readFile(target)).equals(body));
      assert.ok(
        (await bytesOf(await store.read('large/a.bin', { start: LARGE - 10, end: LARGE - 1 }))).equals(
          body.subarray(-10),
        ),
      );
    });

    it('stores nothing when a put fails', async () => {
      await assert.rejects(store.putFile('failed/a.bin', path.join(scratch, 'no-such-file')), { code: 'ENOENT' });
      assert.deepEqual(await store.list('failed/'), []);
      assert.equal(await store.stat('failed/a.bin'), undefined);
    });

    it(`gives ${options.kind === 's3' ? 'a short-lived URL that serves the object' : 'no signed URL'}`, async () => {
      await store.putBytes('signed/a.ogg', content, { contentType: 'audio/ogg' });
      const disposition = 'attachment; filename="meeting.ogg"';
      const url = await store.signedUrl('signed/a.ogg', {
        expiresInSec: 60,
        contentDisposition: disposition,
        contentType: 'audio/ogg; codecs=opus',
      });
      if (options.kind === 'local') {
        assert.equal(url, undefined);
        return;
      }
      assert.ok(url);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-disposition'), disposition);
      assert.equal(response.headers.get('content-type'), 'audio/ogg; codecs=opus');
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), content);

      // Without overrides the object is served with the Content-Type it was stored with.
      const plain = await fetch((await store.signedUrl('signed/a.ogg', { expiresInSec: 60 }))!);
      assert.equal(plain.headers.get('content-type'), 'audio/ogg');
      await plain.arrayBuffer();
      // The signature covers the response headers: a URL edited to ask for others is refused.
      const edited = await fetch(url.replace('meeting.ogg', 'other.ogg'));
      assert.equal(edited.status, 403);
      await edited.arrayBuffer();
    });

    it('refuses keys and prefixes that could escape the store', async () => {
      for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'a/./b', '.tmp-x', 'a/.tmp-x', 'a/', '']) {
        const label = `key ${JSON.stringify(key)}`;
        await assert.rejects(store.stat(key), { code: 'internal' }, label);
        await assert.rejects(store.read(key), { code: 'internal' }, label);
        await assert.rejects(store.putBytes(key, content), { code: 'internal' }, label);
        await assert.rejects(store.delete(key), { code: 'internal' }, label);
        await assert.rejects(store.signedUrl(key, { expiresInSec: 60 }), { code: 'internal' }, label);
      }
      for (const prefix of ['', '/', 'a', '../', 'a/../', '.tmp-x/']) {
        const label = `prefix ${JSON.stringify(prefix)}`;
        await assert.rejects(store.list(prefix), { code: 'internal' }, label);
        await assert.rejects(store.deletePrefix(prefix), { code: 'internal' }, label);
      }
    });
  });
}
