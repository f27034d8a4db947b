import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { DatabaseHandle } from '../db/index.ts';

const Status = Type.Object({ status: Type.String() });

export const healthRoutes: FastifyPluginAsync<{ database: DatabaseHandle }> = async (app, { database }) => {
  app.get('/healthz', { schema: { tags: ['health'], response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { tags: ['health'], response: { 200: Status, 503: Status } } },
    async (_request, reply) => {
      if (await database.ping()) return { status: 'ready' };
      return reply.status(503).send({ status: 'database unreachable' });
    },
  );
};
