import type { BlobStore } from './blob-store.ts';
import { createLocalBlobStore } from './local-blob-store.ts';
import { createS3BlobStore } from './s3-blob-store.ts';
import type { StorageConfig } from './storage-config.ts';

/** The BlobStore that STORAGE_URL names: a local folder (one node) or an S3 bucket (cluster mode). */
export function createBlobStore(config: StorageConfig): BlobStore {
  const { store } = config;
  return store.kind === 'local' ? createLocalBlobStore(store.root) : createS3BlobStore(store);
}
