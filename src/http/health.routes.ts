import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { ErrorSchema } from '../auth/auth.schemas.ts';
import type { DatabaseHandle } from '../db/index.ts';
import { DATABASE_RETRY_AFTER_SEC } from '../db/unavailable.ts';
import { AppError } from '../errors.ts';

const Status = Type.Object({ status: Type.String() });

/**
 * How long /readyz waits for the database. A probe's own timeout is typically 1 s (Kubernetes'
 * default), so the answer, ready or not, comes well within it whatever the database does: a database
 * that takes longer than this to answer `select 1` is not ready for requests either.
 */
const READY_TIMEOUT_MS = 800;

export const healthRoutes: FastifyPluginAsync<{ database: DatabaseHandle }> = async (app, { database }) => {
  // Liveness: the process answers. It never looks at the database, so an outage does not get the
  // process restarted (which would not bring the database back).
  app.get('/healthz', { schema: { tags: ['health'], response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        description: 'Ready when the database answers within a second; otherwise 503 `database_unavailable`.',
        response: { 200: Status, 503: ErrorSchema },
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
