import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { createTokenService } from './auth/tokens.ts';
import type { Config } from './config.ts';
import { type DatabaseHandle, migrateToLatest, openDatabase } from './db/index.ts';
import { registerErrorHandling } from './http/error-handler.ts';
import { healthRoutes } from './http/health.routes.ts';
import { createOrgAccess } from './orgs/access.ts';

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
  await migrateToLatest(database.db);

  const tokens = createTokenService(config.jwt);
  const orgAccess = createOrgAccess(database.db);

  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    bodyLimit: config.limits.jsonBodyBytes,
    trustProxy: false,
    // Request ids make a client's error report findable in the logs.
    requestIdHeader: 'x-request-id',
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerErrorHandling(app);
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
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes, { database });

  app.addHook('onClose', async () => {
    await database.close();
  });
  void tokens;
  void orgAccess;
  return app;
}
