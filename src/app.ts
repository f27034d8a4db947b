import path from 'node:path';
import fastifySwagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { createWindowLimiter } from './auth/attempt-limiter.ts';
import { authRoutes } from './auth/auth.routes.ts';
import { createAuthService } from './auth/auth.service.ts';
import { createPasswordHasher } from './auth/passwords.ts';
import { createRefreshTokensRepo } from './auth/refresh-tokens.repo.ts';
import { createTokenService } from './auth/tokens.ts';
import { createUsersRepo } from './auth/users.repo.ts';
import type { Config } from './config.ts';
import { type DatabaseHandle, migrateToLatest, openDatabase } from './db/index.ts';
import { docsRoutes } from './http/docs.routes.ts';
import { clientErrorHandler, frameworkErrors, registerErrorHandling } from './http/error-handler.ts';
import { healthRoutes } from './http/health.routes.ts';
import { registerIdleTimeout } from './http/idle-timeout.ts';
import { validatorCompiler } from './http/validation.ts';
import { registerLive } from './live/index.ts';
import { createMediaEngine } from './media/index.ts';
import { createOrgAccess } from './orgs/access.ts';
import { createOrgsRepo } from './orgs/orgs.repo.ts';
import { orgsRoutes } from './orgs/orgs.routes.ts';
import { createOrgsService } from './orgs/orgs.service.ts';
import { runPeriodically } from './periodic.ts';
import { createKeyedLock } from './recordings/keyed-lock.ts';
import { createRecordingsRepo } from './recordings/recordings.repo.ts';
import { recordingsRoutes } from './recordings/recordings.routes.ts';
import { createRecordingsService } from './recordings/recordings.service.ts';
import { streamRoutes } from './recordings/stream.routes.ts';
import { createStreamService } from './recordings/stream.service.ts';
import { createUploadReceiver } from './recordings/uploads.ts';
import { createLocalBlobStore } from './storage/local-blob-store.ts';
import { createSpool } from './storage/spool.ts';
import { webRoutes } from './web/web.routes.ts';

export interface BuildOptions {
  /** pino logger options or `false` (tests keep logs quiet). */
  logger?: boolean | { level: string };
  /** PostgreSQL schema to use (tests isolate each app in its own). */
  dbSchema?: string;
}

export type App = FastifyInstance;

/**
 * The composition root: adapters, then the services built on them, then the routes that call the
 * services. Everything is passed explicitly; nothing reaches for a global.
 */
export async function buildApp(config: Readonly<Config>, options: BuildOptions = {}): Promise<App> {
  const database: DatabaseHandle = openDatabase(config.databaseUrl, { schema: options.dbSchema });
  await migrateToLatest(database.db, options.dbSchema);

  const users = createUsersRepo(database.db);
  const tokens = createTokenService(config.jwt, users);
  const orgAccess = createOrgAccess(database.db);
  const orgsRepo = createOrgsRepo(database.db, database.dialect);
  const accountLimiter = createWindowLimiter({ max: config.rateLimit.authPerAccountPerMinute, windowMs: 60_000 });

  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    bodyLimit: config.limits.jsonBodyBytes,
    trustProxy: false,
    // Request ids make a client's error report findable in the logs.
    requestIdHeader: 'x-request-id',
    // Errors Fastify and Node answer on their own (bad URL, malformed request) get the table's shape too.
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();
  // One validator for every route, so every route refuses what another refuses (src/http/validation.ts).
  app.setValidatorCompiler(validatorCompiler);
  // JSON (and the forms and binary types routes add) only: a text/plain body would skip the checks of a
  // route that declares its schema per content type (login), and no route takes text.
  app.removeContentTypeParser('text/plain');

  registerErrorHandling(app);
  registerIdleTimeout(app, config.http.idleTimeoutMs);
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Earshot',
        version: '0.1.0',
        description: 'Meeting audio capture: accounts, uploads, chunked streams and live recording.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(docsRoutes);

  await app.register(healthRoutes, { database });
  const auth = createAuthService({
    users,
    refreshTokens: createRefreshTokensRepo(database.db),
    orgs: orgsRepo,
    tokens,
    passwords: createPasswordHasher(config.argon2),
    accountLimiter,
    jwt: config.jwt,
    log: app.log,
  });
  await app.register(authRoutes, {
    prefix: '/api/auth',
    auth,
    tokens,
    perIpPerMinute: config.rateLimit.authPerIpPerMinute,
    bodyLimit: config.limits.jsonBodyBytes,
  });
  const orgs = createOrgsService({ orgs: orgsRepo, users, access: orgAccess });
  await app.register(orgsRoutes, { prefix: '/api/orgs', orgs, tokens });

  const media = createMediaEngine({
    workers: config.media.workers,
    jobTimeoutMs: config.media.jobTimeoutMs,
    maxDurationSec: config.limits.maxDurationSec,
    maxLivePerWorker: config.media.maxLivePerWorker,
    opusComplexity: config.media.opusComplexity,
    liveOpusComplexity: config.media.liveOpusComplexity,
    logger: app.log,
  });
  const blobs = createLocalBlobStore(path.join(config.dataDir, 'blobs'));
  const spool = createSpool(path.join(config.dataDir, 'spool'));
  const recordingsRepo = createRecordingsRepo(database.db);
  const recordingLocks = createKeyedLock();
  const recordings = createRecordingsService({
    repo: recordingsRepo,
    blobs,
    spool,
    media,
    orgAccess,
    locks: recordingLocks,
    logger: app.log,
    concurrency: config.media.workers,
  });
  const uploads = createUploadReceiver({
    repo: recordingsRepo,
    spool,
    orgAccess,
    recordings,
    waitMs: config.media.processingWaitMs,
  });
  const streams = createStreamService({
    repo: recordingsRepo,
    spool,
    orgAccess,
    recordings,
    locks: recordingLocks,
    maxBytes: config.limits.uploadBytes,
    finishWaitMs: config.media.processingWaitMs,
  });
  await app.register(recordingsRoutes, { recordings, uploads, tokens, uploadBytes: config.limits.uploadBytes });
  await app.register(streamRoutes, { streams, tokens, chunkBytes: config.limits.streamChunkBytes });
  await recordings.recover();
  const streamIdleMs = config.limits.streamIdleFinishSec * 1000;
  const housekeeping = [
    runPeriodically(
      'finish idle streams',
      Math.min(streamIdleMs / 4, 15 * 60_000),
      () => streams.finishIdle(streamIdleMs),
      app.log,
    ),
    runPeriodically('purge expired refresh tokens', 60 * 60_000, () => auth.purgeExpiredRefreshTokens(), app.log),
  ];
  await Promise.all(housekeeping.map((task) => task.firstRun));

  await registerLive(app, { config, tokens, orgAccess, repo: recordingsRepo, recordings, media, spool });

  // The web page at `/` (web/dist); its `GET /*` fallback only gets paths no other route matches.
  await app.register(webRoutes);

  app.addHook('onClose', async () => {
    accountLimiter.close();
    for (const task of housekeeping) task.stop();
    // Processing stops first (unfinished jobs resume at the next start), then the engine, then the database.
    await Promise.all([recordings.close(), media.close()]);
    await database.close();
  });
  return app;
}
