import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { TokenService } from '../auth/tokens.ts';
import { AppError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the `authenticate` pre-handler on routes that require a signed-in user. */
    user: { id: string };
  }
}

/** Reads `Authorization: Bearer <token>` (RFC 6750) and checks it with the shared token validator. */
export function authenticate(tokens: TokenService): preHandlerAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (!match?.[1]) {
      reply.header('www-authenticate', 'Bearer');
      throw new AppError('unauthenticated', 'sign in: send Authorization: Bearer <access token>');
    }
    try {
      const claims = await tokens.validateAccessToken(match[1]);
      request.user = { id: claims.userId };
    } catch (error) {
      reply.header('www-authenticate', 'Bearer error="invalid_token"');
      throw error;
    }
  };
}
