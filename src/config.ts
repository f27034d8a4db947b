import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseStorageConfig, type StorageConfig } from './storage/storage-config.ts';
import { parseTranscriptionConfig, type TranscriptionConfig } from './transcripts/transcription-config.ts';
import { parseWebhookConfig, type WebhookConfig } from './webhooks/webhook-config.ts';

/**
 * Configuration is read from the environment once, at start, validated, and frozen. Nothing else in
 * the code base reads process.env: everything that varies between deployments is a field here.
 */
export interface Config {
  host: string;
  port: number;
  logLevel: string;
  /** `pretty`: readable lines for people at a terminal; `json`: one object a line for collectors; `auto`: pretty on a TTY. */
  logFormat: 'pretty' | 'json' | 'auto';
  dataDir: string;
  /** `sqlite:<path>` or a `postgres://` URL. */
  databaseUrl: string;
  /** This node's name in leases and job claims; stable across restarts on the same data folder. */
  nodeId: string;
  /** Several nodes share the database and the object store (STORAGE_URL is s3://). */
  cluster: boolean;
  /**
   * Which peers may state the client's address in X-Forwarded-For (a load balancer): false, or a
   * comma-separated list of addresses/CIDRs as Fastify's `trustProxy` takes. Rate limits per address use it.
   */
  trustProxy: false | string;
  database: DatabaseConfig;
  /** Extra origins allowed to open live sessions; the server's own origin is always allowed. */
  allowedOrigins: readonly string[];
  /** Where recordings live (a local folder or an S3 bucket) and how audio reaches clients. */
  storage: StorageConfig;
  /** The server's address as clients reach it (no trailing slash): links in webhook payloads, the API document's server. */
  publicUrl: string;
  /** PUBLIC_URL was set: without it `publicUrl` is only a guess from HOST and PORT, and the API document's server stays relative. */
  publicUrlConfigured: boolean;
  /**
   * GET /metrics (Prometheus) answers only requests with `Authorization: Bearer <this>`; undefined: metrics
   * are off. A token rather than an address list, so it holds behind a load balancer too.
   */
  metricsToken: string | undefined;
  /** Outgoing webhooks: delivery timeout, retry schedule, which private networks they may reach. */
  webhooks: WebhookConfig;
  /** Speech to text: the provider that makes transcripts, or off (src/transcripts/transcription-config.ts). */
  transcription: TranscriptionConfig;
  jwt: {
    secret: Uint8Array;
    keyId: string;
    /** Older secrets still accepted while tokens signed with them expire (key rotation). */
    previousKeys: readonly { keyId: string; secret: Uint8Array }[];
    issuer: string;
    audience: string;
    accessTtlSec: number;
    refreshTtlSec: number;
    clockSkewSec: number;
  };
  argon2: { memoryKiB: number; timeCost: number; parallelism: number; maxConcurrent: number; maxQueued: number };
  rateLimit: { authPerIpPerMinute: number; authPerAccountPerMinute: number };
  /** Invitations to organisations: how long a link works, and how many an inviter and an org may send per hour. */
  invitations: { ttlSec: number; perInviterPerHour: number; perOrgPerHour: number };
  http: {
    /** A request whose headers or body receive no byte for this long is cut (408 for a body). */
    idleTimeoutMs: number;
  };
  limits: {
    jsonBodyBytes: number;
    uploadBytes: number;
    streamChunkBytes: number;
    maxDurationSec: number;
    /** A chunked stream with no new chunk for this long is finished with what it has. */
    streamIdleFinishSec: number;
    /** A resumable (tus) upload not finished this long after its creation expires and is removed. */
    resumableUploadExpirySec: number;
  };
  /**
   * Ownership of in-flight work: a node renews its leases every third of `leaseMs`; another node may take
   * over work whose lease has expired. Clocks of the nodes must agree to well within this.
   */
  leases: { leaseMs: number };
  processing: {
    /** Attempts of one processing job before the recording fails (transient errors: worker crash, storage). */
    maxAttempts: number;
    /** First retry delay; doubled per attempt, with jitter. */
    retryBaseMs: number;
    /** Fair share: jobs of one user (and of one organisation) running at once across the cluster. */
    maxRunningPerUser: number;
    maxRunningPerOrg: number;
    /** Jobs one user may have waiting; beyond it new work is refused with 429. */
    maxQueuedPerUser: number;
    /** A failed recording keeps what was received this long, for "process again". */
    failedInputRetentionSec: number;
    /** How often one node looks for recordings past their org's trash retention and deletes them for good. */
    trashPurgeIntervalSec: number;
  };
  /** processingWaitMs: how long an upload or a stream's last chunk waits for processing before answering 202. */
  media: {
    workers: number;
    jobTimeoutMs: number;
    processingWaitMs: number;
    /** Live sessions one media worker transcodes; past workers × this, live recordings are transcoded after they stop. */
    maxLivePerWorker: number;
    /** libopus complexity (0..10) for uploads and streams. */
    opusComplexity: number;
    /** libopus complexity (0..10) for live recordings, transcoded side by side for hours. */
    liveOpusComplexity: number;
  };
  live: {
    handshakeTimeoutMs: number;
    idleTimeoutMs: number;
    resumeGraceMs: number;
    fsyncIntervalMs: number;
    /** How often received audio is committed to the object store as a segment (the committed watermark). */
    commitIntervalMs: number;
    /**
     * Seconds of audio a live recording may hold beyond the time since it started (plus 10%): room for
     * a client catching up after a drop, and no more (a media bomb is refused as soon as it passes it).
     */
    maxAudioAheadSec: number;
    maxSessionsPerUser: number;
    maxBinaryFrameBytes: number;
    maxTextFrameBytes: number;
    maxRecordingBytes: number;
    /** A live stream whose first bytes are not recognised this long after the first one is refused (4422). */
    recogniseTimeoutMs: number;
  };
}

