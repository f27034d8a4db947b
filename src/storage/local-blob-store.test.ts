import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { blobStoreContract } from './blob-store.contract.ts';
import { createLocalBlobStore } from './local-blob-store.ts';

const freshStore = async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'blobs-'));
  return { store: createLocalBlobStore(root), root, dispose: () => rm(root, { recursive: true, force: true }) };
};

blobStoreContract('local folder', { kind: 'local' }, freshStore);

// putFile from another file system cannot rename: it copies next to the target, then renames or links.
const otherFs = '/dev/shm';
const sameDevice = async () => (await stat(otherFs).catch(() => undefined))?.dev === (await stat(tmpdir())).dev;
if (await sameDevice()) {
  it('local folder: putFile from another file system', { skip: `${otherFs} is missing or on the same file system` });
} else {
  blobStoreContract(
    'local folder, files from another file system',
    { kind: 'local', scratchParent: otherFs },
    freshStore,
  );
}

describe('local folder store', () => {
  let root: string;
  let dispose: () => Promise<void>;
  let store: ReturnType<typeof createLocalBlobStore>;
  before(async () => {
    ({ store, root, dispose } = await freshStore());
  });
  after(() => dispose());

  it('keeps one file per key under its root', async () => {
    await store.putBytes('recordings/org-1/a.ogg', Buffer.from('ogg'));
    assert.equal((await stat(path.join(root, 'recordings/org-1/a.ogg'))).size, 3);
  });

  it('never shows the temporary files of unfinished or crashed writes', async () => {
    // What a write interrupted by a crash leaves behind: a dot file next to where the object would go.
    await mkdir(path.join(root, 'inputs/r1'), { recursive: true });
    await writeFile(path.join(root, 'inputs/r1/.tmp-0123456789abcdef'), 'half an object');
    await store.putBytes('inputs/r1/0001', Buffer.from('chunk'));
    assert.deepEqual(await store.list('inputs/'), [{ key: 'inputs/r1/0001', size: 5 }]);
    await assert.rejects(store.stat('inputs/r1/.tmp-0123456789abcdef'), { code: 'internal' });
  });

  it('leaves no temporary file behind after a write, created or not', async () => {
    await store.putBytes('tidy/a', Buffer.from('a'));
    await store.putBytes('tidy/a', Buffer.from('b'), { ifAbsent: true });
    await store.putBytes('tidy/a', Buffer.from('c'));
    assert.deepEqual(await readdir(path.join(root, 'tidy')), ['a']);
  });

  it('removes the folders deletePrefix empties, and no others', async () => {
    await store.putBytes('inputs/r2/0001', Buffer.from('x'));
    await store.putBytes('inputs/r2/sub/0002', Buffer.from('x'));
    await store.deletePrefix('inputs/r2/');
    assert.deepEqual((await readdir(path.join(root, 'inputs'))).sort(), ['r1']);
    await store.deletePrefix('inputs/r1/');
    assert.equal(
      await stat(path.join(root, 'inputs')).then(
        () => 'exists',
        () => 'gone',
      ),
      'gone',
    );
    assert.ok((await readdir(root)).includes('recordings'));
  });
});
