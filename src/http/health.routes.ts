import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { DatabaseHandle } from '../db/index.ts';
import { DATABASE_RETRY_AFTER_SEC } from '../db/unavailable.ts';
import { AppError } from '../errors.ts';
import { errors, response } from './openapi.ts';

export const HealthJson = Type.Object(
  { status: Type.String({ description: '`ok` (alive) or `ready`' }) },
  { $id: 'HealthStatus', description: 'A probe’s answer' },
);

/**
 * How long /readyz waits for the database. A probe's own timeout is typically 1 s (Kubernetes'
 * default), so the answer, ready or not, comes well within it whatever the database does: a database
 * that takes longer than this to answer `select 1` is not ready for requests either.
 */
const READY_TIMEOUT_MS = 800;

export const healthRoutes: FastifyPluginAsync<{ database: DatabaseHandle }> = async (app, { database }) => {
  // Liveness: the process answers. It never looks at the database, so an outage does not get the
  // process restarted (which would not bring the database back).
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        operationId: 'checkLiveness',
        summary: 'Liveness: the process answers',
        security: [],
        response: { 200: response('Alive', HealthJson) },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        operationId: 'checkReadiness',
        summary: 'Readiness: the database answers',
        description: 'Ready when the database answers within a second; otherwise 503 `database_unavailable`.',
        security: [],
        response: { 200: response('Ready for requests', HealthJson), ...errors(503) },
      },
    },
    async () => {
      await databaseAnswers(database);
      return { status: 'ready' };
    },
  );
};

async function databaseAnswers(database: DatabaseHandle): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  try {
    // The ping goes on after a timeout; the pool's own limits end it.
    await Promise.race([database.ping(), late]);
  } catch (error) {
    throw new AppError('database_unavailable', 'database unreachable', {
      retryAfter: DATABASE_RETRY_AFTER_SEC,
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}
