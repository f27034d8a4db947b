import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Local working space for recordings in progress: uploads being received, chunked streams and live raw
 * logs, and transcoder output before it moves to the BlobStore. One folder per recording id; media
 * workers read and write here, so it is always on the local disk whatever the BlobStore is.
 */
export interface Spool {
  dirFor(recordingId: string): Promise<string>;
  /** Path of a named file in a recording's folder (the folder may not exist yet). */
  pathFor(recordingId: string, file: string): string;
  remove(recordingId: string): Promise<void>;
  /** Recording ids that have a folder, with the files in each (for the startup clean-up). */
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
      await mkdir(dir, { recursive: true });
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
