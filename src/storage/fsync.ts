import { open } from 'node:fs/promises';

/**
 * fsync of a folder, so that a file created or renamed in it survives a power cut (the file's own fsync
 * does not cover its directory entry; see fsync(2)).
 */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync of a file by path. */
export async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
