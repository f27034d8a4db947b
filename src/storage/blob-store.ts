import type { Readable } from 'node:stream';

export interface BlobInfo {
  size: number;
  /** Changes whenever the content changes; used for HTTP ETags. */
  etag: string;
}

export interface PutOptions {
  /**
   * Create only: when the key already exists nothing is written and the result says `created: false`
   * (S3 `If-None-Match: *`; a hard link on a local disk). Makes retried writes idempotent.
   */
  ifAbsent?: boolean;
  /** Content-Type stored with the object (S3 only; used when the object is served directly). */
  contentType?: string;
}

export type PutResult = BlobInfo & { created: boolean };

export interface SignedUrlOptions {
  expiresInSec: number;
  /** Content-Disposition the store should answer with (RFC 6266), e.g. `attachment; filename="x.ogg"`. */
  contentDisposition?: string;
  contentType?: string;
}

/**
 * Where recordings live: what clients sent (`inputs/<recording id>/...`) and the finished audio
 * (`recordings/<org>/<id>.ogg`). Keys are server-generated, never built from client input. One
 * interface, as narrow as an object store's, implemented by a local folder (the embedded default) and
 * by S3-compatible storage (cluster mode); both pass the same contract suite (blob-store.contract.ts).
 *
 * Every write is durable and atomic when its promise resolves: readers see the whole object or none of
 * it (a crash or a retry can never leave half an object visible), and a resolved write survives a
 * power cut (fsync of the file and its folder on a local disk; a 200 from S3).
 */
export interface BlobStore {
  /** `local` or `s3`: cluster mode needs a store every node shares. */
  readonly kind: 'local' | 's3';
  /** Stores a finished local file under `key`; the local file is consumed (moved or deleted). */
  putFile(key: string, localPath: string, options?: PutOptions): Promise<PutResult>;
  /** Stores `bytes` under `key` (small objects: segments, chunks). */
  putBytes(key: string, bytes: Uint8Array, options?: PutOptions): Promise<PutResult>;
  /** Reads `key`, optionally a byte range [start, end] inclusive as in HTTP Range (RFC 9110 §14). */
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Copies `key` into a local file (created or truncated); returns its size. */
  download(key: string, localPath: string): Promise<number>;
  stat(key: string): Promise<BlobInfo | undefined>;
  /** Keys under `prefix` (which ends with `/`), sorted by key, with their sizes. */
  list(prefix: string): Promise<{ key: string; size: number }[]>;
  /** Removes `key`; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Removes every key under `prefix` (which ends with `/`). */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A short-lived URL that serves `key` directly (an S3 presigned GET), or undefined when the store
   * cannot give one (a local folder): callers then stream the object themselves.
   */
  signedUrl(key: string, options: SignedUrlOptions): Promise<string | undefined>;
  /** Releases connections (S3 client sockets). */
  close(): Promise<void>;
}
