import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { ErrorSchema } from '../auth/auth.schemas.ts';
import type { DatabaseHandle } from '../db/index.ts';
import { AppError } from '../errors.ts';

const Status = Type.Object({ status: Type.String() });

export const healthRoutes: FastifyPluginAsync<{ database: DatabaseHandle }> = async (app, { database }) => {
  app.get('/healthz', { schema: { tags: ['health'], response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        description: 'Ready when the database answers; otherwise 503 `unavailable`.',
        response: { 200: Status, 503: ErrorSchema },
      },
    },
    async () => {
      if (await database.ping()) return { status: 'ready' };
      throw new AppError('unavailable', 'the database is unreachable');
    },
  );
};
