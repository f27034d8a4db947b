import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import { liveRoutes } from './live.routes.ts';
import { createLiveService, type LiveService, type LiveServiceDeps } from './live.service.ts';

export type LiveDeps = Omit<LiveServiceDeps, 'live' | 'maxDurationSec' | 'log' | 'nodeId' | 'leaseMs'> & {
  config: Readonly<Config>;
};

/**
 * Wires live recording into the app: the WebSocket plugin (frame limit = the binary frame limit; ws
 * closes with 1009 past it), the route, recovery of this node's recordings after a restart, and a
 * shutdown that saves every live recording before the server closes (preClose runs before the media
 * engine and the database close).
 */
export async function registerLive(app: FastifyInstance, deps: LiveDeps): Promise<LiveService> {
  const { config, ...rest } = deps;
  const live = createLiveService({
    ...rest,
    live: config.live,
    nodeId: config.nodeId,
    leaseMs: config.leases.leaseMs,
    maxDurationSec: config.limits.maxDurationSec,
    log: app.log.child({ module: 'live' }),
  });
  await app.register(fastifyWebsocket, {
    options: { maxPayload: config.live.maxBinaryFrameBytes },
    async preClose() {
      await live.shutdown();
      // ws 8 leaves open connections alone on close(); all of ours were closed by shutdown().
      await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
    },
    // ws reports protocol errors (oversized frame, bad UTF-8) and closes the socket itself (1009, 1007).
    errorHandler(error, _socket, request) {
      request.log.info({ err: error }, 'live socket error');
    },
  });
  await app.register(liveRoutes, { live, allowedOrigins: config.allowedOrigins });
  await live.recover();
  return live;
}
