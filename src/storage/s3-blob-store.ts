import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { BlobInfo, BlobStore, PutOptions, PutResult } from './blob-store.ts';
import { checkKey, checkPrefix, checkRange, objectNotFound, rangeNotSatisfiable } from './keys.ts';

export interface S3StoreConfig {
  bucket: string;
  /** Prepended to every key inside the bucket: empty, or ending with `/` (`earshot/`). */
  prefix: string;
  /** For S3-compatible servers (Ceph radosgw, MinIO); AWS when absent. */
  endpoint?: string;
  region: string;
  /** `https://host/bucket/key` rather than `https://bucket.host/key`: most self-hosted servers need it. */
  forcePathStyle: boolean;
  /** Explicit keys; absent: the SDK's default chain (instance or container role, shared config files). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Longest wait to connect to the server. */
  connectTimeoutMs: number;
  /**
   * Longest silence on a request's connection: a server that stops answering fails the request instead
   * of holding it (and whatever waits for it, such as a live recording's commits) forever, while a long
   * transfer that keeps moving is never cut.
   */
  idleTimeoutMs: number;
}

export interface S3StoreTuning {
  /** Files larger than this go up as a multipart upload in parts of this size (S3's minimum is 5 MiB). */
  partSize?: number;
  /** Keys per ListObjectsV2 page and per DeleteObjects request (S3 allows at most 1000). */
  batchSize?: number;
}

const MiB = 1024 * 1024;

/**
 * A BlobStore on an S3-compatible bucket: what cluster mode needs, since every node sees the same objects.
 * S3 itself makes each PUT atomic (readers see the old object or the new one, never a part) and durable
 * when it answers 200.
 */
