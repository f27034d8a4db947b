import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import type { TokenService } from '../auth/tokens.ts';
import { AppError, isAppError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by the `authenticate` pre-handler on routes that require a signed-in user or an API key. Pass
     * it whole to the services: src/orgs/access.ts decides what it may do (a key: its org, its scopes).
     */
    user: Principal;
  }
}

/** Reads `Authorization: Bearer <token>` (RFC 6750) and checks it with the shared token validator. */
export function authenticate(tokens: TokenService): preHandlerAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (!match?.[1]) {
      reply.header('www-authenticate', 'Bearer');
      throw new AppError('unauthenticated', 'sign in: send Authorization: Bearer <access token or API key>');
    }
    try {
      request.user = await tokens.validateAccessToken(match[1]);
    } catch (error) {
      // Not on a database outage while an API key is checked: the key may be fine.
      if (isAppError(error) && error.code === 'invalid_token') {
        reply.header('www-authenticate', 'Bearer error="invalid_token"');
      }
      throw error;
    }
  };
}
