import path from 'node:path';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { createApiKeysRepo } from './api-keys/api-keys.repo.ts';
import { apiKeysRoutes } from './api-keys/api-keys.routes.ts';
import { ApiKeyListSchema, ApiKeySchema, CreatedApiKeySchema } from './api-keys/api-keys.schemas.ts';
import { createApiKeysService } from './api-keys/api-keys.service.ts';
import { authRoutes } from './auth/auth.routes.ts';
import { MeSchema, TokenPairSchema, UserSchema } from './auth/auth.schemas.ts';
import { createAuthService } from './auth/auth.service.ts';
import { createPasswordHasher } from './auth/passwords.ts';
import { createRefreshTokensRepo } from './auth/refresh-tokens.repo.ts';
import { createTokenService } from './auth/tokens.ts';
import { createUsersRepo } from './auth/users.repo.ts';
import { createNamedLeases } from './cluster/named-leases.ts';
import { createRateLimiter } from './cluster/rate-limiter.ts';
import type { Config } from './config.ts';
import { type DatabaseHandle, migrateToLatest, openDatabase } from './db/index.ts';
import { waitForDatabase } from './db/startup.ts';
import { docsRoutes } from './http/docs.routes.ts';
import { clientErrorHandler, frameworkErrors, registerErrorHandling } from './http/error-handler.ts';
import { HealthJson, healthRoutes } from './http/health.routes.ts';
import { registerIdleTimeout } from './http/idle-timeout.ts';
import { ErrorJson, registerOpenApi } from './http/openapi.ts';
import { validatorCompiler } from './http/validation.ts';
import { createJobsRepo } from './jobs/jobs.repo.ts';
import { createJobRunner } from './jobs/runner.ts';
import { registerLive } from './live/index.ts';
import { loggerOptions } from './logger.ts';
import { createMediaEngine } from './media/index.ts';
import { metricsRoutes } from './metrics/metrics.routes.ts';
import {
  countedBlobStore,
  createMetrics,
  observeClaim,
  timedNormalize,
  timeRequests,
  watchGauges,
} from './metrics/metrics.ts';
import { createOrgAccess } from './orgs/access.ts';
import { handToInviter } from './orgs/invitation-delivery.ts';
import { createInvitationsRepo } from './orgs/invitations.repo.ts';
import { invitationsRoutes } from './orgs/invitations.routes.ts';
import { InvitationListSchema, InvitationSchema, InviteResultSchema } from './orgs/invitations.schemas.ts';
import { createInvitationsService } from './orgs/invitations.service.ts';
import { createOrgsRepo } from './orgs/orgs.repo.ts';
import { orgsRoutes } from './orgs/orgs.routes.ts';
import { MemberListSchema, MemberSchema, OrgListSchema, OrgWithRoleSchema } from './orgs/orgs.schemas.ts';
import { createOrgsService } from './orgs/orgs.service.ts';
import { createOrgSettingsRepo } from './orgs/settings.repo.ts';
import { orgSettingsRoutes, SettingsJson } from './orgs/settings.routes.ts';
import { createOrgSettingsService } from './orgs/settings.service.ts';
import { runPeriodically } from './periodic.ts';
import { createKeyedLock } from './recordings/keyed-lock.ts';
import { createLifecycle } from './recordings/lifecycle.ts';
import { createProcessingHandler } from './recordings/processing.ts';
import { createRecordingsRepo } from './recordings/recordings.repo.ts';
import { recordingsRoutes } from './recordings/recordings.routes.ts';
import { ListResponse, RecordingJson, StreamResponse } from './recordings/recordings.schemas.ts';
import { createRecordingsService } from './recordings/recordings.service.ts';
import { streamRoutes } from './recordings/stream.routes.ts';
import { createStreamService } from './recordings/stream.service.ts';
import { EmptiedTrash, TrashedRecordingJson, TrashPage, trashRoutes } from './recordings/trash.routes.ts';
import { createTrashService } from './recordings/trash.service.ts';
import { createUploadReceiver } from './recordings/uploads.ts';
import { createBlobStore } from './storage/index.ts';
import { createSpool } from './storage/spool.ts';
import { transcribeWhenReady } from './transcripts/auto-transcribe.ts';
import { createTranscriptionProvider } from './transcripts/providers.ts';
import { createTranscribeHandler } from './transcripts/transcribe-job.ts';
import { createTranscriptsRepo } from './transcripts/transcripts.repo.ts';
import { transcriptsRoutes } from './transcripts/transcripts.routes.ts';
import { SegmentJson, TranscriptJson } from './transcripts/transcripts.schemas.ts';
import { createTranscriptsService } from './transcripts/transcripts.service.ts';
import { tusRoutes } from './tus/tus.routes.ts';
import { createTusService } from './tus/tus.service.ts';
import { createTusUploadsRepo } from './tus/tus-uploads.repo.ts';
import { webRoutes } from './web/web.routes.ts';
import { createWebhooks } from './webhooks/index.ts';
import { webhooksRoutes } from './webhooks/webhooks.routes.ts';
import {
  DeliveryJson,
  DeliveryList,
  EndpointJson,
  EndpointList,
  EndpointWithSecret,
} from './webhooks/webhooks.schemas.ts';

