import type { Readable } from 'node:stream';

export interface BlobInfo {
  size: number;
  /** Changes whenever the content changes; used for HTTP ETags. */
  etag: string;
}

/**
 * Where finished audio lives. Keys are server-generated (`recordings/<org>/<id>.ogg`), never built from
 * client input. The interface is as narrow as an object store's so an S3-compatible implementation can
 * replace the local folder without touching callers.
 */
export interface BlobStore {
  /** Moves a finished local file into the store under `key` (the file is consumed). */
  putFile(key: string, localPath: string): Promise<BlobInfo>;
  /** Reads `key`, optionally a byte range [start, end] inclusive as in HTTP Range (RFC 9110 §14). */
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  stat(key: string): Promise<BlobInfo | undefined>;
  delete(key: string): Promise<void>;
}