export function createS3BlobStore(config: S3StoreConfig, tuning: S3StoreTuning = {}): BlobStore {
  const { bucket, prefix } = config;
  const partSize = tuning.partSize ?? 16 * MiB;
  const batchSize = tuning.batchSize ?? 1000;
  const client = new S3Client({
    // Time limits of our own: `socketTimeout` is the handler's limit on inactivity (its `requestTimeout`
    // only logs a warning unless told to throw, and would cut long transfers that are still moving).
    requestHandler: new NodeHttpHandler({
      connectionTimeout: config.connectTimeoutMs,
      socketTimeout: config.idleTimeoutMs,
    }),
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    // SDK releases since early 2025 default to WHEN_SUPPORTED, which sends a CRC32 with every upload and
    // streams file bodies with aws-chunked encoding and a trailing checksum; radosgw 16 answers those with
    // 411 MissingContentLength (checked against 16.2.15, see scripts/s3-server.sh). WHEN_REQUIRED adds
    // checksums only where S3 demands one (DeleteObjects). Buffered bodies (putBytes, small files, multipart
    // parts) still carry the SigV4 payload hash, which the server checks.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The SDK logs nothing by default, except a console warning for every failed streamed PUT, such as the
    // expected 412 of a create-only write that lost a race. Every failure reaches the caller as an error.
    logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  const objectKey = (key: string) => prefix + checkKey(key);

  const head = async (key: string): Promise<BlobInfo | undefined> => {
    try {
      const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      return { size: out.ContentLength ?? 0, etag: out.ETag ?? '' };
    } catch (error) {
      // HEAD has no body, so a missing key is only a 404 named NotFound.
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  };

  /** One PutObject; `body` is called again when a create-only write races with a delete. */
  const putObject = async (
    key: string,
    body: () => Uint8Array | Readable,
    size: number,
    options: PutOptions,
  ): Promise<PutResult> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: objectKey(key),
            Body: body(),
            ContentLength: size,
            ContentType: options.contentType,
            // Create only: the server refuses (412) when the key exists, atomically.
            IfNoneMatch: options.ifAbsent ? '*' : undefined,
          }),
        );
        return { size, etag: out.ETag ?? '', created: true };
      } catch (error) {
        // 409 ConditionalRequestConflict: another conditional write to the key was in flight (AWS).
        if (!options.ifAbsent || (statusOf(error) !== 412 && statusOf(error) !== 409)) throw error;
        const existing = await head(key);
        if (existing) return { ...existing, created: false };
        // The object that won is gone again (deleted, or its write failed): try to create ours.
        if (attempt === 3) throw error;
      }
    }
  };

  const putMultipart = async (key: string, localPath: string, size: number, options: PutOptions) => {
    // Parts are read into memory (queueSize × partSize at most) and uploaded four at a time. On any failure
    // Upload aborts the multipart upload, which deletes the parts already stored: no half object is ever
    // visible, since S3 shows the object only once CompleteMultipartUpload succeeds.
    const upload = new Upload({
      client,
      partSize,
      queueSize: 4,
      leavePartsOnError: false,
      params: {
        Bucket: bucket,
        Key: objectKey(key),
        Body: createReadStream(localPath),
        // Upload checks that it sent this many parts, so a file that shrank under it fails instead.
        ContentLength: size,
        ContentType: options.contentType,
      },
    });
    await upload.done();
    // radosgw 16 leaves the ETag out of its CompleteMultipartUpload answer: ask for it.
    const info = await head(key);
    if (!info) throw new Error(`S3 object ${objectKey(key)} vanished right after its multipart upload`);
    return { ...info, created: true };
  };

  const getObject = async (key: string, range?: { start: number; end: number }) => {
    try {
      const out = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: objectKey(key),
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      return out.Body as Readable;
    } catch (error) {
      // Only a missing key is "not found"; a missing bucket (NoSuchBucket) is a configuration error.
      if (error instanceof NoSuchKey) throw objectNotFound();
      if (range && statusOf(error) === 416) throw rangeNotSatisfiable(key, range.start);
      throw error;
    }
  };

  /** Calls `each` with every page of keys (full object keys) under `fullPrefix`. */
  const forEachPage = async (fullPrefix: string, each: (objects: { Key: string; Size: number }[]) => Promise<void>) => {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: fullPrefix, MaxKeys: batchSize, ContinuationToken: token }),
      );
      await each((page.Contents ?? []).map((object) => ({ Key: object.Key ?? '', Size: object.Size ?? 0 })));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  };

  return {
    kind: 's3',

    async putFile(key, localPath, options = {}) {
      objectKey(key); // refuses a bad key before the file is read
      const { size } = await stat(localPath);
      let result: PutResult;
      if (size <= partSize) {
        // Small enough to hold: a buffered body is signed (payload hash) and the SDK can retry it.
        const bytes = await readFile(localPath);
        result = await putObject(key, () => bytes, size, options);
      } else if (options.ifAbsent) {
        // radosgw 16 ignores If-None-Match on CompleteMultipartUpload (checked against 16.2.15) and would
        // replace the object, so create-only writes stream as one PutObject, which S3 caps at 5 GiB.
        result = await putObject(key, () => createReadStream(localPath), size, options);
      } else {
        result = await putMultipart(key, localPath, size, options);
      }
      // Consumed only once stored: after a failure the caller still has the file to retry with.
      await rm(localPath, { force: true });
      return result;
    },

    putBytes: async (key, bytes, options = {}) => putObject(key, () => bytes, bytes.byteLength, options),

    read: async (key, range) => getObject(key, range && checkRange(range)),

    async download(key, localPath) {
      // The file is created only once the object is known to exist.
      const body = await getObject(key);
      const out = createWriteStream(localPath);
      await pipeline(body, out);
      return out.bytesWritten;
    },

    stat: head,

    async list(listPrefix) {
      const found: { key: string; size: number }[] = [];
      await forEachPage(prefix + checkPrefix(listPrefix), async (objects) => {
        for (const object of objects) found.push({ key: object.Key.slice(prefix.length), size: object.Size });
      });
      // S3 lists in UTF-8 byte order, which is the order the interface promises.
      return found;
    },

    async delete(key) {
      // S3 answers 204 for a missing key too.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    },

    async deletePrefix(deletePrefix) {
      await forEachPage(prefix + checkPrefix(deletePrefix), async (objects) => {
        if (objects.length === 0) return;
        const out = await client.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: objects.map(({ Key }) => ({ Key })), Quiet: true },
          }),
        );
        // DeleteObjects answers 200 even when some keys failed; they are listed in Errors.
        const failed = out.Errors ?? [];
        if (failed.length > 0) {
          throw new Error(`S3 could not delete ${failed.length} objects, first ${failed[0]?.Key}: ${failed[0]?.Code}`);
        }
      });
    },

    async signedUrl(key, options) {
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: objectKey(key),
        ResponseContentDisposition: options.contentDisposition,
        ResponseContentType: options.contentType,
      });
      return getSignedUrl(client, command, { expiresIn: options.expiresInSec });
    },

    async close() {
      client.destroy();
    },
  };
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}
