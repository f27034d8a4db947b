import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';
import type { Metrics } from './metrics.ts';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * GET /metrics in Prometheus' text format, for a scraper holding METRICS_TOKEN (`authorization:
 * credentials` in its scrape config). Off without the token: the numbers say how busy the server is and
 * which routes exist, which is nobody else's business. Not in the OpenAPI document: it is for operators,
 * not API clients.
 */
export async function metricsRoutes(app: FastifyInstance, options: { metrics: Metrics; token: string | undefined }) {
  const expected = options.token === undefined ? undefined : digest(options.token);

  app.get(
    '/metrics',
    // A scrape every few seconds would fill the request log.
    { schema: { hide: true }, logLevel: 'warn' },
    async (request, reply) => {
      if (!expected) throw new AppError('not_found', 'metrics are off: set METRICS_TOKEN to turn them on');
      const sent = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      // Compared as digests, in constant time: the answer's timing says nothing about the token.
      if (!sent || !timingSafeEqual(digest(sent), expected)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        throw new AppError('unauthenticated', 'send Authorization: Bearer <METRICS_TOKEN>');
      }
      reply.header('cache-control', 'no-store').type(options.metrics.registry.contentType);
      return options.metrics.registry.metrics();
    },
  );
}