export interface BuildOptions {
  /** Fastify's logger options, or `false` (tests keep logs quiet); by default LOG_LEVEL and LOG_FORMAT. */
  logger?: FastifyServerOptions['logger'];
  /** PostgreSQL schema to use (tests isolate each app in its own). */
  dbSchema?: string;
}

export type App = FastifyInstance;

/**
 * The composition root: adapters, then the services built on them, then the routes that call the
 * services. Everything is passed explicitly; nothing reaches for a global.
 */
export async function buildApp(config: Readonly<Config>, options: BuildOptions = {}): Promise<App> {
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config),
    bodyLimit: config.limits.jsonBodyBytes,
    trustProxy: config.trustProxy,
    // Request ids make a client's error report findable in the logs.
    requestIdHeader: 'x-request-id',
    // Errors Fastify and Node answer on their own (bad URL, malformed request) get the table's shape too.
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const database: DatabaseHandle = openDatabase(config.databaseUrl, {
    schema: options.dbSchema,
    limits: config.database,
    log: app.log,
  });
  try {
    await waitForDatabase(database, { timeoutMs: config.database.startupTimeoutMs, log: app.log });
    await migrateToLatest(database.longDb, options.dbSchema);
  } catch (error) {
    await database.close();
    throw error;
  }

  const users = createUsersRepo(database.db);
  const orgAccess = createOrgAccess(database.db);
  const apiKeys = createApiKeysService({ repo: createApiKeysRepo(database.db), access: orgAccess });
  const tokens = createTokenService(config.jwt, users, apiKeys);
  const orgsRepo = createOrgsRepo(database.db, database.dialect);
  const limiter = createRateLimiter(database.db);

  // One validator for every route, so every route refuses what another refuses (src/http/validation.ts).
  app.setValidatorCompiler(validatorCompiler);
  // JSON (and the forms and binary types routes add) only: a text/plain body would skip the checks of a
  // route that declares its schema per content type (login), and no route takes text.
  app.removeContentTypeParser('text/plain');

  registerErrorHandling(app);
  registerIdleTimeout(app, config.http.idleTimeoutMs);
  const metrics = createMetrics({ processMetrics: config.metricsToken !== undefined });
  timeRequests(app, metrics);
  // Which node answered: for operators reading a balancer's logs, and for the cluster tests.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-earshot-node', config.nodeId);
  });
  await registerOpenApi(app, {
    serverUrl: config.publicUrlConfigured ? config.publicUrl : undefined,
    // Every response object, once (src/http/openapi.ts): a route's response() or ref() names one of these.
    components: [
      ErrorJson,
      UserSchema,
      MeSchema,
      TokenPairSchema,
      OrgWithRoleSchema,
      OrgListSchema,
      MemberSchema,
      MemberListSchema,
      SettingsJson,
      InvitationSchema,
      InvitationListSchema,
      InviteResultSchema,
      ApiKeySchema,
      ApiKeyListSchema,
      CreatedApiKeySchema,
      RecordingJson,
      ListResponse,
      StreamResponse,
      SegmentJson,
      TranscriptJson,
      TrashedRecordingJson,
      TrashPage,
      EmptiedTrash,
      EndpointJson,
      EndpointWithSecret,
      EndpointList,
      DeliveryJson,
      DeliveryList,
      HealthJson,
    ],
  });
  await app.register(docsRoutes);

  await app.register(healthRoutes, { database });
  const auth = createAuthService({
    users,
    refreshTokens: createRefreshTokensRepo(database.db),
    orgs: orgsRepo,
    tokens,
    passwords: createPasswordHasher(config.argon2),
    limiter,
    accountRule: { max: config.rateLimit.authPerAccountPerMinute, windowMs: 60_000 },
    jwt: config.jwt,
    log: app.log,
  });
  await app.register(authRoutes, {
    prefix: '/api/auth',
    auth,
    tokens,
    limiter,
    perIpPerMinute: config.rateLimit.authPerIpPerMinute,
    bodyLimit: config.limits.jsonBodyBytes,
  });
  const orgs = createOrgsService({ orgs: orgsRepo, access: orgAccess });
  await app.register(orgsRoutes, { prefix: '/api/orgs', orgs, tokens });
  await app.register(apiKeysRoutes, { prefix: '/api/orgs', apiKeys, tokens });
  const invitations = createInvitationsService({
    invitations: createInvitationsRepo(database.db, database.dialect),
    orgs: orgsRepo,
    users,
    access: orgAccess,
    delivery: handToInviter,
    limits: config.invitations,
  });
  await app.register(invitationsRoutes, { prefix: '/api', invitations, tokens });
  const orgSettings = createOrgSettingsRepo(database.db);
  await app.register(orgSettingsRoutes, {
    prefix: '/api/orgs',
    settings: createOrgSettingsService({ repo: orgSettings, access: orgAccess }),
    tokens,
  });

  const media = createMediaEngine({
    workers: config.media.workers,
    jobTimeoutMs: config.media.jobTimeoutMs,
    maxDurationSec: config.limits.maxDurationSec,
    maxLivePerWorker: config.media.maxLivePerWorker,
    opusComplexity: config.media.opusComplexity,
    liveOpusComplexity: config.media.liveOpusComplexity,
    logger: app.log,
    onWorkerRestart: () => metrics.workerRestarts.inc(),
  });
  const blobs = countedBlobStore(createBlobStore(config.storage), metrics);
  const spool = createSpool(path.join(config.dataDir, 'spool'));
  const recordingsRepo = createRecordingsRepo(database.db);
  const jobs = createJobsRepo(database.db, database.dialect, config.nodeId);
  const webhooks = createWebhooks({
    db: database.db,
    dialect: database.dialect,
    nodeId: config.nodeId,
    config: config.webhooks,
    publicUrl: config.publicUrl,
    access: orgAccess,
    log: app.log.child({ module: 'webhooks' }),
  });
  const transcriptQueue = {
    transcripts: createTranscriptsRepo(database.db),
    jobs,
    provider: createTranscriptionProvider(config.transcription, media),
    language: config.transcription.provider === 'off' ? null : config.transcription.language,
  };
  // What the lifecycle reports, and the transcribe job's transcript.ready, go through one sink; an
  // org with auto-transcription gets its ready recordings' transcripts queued by it.
  const recordingEvents = transcribeWhenReady(webhooks.sink, { ...transcriptQueue, settings: orgSettings });
  const lifecycle = createLifecycle({
    db: database.db,
    repo: recordingsRepo,
    jobs,
    blobs,
    spool,
    nodeId: config.nodeId,
    leaseMs: config.leases.leaseMs,
    failedInputRetentionSec: config.processing.failedInputRetentionSec,
    maxQueuedPerUser: config.processing.maxQueuedPerUser,
    events: recordingEvents,
    log: app.log.child({ module: 'recordings' }),
  });
  const runner = createJobRunner({
    jobs,
    handlers: {
      process: createProcessingHandler({
        lifecycle,
        media: timedNormalize(media, metrics),
        spool,
        log: app.log.child({ module: 'processing' }),
        leaseMs: config.leases.leaseMs,
        maxDurationSec: config.limits.maxDurationSec,
        liveAheadSec: config.live.maxAudioAheadSec,
      }),
      transcribe: createTranscribeHandler({
        db: database.db,
        transcripts: transcriptQueue.transcripts,
        recordings: recordingsRepo,
        blobs,
        spool,
        provider: transcriptQueue.provider,
        language: transcriptQueue.language,
        events: recordingEvents,
        log: app.log.child({ module: 'transcripts' }),
      }),
    },
    log: app.log.child({ module: 'jobs' }),
    concurrency: config.media.workers,
    lockMs: config.leases.leaseMs,
    maxAttempts: config.processing.maxAttempts,
    retryBaseMs: config.processing.retryBaseMs,
    maxRunningPerUser: config.processing.maxRunningPerUser,
    maxRunningPerOrg: config.processing.maxRunningPerOrg,
    onClaimed: (job) => observeClaim(metrics, job),
  });
  lifecycle.events.on('queued', runner.wake);
  lifecycle.events.on('event', (event) => {
    if (event.type === 'removed') runner.cancel(event.recordingId);
    // A ready recording may have queued its transcript (auto-transcription): look now.
    if (event.type === 'settled' && event.recording.status === 'ready') runner.wake();
  });
  const recordings = createRecordingsService({ repo: recordingsRepo, blobs, lifecycle, orgAccess });
  const uploads = createUploadReceiver({ spool, orgAccess, lifecycle, waitMs: config.media.processingWaitMs });
  const streams = createStreamService({
    repo: recordingsRepo,
    orgAccess,
    recordings,
    lifecycle,
    locks: createKeyedLock(),
    maxBytes: config.limits.uploadBytes,
    finishWaitMs: config.media.processingWaitMs,
  });
  await app.register(recordingsRoutes, {
    recordings,
    uploads,
    tokens,
    uploadBytes: config.limits.uploadBytes,
    audioDelivery: config.storage,
  });
  await app.register(streamRoutes, { streams, tokens, spool, chunkBytes: config.limits.streamChunkBytes });
  const trash = createTrashService({ repo: recordingsRepo, lifecycle, orgAccess, settings: orgSettings });
  await app.register(trashRoutes, { trash, tokens });
  const tus = createTusService({
    repo: createTusUploadsRepo(database.db),
    blobs,
    spool,
    orgAccess,
    lifecycle,
    maxBytes: config.limits.uploadBytes,
    expiryMs: config.limits.resumableUploadExpirySec * 1000,
    lockTtlMs: config.leases.leaseMs,
    allowedOrigins: config.allowedOrigins,
    log: app.log.child({ module: 'tus' }),
  });
  await app.register(tusRoutes, { tus, tokens, maxBytes: config.limits.uploadBytes });
  const transcripts = createTranscriptsService({
    ...transcriptQueue,
    db: database.db,
    getVisible: recordings.getVisible,
    maxQueuedPerUser: config.processing.maxQueuedPerUser,
    onQueued: runner.wake,
  });
  await app.register(transcriptsRoutes, { transcripts, tokens });
  await app.register(webhooksRoutes, { prefix: '/api/orgs', webhooks: webhooks.service, tokens });

  // Work in progress on this node's disk is worthless after a restart (everything received is in the
  // store), except the raw logs of live recordings this node still owns: recovery takes those back.
  await lifecycle.sweepSpool();
  const live = await registerLive(app, {
    config,
    dialect: database.dialect,
    tokens,
    orgAccess,
    repo: recordingsRepo,
    lifecycle,
    media,
    spool,
    metrics: {
      received: (bytes) => metrics.liveReceivedBytes.inc(bytes),
      ackLatency: (seconds) => metrics.liveAckLatency.observe(seconds),
    },
  });
  runner.start();
  webhooks.dispatcher.start();
  watchGauges(metrics, { live: live.stats, queue: jobs.depth, log: app.log });

  const leases = createNamedLeases(database.db, config.nodeId);
  const periodic = { log: app.log, leases };
  const streamIdleMs = config.limits.streamIdleFinishSec * 1000;
  const housekeeping = [
    runPeriodically(
      'finish idle streams',
      Math.min(streamIdleMs / 4, 15 * 60_000),
      () => streams.finishIdle(streamIdleMs),
      periodic,
    ),
    runPeriodically(
      'finish abandoned live recordings',
      Math.max(1000, Math.min(config.live.resumeGraceMs / 4, 30_000)),
      () => live.finishAbandoned(),
      periodic,
    ),
    runPeriodically('expire kept inputs of failed recordings', 60 * 60_000, () => lifecycle.expireInputs(), periodic),
    runPeriodically(
      'purge the trash',
      config.processing.trashPurgeIntervalSec * 1000,
      () => trash.purgeExpired(),
      periodic,
    ),
    runPeriodically('clean up resumable uploads', 5 * 60_000, () => tus.cleanUp(), periodic),
    runPeriodically('purge expired refresh tokens', 60 * 60_000, () => auth.purgeExpiredRefreshTokens(), periodic),
    // The longest rule is an hour; its previous window still counts until two hours after it began.
    runPeriodically('purge rate-limit windows', 10 * 60_000, () => limiter.purge(3 * 60 * 60_000), periodic),
    runPeriodically('purge old webhook messages', 60 * 60_000, () => webhooks.purge(), periodic),
  ];
  await Promise.all(housekeeping.map((task) => task.firstRun));

  await app.register(metricsRoutes, { metrics, token: config.metricsToken });
  // The web page at `/` (web/dist); its `GET /*` fallback only gets paths no other route matches.
  await app.register(webRoutes);

  app.addHook('onClose', async () => {
    for (const task of housekeeping) task.stop();
    // Processing stops first (its jobs go back to the queue), then the engine, then the store and the database.
    await runner.close();
    await webhooks.dispatcher.close();
    await media.close();
    await blobs.close();
    await database.close();
  });
  return app;
}
