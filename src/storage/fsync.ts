import { open } from 'node:fs/promises';

/**
 * fsync of a file or a folder by path. A folder's fsync is what makes a file created or renamed in it
 * survive a power cut: the file's own fsync does not cover its directory entry (fsync(2)).
 */
export async function syncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