/** PostgreSQL time limits (src/db/postgres.ts says how each is applied) and the wait for it at start. */
export interface DatabaseConfig {
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** Migrations and other work on `DatabaseHandle.longDb`. */
  longStatementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  /** How long start-up retries a database that is unreachable before giving up (0: no retry). */
  startupTimeoutMs: number;
}

/**
 * Suited to an API: a request fails within seconds when the database is down or hung, instead of
 * holding its client. Exported for code that opens a database without a loaded configuration.
 */
export const DATABASE_DEFAULTS: Readonly<DatabaseConfig> = Object.freeze({
  connectTimeoutMs: 5000,
  statementTimeoutMs: 5000,
  longStatementTimeoutMs: 10 * 60_000,
  idleInTransactionTimeoutMs: 60_000,
  startupTimeoutMs: 30_000,
});

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

export function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function secretFrom(value: string, name: string): Uint8Array {
  const bytes = Buffer.from(value, 'utf8');
  // RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
  if (bytes.length < 32) throw new ConfigError(`${name} must be at least 32 bytes long`);
  return new Uint8Array(bytes);
}

/** PUBLIC_URL, or where this server listens (a wildcard address is reached as localhost). */
function parsePublicUrl(raw: string | undefined, host: string, port: number): string {
  const listening = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const fallback = `http://${listening}:${port}`;
  let url: URL;
  try {
    url = new URL(raw || fallback);
  } catch {
    throw new ConfigError(`PUBLIC_URL must be an http(s) URL such as https://earshot.example.com, got "${raw}"`);
  }
  if (!/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash) {
    throw new ConfigError(`PUBLIC_URL must be an http(s) URL without credentials, query or fragment, got "${raw}"`);
  }
  return url.href.replace(/\/+$/, '');
}

/** METRICS_TOKEN: long enough that it cannot be guessed, and plain enough to sit in a header. */
function parseMetricsToken(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (!/^[\x21-\x7e]{32,256}$/.test(raw)) {
    throw new ConfigError(
      'METRICS_TOKEN must be 32 to 256 printable ASCII characters without spaces (e.g. `openssl rand -hex 32`)',
    );
  }
  return raw;
}

