import { randomBytes } from 'node:crypto';
import { type BigIntStats, constants, createWriteStream, type Dirent } from 'node:fs';
import {
  copyFile,
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BlobInfo, BlobStore, PutResult } from './blob-store.ts';
import { syncPath } from './fsync.ts';
import { checkKey, checkPrefix, checkRange, objectNotFound, rangeNotSatisfiable } from './keys.ts';

const errno = (error: unknown) => (error as NodeJS.ErrnoException).code;

/**
 * A BlobStore in a local folder: one file per key, `a/b.ogg` at `<root>/a/b.ogg`.
 *
 * Writes go to a file in the target's folder whose name starts with a dot (`.tmp-…`: never a valid key, so
 * list/stat/read cannot see it), are fsynced, then renamed into place (atomic on POSIX) or, for create-only
 * writes, hard-linked (link(2) fails with EEXIST rather than replace an existing file); the folder is then
 * fsynced so the new name survives a power cut.
 */
export function createLocalBlobStore(rootPath: string): BlobStore {
  const root = path.resolve(rootPath);
  const fileFor = (key: string) => path.join(root, checkKey(key));

  return {
    kind: 'local',

    async putFile(key, localPath, options = {}) {
      const target = fileFor(key);
      // The caller's file may still sit in the page cache: it must be on disk before its new name is.
      await syncPath(localPath);
      let result: PutResult;
      try {
        result = await place(localPath, target, options.ifAbsent);
      } catch (error) {
        if (errno(error) !== 'EXDEV') throw error;
        // Another file system: copy next to the target first, so that going into place stays atomic.
        const temp = await tempFileIn(path.dirname(target));
        try {
          await copyFile(localPath, temp, constants.COPYFILE_EXCL);
          await syncPath(temp);
          result = await place(temp, target, options.ifAbsent);
        } finally {
          await rm(temp, { force: true });
        }
      }
      // Consumed: renamed away, or linked (created or not), or copied.
      await rm(localPath, { force: true });
      return result;
    },

    async putBytes(key, bytes, options = {}) {
      const target = fileFor(key);
      const temp = await tempFileIn(path.dirname(target));
      try {
        const handle = await open(temp, 'wx');
        try {
          await handle.writeFile(bytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
        return await place(temp, target, options.ifAbsent);
      } finally {
        await rm(temp, { force: true });
      }
    },

    async read(key, range) {
      const file = fileFor(key);
      const bytes = range && checkRange(range);
      const handle = await openObject(file);
      if (!bytes) return handle.createReadStream();
      const { start, end } = bytes;
      if (start >= (await handle.stat()).size) {
        await handle.close();
        throw rangeNotSatisfiable(key, start);
      }
      // The stream reads to the end of the file when `end` lies past it, as S3 does.
      return handle.createReadStream({ start, end });
    },

    async download(key, localPath) {
      // The open handle keeps reading this version even if the key is replaced or deleted meanwhile.
      const handle = await openObject(fileFor(key));
      const out = createWriteStream(localPath);
      await pipeline(handle.createReadStream(), out);
      return out.bytesWritten;
    },

    stat: async (key) => infoOf(fileFor(key)),

    async list(prefix) {
      const found: { key: string; size: number }[] = [];
      await walk(path.join(root, checkPrefix(prefix)), prefix, found);
      // Byte order of the whole key, as S3 lists (keys are ASCII): `a/x` after `a.x`, unlike a tree walk.
      return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async delete(key) {
      const file = fileFor(key);
      try {
        await unlink(file);
      } catch (error) {
        if (errno(error) === 'ENOENT') return;
        throw error;
      }
      await syncPath(path.dirname(file));
    },

    async deletePrefix(prefix) {
      const dir = path.join(root, checkPrefix(prefix));
      await rm(dir, { recursive: true, force: true });
      // Remove the folders this emptied, up to the root, so deleted recordings leave no empty trees behind.
      // A write racing with this recreates its folder (see `place`).
      let parent = path.dirname(dir);
      while (parent.length > root.length) {
        try {
          await rmdir(parent);
        } catch (error) {
          if (errno(error) === 'ENOTEMPTY' || errno(error) === 'EEXIST') break;
          if (errno(error) !== 'ENOENT') throw error;
        }
        parent = path.dirname(parent);
      }
      await syncPath(parent).catch((error) => {
        if (errno(error) !== 'ENOENT') throw error;
      });
    },

    // A folder has no URL of its own: callers stream the object (the key is still checked, as S3 does).
    async signedUrl(key) {
      fileFor(key);
      return undefined;
    },

    close: async () => {},
  };
}

/**
 * Gives `source` (fsynced, on the target's file system) the name `target`. Create-only writes hard-link
 * instead of renaming, so an existing object is never replaced; the caller removes the source.
 */
async function place(source: string, target: string, ifAbsent = false): Promise<PutResult> {
  const dir = path.dirname(target);
  // Renaming and linking keep the inode, size and mtime, so the etag is known before the name exists.
  const info = toInfo(await stat(source, { bigint: true }));
  for (let attempt = 1; ; attempt++) {
    await makeDir(dir);
    try {
      if (ifAbsent) await link(source, target);
      else await rename(source, target);
      break;
    } catch (error) {
      if (ifAbsent && errno(error) === 'EEXIST') {
        const existing = await infoOf(target);
        if (existing) return { ...existing, created: false };
        // Deleted since link(2) failed: try to create it again.
      } else if (errno(error) !== 'ENOENT') {
        throw error;
      }
      // ENOENT: deletePrefix removed the (then empty) folder between makeDir and now.
      if (attempt === 3) throw error;
    }
  }
  await syncPath(dir);
  return { ...info, created: true };
}

async function tempFileIn(dir: string): Promise<string> {
  await makeDir(dir);
  return path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
}

/** mkdir -p that also fsyncs the parent of each folder it creates, so new folders survive a power cut. */
async function makeDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (!first) return;
  const parents: string[] = [];
  for (let current = dir; current !== path.dirname(first); ) {
    current = path.dirname(current);
    parents.push(current);
  }
  await Promise.all(parents.map(syncPath));
}

// The inode changes whenever a new file goes into place; the nanosecond mtime tells apart a reused inode.
function toInfo(stats: BigIntStats): BlobInfo {
  return {
    size: Number(stats.size),
    etag: `"${[stats.size, stats.ino, stats.mtimeNs].map((n) => n.toString(16)).join('-')}"`,
  };
}

async function infoOf(file: string): Promise<BlobInfo | undefined> {
  try {
    const stats = await stat(file, { bigint: true });
    return stats.isFile() ? toInfo(stats) : undefined;
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

async function openObject(file: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') throw objectNotFound();
    throw error;
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw objectNotFound();
  }
  return handle;
}

async function walk(dir: string, keyPrefix: string, found: { key: string; size: number }[]): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return;
    throw error;
  }
  await Promise.all(
    entries.map(async (entry) => {
      // Dot names are writes still in progress (or left by a crash), never objects.
      if (entry.name.startsWith('.')) return;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return walk(full, `${keyPrefix}${entry.name}/`, found);
      const info = entry.isFile() ? await infoOf(full) : undefined;
      if (info) found.push({ key: keyPrefix + entry.name, size: info.size });
    }),
  );
}
