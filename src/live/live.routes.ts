import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { AppError } from '../errors.ts';
import type { LiveService } from './live.service.ts';
import { isOriginAllowed } from './origin.ts';
import { LIVE_PATH } from './protocol.ts';
import type { Transport } from './session.ts';

export interface LiveRoutesOptions {
  live: LiveService;
  allowedOrigins: readonly string[];
}

/** The WebSocket endpoint: an origin check before the upgrade, then frames in and out of a LiveSession. */
export async function liveRoutes(app: FastifyInstance, { live, allowedOrigins }: LiveRoutesOptions): Promise<void> {
  app.get(
    LIVE_PATH,
    {
      websocket: true,
      // Runs before the upgrade: a refused origin gets a plain HTTP 403 and never a WebSocket.
      onRequest: async (request) => {
        if (!isOriginAllowed(request.headers.origin, request.headers.host, allowedOrigins)) {
          throw new AppError('forbidden', 'this origin may not open live recording sessions');
        }
      },
    },
    (socket: WebSocket) => {
      const session = live.connect(transportFor(socket));
      socket.on('message', (data, isBinary) => session.onMessage(data as Buffer, isBinary));
      socket.on('close', (code) => session.onClose(code));
    },
  );
}

function transportFor(socket: WebSocket): Transport {
  const open = () => socket.readyState === socket.OPEN;
  return {
    send(message) {
      if (open()) socket.send(JSON.stringify(message));
    },
    close(code, reason) {
      if (!open()) return;
      // A socket paused for backpressure never reads the peer's close frame or FIN, so the closing
      // handshake would wait out ws's 30 s timeout; reading again lets it finish (RFC 6455 §7.1.2).
      socket.resume();
      socket.close(code, reason);
    },
    // ws pause()/resume() stop reading from the TCP socket, so a fast client is held back by TCP flow
    // control instead of filling the server's memory.
    pause() {
      if (open()) socket.pause();
    },
    resume() {
      if (open()) socket.resume();
    },
  };
}