/** A value generated once into the data folder, so it survives restarts (the signing secret, the node id). */
function loadOrCreate(dataDir: string, name: string, create: () => string): string {
  const file = path.join(dataDir, name);
  if (!existsSync(file)) writeFileSync(file, create(), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const dataDir = path.resolve(env.DATA_DIR || './data');
  mkdirSync(dataDir, { recursive: true });

  const databaseUrl = env.DATABASE_URL || `sqlite:${path.join(dataDir, 'earshot.db')}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must start with sqlite: or postgres://');
  }

  let secret: Uint8Array;
  if (env.JWT_SECRET_FILE) secret = secretFrom(readFileSync(env.JWT_SECRET_FILE, 'utf8').trim(), 'JWT_SECRET_FILE');
  else if (env.JWT_SECRET) secret = secretFrom(env.JWT_SECRET, 'JWT_SECRET');
  else {
    const file = path.join(dataDir, 'jwt-secret');
    secret = secretFrom(
      loadOrCreate(dataDir, 'jwt-secret', () => randomBytes(48).toString('base64url')),
      file,
    );
  }
  const previousKeys = (env.JWT_PREVIOUS_SECRETS ?? '')
    .split(',')
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf(':');
      if (at < 1) throw new ConfigError('JWT_PREVIOUS_SECRETS entries are "<kid>:<secret>", comma-separated');
      return { keyId: entry.slice(0, at), secret: secretFrom(entry.slice(at + 1), 'JWT_PREVIOUS_SECRETS') };
    });

  const storage = parseStorageConfig(env, dataDir);
  // Several nodes on one database and one object store: each must sign and verify with the same key,
  // and a secret generated into one node's data folder would split the cluster.
  const cluster = storage.store.kind === 's3';
  if (cluster && !databaseUrl.startsWith('postgres')) {
    throw new ConfigError('cluster mode (STORAGE_URL=s3://...) needs DATABASE_URL=postgres://...: SQLite is one node');
  }
  if (cluster && !env.JWT_SECRET && !env.JWT_SECRET_FILE) {
    throw new ConfigError(
      'cluster mode (STORAGE_URL=s3://...) needs JWT_SECRET or JWT_SECRET_FILE shared by every node',
    );
  }
  const nodeId = env.NODE_ID || loadOrCreate(dataDir, 'node-id', () => `node-${randomBytes(6).toString('hex')}`);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(nodeId)) {
    throw new ConfigError('NODE_ID must be 1 to 64 letters, digits, dots, dashes or underscores');
  }

  const logLevel = env.LOG_LEVEL || 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "${logLevel}"`);
  }
  const logFormat = env.LOG_FORMAT || 'auto';
  if (logFormat !== 'pretty' && logFormat !== 'json' && logFormat !== 'auto') {
    throw new ConfigError(`LOG_FORMAT must be pretty, json or auto; got "${logFormat}"`);
  }

  const mediaWorkers = int(env, 'MEDIA_WORKERS', availableParallelism(), 1, 64);
  const host = env.HOST || '127.0.0.1';
  const port = int(env, 'PORT', 8000, 0, 65535);
  const statementTimeoutMs = int(env, 'DB_STATEMENT_TIMEOUT_MS', DATABASE_DEFAULTS.statementTimeoutMs, 100, 3_600_000);
  const config: Config = {
    host,
    port,
    logLevel,
    logFormat,
    dataDir,
    databaseUrl,
    nodeId,
    cluster,
    trustProxy: env.TRUST_PROXY ? env.TRUST_PROXY : false,
    database: {
      connectTimeoutMs: int(env, 'DB_CONNECT_TIMEOUT_MS', DATABASE_DEFAULTS.connectTimeoutMs, 100, 600_000),
      statementTimeoutMs,
      longStatementTimeoutMs: int(
        env,
        'DB_LONG_STATEMENT_TIMEOUT_MS',
        Math.max(DATABASE_DEFAULTS.longStatementTimeoutMs, statementTimeoutMs),
        statementTimeoutMs,
        24 * 3_600_000,
      ),
      idleInTransactionTimeoutMs: int(
        env,
        'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
        DATABASE_DEFAULTS.idleInTransactionTimeoutMs,
        1000,
        24 * 3_600_000,
      ),
      startupTimeoutMs: int(env, 'DB_STARTUP_TIMEOUT_MS', DATABASE_DEFAULTS.startupTimeoutMs, 0, 3_600_000),
    },
    allowedOrigins: (env.ALLOWED_ORIGINS ?? '')
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
    storage,
    publicUrl: parsePublicUrl(env.PUBLIC_URL, host, port),
    webhooks: parseWebhookConfig(env),
    publicUrlConfigured: Boolean(env.PUBLIC_URL),
    metricsToken: parseMetricsToken(env.METRICS_TOKEN),
    transcription: parseTranscriptionConfig(env),
    jwt: {
      secret,
      keyId: env.JWT_KEY_ID || 'k1',
      previousKeys,
      issuer: env.JWT_ISSUER || 'earshot',
      audience: env.JWT_AUDIENCE || 'earshot-api',
      accessTtlSec: int(env, 'ACCESS_TOKEN_TTL_SECONDS', 15 * 60, 30, 24 * 3600),
      refreshTtlSec: int(env, 'REFRESH_TOKEN_TTL_SECONDS', 30 * 24 * 3600, 60, 365 * 24 * 3600),
      clockSkewSec: int(env, 'JWT_CLOCK_SKEW_SECONDS', 30, 0, 30),
    },
    argon2: {
      // OWASP password storage cheat sheet: Argon2id, m=19 MiB, t=2, p=1 at the least.
      memoryKiB: int(env, 'ARGON2_MEMORY_KIB', 19 * 1024, 19 * 1024, 1024 * 1024),
      timeCost: int(env, 'ARGON2_TIME_COST', 2, 2, 20),
      parallelism: int(env, 'ARGON2_PARALLELISM', 1, 1, 16),
      maxConcurrent: int(env, 'ARGON2_MAX_CONCURRENT', Math.max(2, availableParallelism()), 1, 256),
      maxQueued: int(env, 'ARGON2_MAX_QUEUED', 64, 0, 100_000),
    },
    rateLimit: {
      authPerIpPerMinute: int(env, 'AUTH_RATE_LIMIT_PER_IP', 30, 1),
      authPerAccountPerMinute: int(env, 'AUTH_RATE_LIMIT_PER_ACCOUNT', 10, 1),
    },
    invitations: {
      ttlSec: int(env, 'INVITATION_TTL_SECONDS', 7 * 24 * 3600, 60, 90 * 24 * 3600),
      perInviterPerHour: int(env, 'INVITE_RATE_LIMIT_PER_INVITER', 20, 1),
      perOrgPerHour: int(env, 'INVITE_RATE_LIMIT_PER_ORG', 50, 1),
    },
    http: {
      idleTimeoutMs: int(env, 'HTTP_IDLE_TIMEOUT_MS', 30_000, 100, 3_600_000),
    },
    limits: {
      jsonBodyBytes: int(env, 'MAX_JSON_BODY_BYTES', 64 * 1024, 1024),
      uploadBytes: int(env, 'MAX_UPLOAD_BYTES', 1024 * 1024 * 1024, 1024),
      streamChunkBytes: int(env, 'MAX_STREAM_CHUNK_BYTES', 16 * 1024 * 1024, 1024),
      maxDurationSec: int(env, 'MAX_RECORDING_SECONDS', 6 * 3600, 1),
      streamIdleFinishSec: int(env, 'STREAM_IDLE_FINISH_SECONDS', 24 * 3600, 1),
      resumableUploadExpirySec: int(env, 'RESUMABLE_UPLOAD_EXPIRY_SECONDS', 24 * 3600, 1, 30 * 24 * 3600),
    },
    leases: { leaseMs: int(env, 'LEASE_TTL_MS', 20_000, 1000, 600_000) },
    processing: {
      maxAttempts: int(env, 'PROCESSING_MAX_ATTEMPTS', 5, 1, 100),
      retryBaseMs: int(env, 'PROCESSING_RETRY_BASE_MS', 10_000, 10, 3_600_000),
      maxRunningPerUser: int(env, 'PROCESSING_MAX_RUNNING_PER_USER', Math.max(1, mediaWorkers - 1), 1, 10_000),
      maxRunningPerOrg: int(env, 'PROCESSING_MAX_RUNNING_PER_ORG', Math.max(1, mediaWorkers - 1), 1, 10_000),
      maxQueuedPerUser: int(env, 'PROCESSING_MAX_QUEUED_PER_USER', 50, 1, 100_000),
      failedInputRetentionSec: int(env, 'FAILED_INPUT_RETENTION_SECONDS', 7 * 24 * 3600, 0),
      trashPurgeIntervalSec: int(env, 'TRASH_PURGE_INTERVAL_SECONDS', 3600, 1, 24 * 3600),
    },
    media: {
      workers: mediaWorkers,
      jobTimeoutMs: int(env, 'MEDIA_JOB_TIMEOUT_MS', 30 * 60 * 1000, 1000),
      processingWaitMs: int(env, 'PROCESSING_WAIT_MS', 3000, 0, 60_000),
      maxLivePerWorker: int(env, 'MEDIA_MAX_LIVE_PER_WORKER', 256, 1, 4096),
      opusComplexity: int(env, 'OPUS_COMPLEXITY', 10, 0, 10),
      liveOpusComplexity: int(env, 'LIVE_OPUS_COMPLEXITY', 3, 0, 10),
    },
    live: {
      handshakeTimeoutMs: int(env, 'LIVE_HANDSHAKE_TIMEOUT_MS', 10_000, 100),
      idleTimeoutMs: int(env, 'LIVE_IDLE_TIMEOUT_MS', 60_000, 1000),
      resumeGraceMs: int(env, 'LIVE_RESUME_GRACE_MS', 120_000, 0),
      fsyncIntervalMs: int(env, 'LIVE_FSYNC_INTERVAL_MS', 200, 10, 10_000),
      commitIntervalMs: int(env, 'LIVE_COMMIT_INTERVAL_MS', 5000, 50, 600_000),
      maxAudioAheadSec: int(env, 'LIVE_MAX_AUDIO_AHEAD_SECONDS', 30, 0, 24 * 3600),
      maxSessionsPerUser: int(env, 'LIVE_MAX_SESSIONS_PER_USER', 3, 1),
      maxBinaryFrameBytes: int(env, 'LIVE_MAX_BINARY_FRAME_BYTES', 1024 * 1024, 1024),
      maxTextFrameBytes: int(env, 'LIVE_MAX_TEXT_FRAME_BYTES', 4096, 256),
      maxRecordingBytes: int(env, 'LIVE_MAX_RECORDING_BYTES', 2 * 1024 * 1024 * 1024, 1024),
      recogniseTimeoutMs: int(env, 'LIVE_RECOGNISE_TIMEOUT_MS', 5000, 100, 60_000),
    },
  };
  return Object.freeze(config);
}
