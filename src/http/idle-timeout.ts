import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';

/**
 * A request that stops sending is cut after `idleMs` without a byte, however long it has been flowing
 * before: a large upload on a slow link is never capped, a stalled one is.
 *
 * The limit is Node's socket inactivity timeout (`server.timeout`). When it fires Node asks, in turn,
 * the incomplete request, the response in progress and the server whether anyone handles it, and
 * destroys the socket if nobody does (node/lib/_http_server.js, socketOnTimeout). So:
 * - headers that stall (including a WebSocket upgrade request, whose handshake has no body) have no
 *   request object yet: the connection is closed;
 * - a body that stalls: the code reading it fails with `request_timeout`, which answers 408 and closes
 *   the connection; with nobody reading it, the connection is closed at once;
 * - a complete request whose answer takes a while (an upload waiting for processing) is the server's
 *   silence, not the client's: the response's listener keeps the connection.
 * WebSocket connections are not affected: ws turns the timeout off once the upgrade is done.
 */
export function registerIdleTimeout(app: FastifyInstance, idleMs: number): void {
  app.server.setTimeout(idleMs);
  app.addHook('onRequest', async (request, reply) => {
    let stalled = false;
    request.raw.on('timeout', () => {
      // Fails whoever reads the body (Fastify's parsers, multipart, a route's own loop) through the
      // normal error path; a second stall, or no reader, means nobody will answer: close.
      if (!stalled && request.raw.listenerCount('error') > 0) {
        stalled = true;
        request.raw.emit(
          'error',
          new AppError('request_timeout', `no bytes of the request body arrived for ${idleMs} ms`),
        );
      } else {
        request.raw.socket?.destroy();
      }
    });
    reply.raw.on('timeout', keepConnection);
  });
}

// The request is complete and the answer is on its way: the connection stays open.
function keepConnection(): void {}
