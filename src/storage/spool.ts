import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { syncPath } from './fsync.ts';

/**
 * A node's local working space: requests being received, live raw logs, and processing scratch files
 * (staged inputs, transcoder output before it goes to the BlobStore). One folder per recording id (or
 * per incoming request); media workers read and write here, so it is always on the node's own disk
 * whatever the BlobStore is. Nothing here is needed by another node.
 */
export interface Spool {
  dirFor(recordingId: string): Promise<string>;
  /** Path of a named file in a recording's folder (the folder may not exist yet). */
  pathFor(recordingId: string, file: string): string;
  remove(recordingId: string): Promise<void>;
  /** Folders in the spool, with the files in each (for the start-up sweep). */
  list(): Promise<{ recordingId: string; files: string[] }[]>;
}

const ID = /^[a-z0-9-]+$/i;

export function createSpool(root: string): Spool {
  const folder = (recordingId: string) => {
    if (!ID.test(recordingId)) throw new Error(`invalid recording id for spool: ${recordingId}`);
    return path.join(root, recordingId);
  };
  return {
    async dirFor(recordingId) {
      const dir = folder(recordingId);
      // A new folder's entry in the spool must survive a power cut before a live raw log inside it
      // acknowledges anything: fsync the spool folder when this call made it.
      if ((await mkdir(dir, { recursive: true })) !== undefined) await syncPath(path.dirname(dir));
      return dir;
    },
    pathFor: (recordingId, file) => path.join(folder(recordingId), path.basename(file)),
    remove: (recordingId) => rm(folder(recordingId), { recursive: true, force: true }),
    async list() {
      const entries = await readdir(root, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [];
        throw error;
      });
      const folders = entries.filter((entry) => entry.isDirectory() && ID.test(entry.name));
      return Promise.all(
        folders.map(async (entry) => ({
          recordingId: entry.name,
          files: await readdir(path.join(root, entry.name)).catch(() => [] as string[]),
        })),
      );
    },
  };
}
