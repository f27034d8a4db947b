import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import type { RateLimiter } from '../cluster/rate-limiter.ts';
import { AppError } from '../errors.ts';
import { authenticate } from '../http/authenticate.ts';
import { errors, noContent, response } from '../http/openapi.ts';
import {
  LoginFormBody,
  LoginJsonBody,
  MeSchema,
  RefreshBody,
  RegisterBody,
  TokenPairSchema,
  UserSchema,
} from './auth.schemas.ts';
import type { AuthService } from './auth.service.ts';
import type { TokenService } from './tokens.ts';

export interface AuthRoutesOptions {
  auth: AuthService;
  tokens: TokenService;
  limiter: RateLimiter;
  /** Login and register attempts per client address per minute. */
  perIpPerMinute: number;
  bodyLimit: number;
}

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  const { auth, tokens } = options;
  // Login also takes the OAuth2 password form (text/plain bodies are refused at the app root).
  await app.register(formbody, { bodyLimit: options.bodyLimit });
  // Every login and register attempt counts against the client's address, on every node alike: each
  // one costs an Argon2 hash.
  const perIpRule = { max: options.perIpPerMinute, windowMs: 60_000 };
  const perIp = async (request: FastifyRequest) => {
    // Login and register each have their own budget.
    const verdict = await options.limiter.consume(`ip:${request.routeOptions.url}:${request.ip}`, perIpRule);
    if (!verdict.allowed) {
      throw new AppError('rate_limited', `too many attempts from this address; retry in ${verdict.retryAfterSec} s`, {
        retryAfter: verdict.retryAfterSec,
      });
    }
  };
  const tags = ['auth'];
  // Signing up and signing in need no credentials: no bearer token in the document either.
  const security: [] = [];

  app.post(
    '/register',
    {
      preHandler: perIp,
      schema: {
        tags,
        operationId: 'registerUser',
        security,
        summary: 'Create an account and its personal organisation',
        body: RegisterBody,
        response: {
          201: response('The account was created; sign in with POST /api/auth/login', UserSchema),
          ...errors(400, 409, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => reply.status(201).send(await auth.register(request.body)),
  );

  app.post(
    '/login',
    {
      preHandler: perIp,
      schema: {
        tags,
        operationId: 'login',
        security,
        summary: 'Sign in with e-mail and password (JSON, or the OAuth2 password form with `username`)',
        body: {
          content: {
            'application/json': { schema: LoginJsonBody },
            'application/x-www-form-urlencoded': { schema: LoginFormBody },
          },
        },
        response: {
          200: response('Signed in: a new token pair', TokenPairSchema),
          ...errors(400, 401, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof LoginJsonBody> | Static<typeof LoginFormBody>;
      const email = 'username' in body ? body.username : body.email;
      reply.header('cache-control', 'no-store');
      return auth.login({ email, password: body.password });
    },
  );

  app.post(
    '/refresh',
    {
      schema: {
        tags,
        operationId: 'refreshTokens',
        security,
        summary: 'Exchange a refresh token for a new token pair (the old refresh token stops working)',
        body: RefreshBody,
        response: {
          200: response('A new token pair; the refresh token sent is spent', TokenPairSchema),
          ...errors(400, 401, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return auth.refresh(request.body.refresh_token);
    },
  );

  app.post(
    '/logout',
    {
      schema: {
        tags,
        operationId: 'logout',
        security,
        summary: 'Revoke a refresh token and every token rotated from the same sign-in',
        body: RefreshBody,
        response: {
          204: noContent('Signed out: the refresh token no longer works (also when it did not before)'),
          ...errors(400, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      await auth.logout(request.body.refresh_token);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/me',
    {
      preHandler: authenticate(tokens),
      schema: {
        tags,
        operationId: 'getCurrentUser',
        summary: 'The signed-in user and their organisations with roles',
        response: { 200: response('The signed-in user', MeSchema), ...errors(401, 403) },
      },
    },
    async (request) => auth.me(request.user),
  );
};
