/** STORAGE_URL, the AWS credentials and how audio is delivered, parsed for src/config.ts. */
import path from 'node:path';
import { ConfigError, int } from '../config.ts';
import type { S3StoreConfig } from './s3-blob-store.ts';

export interface StorageConfig {
  store: { kind: 'local'; root: string } | ({ kind: 's3' } & S3StoreConfig);
  /** `redirect`: answer audio requests with a presigned URL when the store gives one; `stream`: always proxy. */
  audioDelivery: 'stream' | 'redirect';
  presignedUrlTtlSec: number;
}

type Env = Record<string, string | undefined>;

// S3 bucket naming rules (lowercase letters, digits, dots and hyphens; 3-63 characters).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[a-z0-9][a-z0-9._-]*$/i;
const S3_PARAMS = new Set(['endpoint', 'region', 'force_path_style']);

export function parseStorageConfig(env: Env, dataDir: string): StorageConfig {
  const raw = env.STORAGE_URL || `file:${path.join(dataDir, 'blobs')}`;
  const audioDelivery = env.AUDIO_DELIVERY || 'stream';
  if (audioDelivery !== 'stream' && audioDelivery !== 'redirect') {
    throw new ConfigError(`AUDIO_DELIVERY must be stream or redirect, got "${audioDelivery}"`);
  }
  return {
    store: raw.startsWith('s3://') ? parseS3(raw, env) : parseFile(raw),
    audioDelivery,
    // SigV4 presigned URLs live at most 7 days.
    presignedUrlTtlSec: int(env, 'PRESIGNED_URL_TTL_SECONDS', 300, 1, 7 * 24 * 3600),
  };
}

function parseFile(raw: string): StorageConfig['store'] {
  if (!raw.startsWith('file:') || raw.length === 'file:'.length) {
    throw new ConfigError(`STORAGE_URL must be file:<folder> or s3://<bucket>[/<prefix>]?…, got "${raw}"`);
  }
  return { kind: 'local', root: path.resolve(raw.slice('file:'.length)) };
}

function parseS3(raw: string, env: Env): StorageConfig['store'] {
  const fail = (why: string): never => {
    throw new ConfigError(`STORAGE_URL ${why} (s3://<bucket>[/<prefix>]?endpoint=…&region=…&force_path_style=true)`);
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('is not a valid URL');
  }
  if (url.username || url.password) fail('must not hold credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  if (url.port || !BUCKET.test(url.hostname)) fail(`names an invalid bucket "${url.host}"`);
  for (const name of url.searchParams.keys()) if (!S3_PARAMS.has(name)) fail(`has an unknown parameter "${name}"`);

  const segments = url.pathname.split('/').filter(Boolean);
  if (!segments.every((segment) => PREFIX_SEGMENT.test(segment))) fail(`has an invalid key prefix "${url.pathname}"`);

  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(endpoint)) {
    fail(`endpoint must be http(s)://host[:port], got "${endpoint}"`);
  }
  const pathStyle = url.searchParams.get('force_path_style');
  if (pathStyle !== null && pathStyle !== 'true' && pathStyle !== 'false') {
    fail(`force_path_style must be true or false, got "${pathStyle}"`);
  }

  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId !== !secretAccessKey) {
    throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together');
  }
  if (env.AWS_SESSION_TOKEN && !accessKeyId) {
    throw new ConfigError('AWS_SESSION_TOKEN needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }

  return {
    kind: 's3',
    bucket: url.hostname,
    prefix: segments.map((segment) => `${segment}/`).join(''),
    ...(endpoint ? { endpoint } : {}),
    region: url.searchParams.get('region') || env.AWS_REGION || 'us-east-1',
    // Self-hosted servers (an endpoint) rarely have a wildcard DNS name per bucket; AWS prefers hosts.
    forcePathStyle: pathStyle === null ? endpoint !== undefined : pathStyle === 'true',
    connectTimeoutMs: int(env, 'S3_CONNECT_TIMEOUT_MS', 5000, 100, 600_000),
    idleTimeoutMs: int(env, 'S3_IDLE_TIMEOUT_MS', 30_000, 100, 3_600_000),
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  };
}
