import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { blobStoreContract } from './blob-store.contract.ts';
import { createLocalBlobStore } from './local-blob-store.ts';

blobStoreContract('local folder', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'blobs-'));
  return { store: createLocalBlobStore(root), dispose: () => rm(root, { recursive: true, force: true }) };
});
