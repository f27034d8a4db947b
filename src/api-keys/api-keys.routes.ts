import { type FastifyPluginAsyncTypebox, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TokenService } from '../auth/tokens.ts';
import { authenticate } from '../http/authenticate.ts';
import { errors, noContent, response } from '../http/openapi.ts';
import { OrgParams } from '../orgs/orgs.schemas.ts';
import { ApiKeyListSchema, ApiKeyParams, CreateApiKeyBody, CreatedApiKeySchema } from './api-keys.schemas.ts';
import type { ApiKeysService } from './api-keys.service.ts';

export interface ApiKeysRoutesOptions {
  apiKeys: ApiKeysService;
  tokens: TokenService;
}

/** An organisation's API keys, under /api/orgs/:id/api-keys (owner or admin, or a key with `admin`). */
export const apiKeysRoutes: FastifyPluginAsyncTypebox<ApiKeysRoutesOptions> = async (app, { apiKeys, tokens }) => {
  // No coercion of body values and unknown properties rejected (see auth.routes.ts).
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.removeContentTypeParser('text/plain');
  app.addHook('preHandler', authenticate(tokens));

  const tags = ['api-keys'];
  const failures = errors(400, 401, 403, 404, 413, 415, 422);

  app.post(
    '/:id/api-keys',
    {
      schema: {
        tags,
        operationId: 'createApiKey',
        summary: 'Create an API key for machines (owner or admin, or a key with the admin scope)',
        description:
          'Answers 201 with the key and its token, `esk_<id>_<secret>`, which is shown this once: only a hash of ' +
          'the secret is stored. The key works in this organisation only, with the scopes given and at most the ' +
          'role of its creator, whose recordings the ones it makes are. Removing the creator from the organisation ' +
          'revokes their keys there. A key creating a key cannot give it scopes it lacks itself, nor a later ' +
          'expiry. See docs/integrations.md.',
        params: OrgParams,
        body: CreateApiKeyBody,
        response: { 201: response('The key was created: keep its token now', CreatedApiKeySchema), ...failures },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await apiKeys.create(request.user, request.params.id, request.body)),
  );

  app.get(
    '/:id/api-keys',
    {
      schema: {
        tags,
        operationId: 'listApiKeys',
        summary: "The organisation's API keys that are not revoked (owner or admin, or a key with admin)",
        description: 'Never the secrets. Expired keys stay listed until revoked.',
        params: OrgParams,
        response: { 200: response('The keys', ApiKeyListSchema), ...failures },
      },
    },
    async (request) => ({ api_keys: await apiKeys.list(request.user, request.params.id) }),
  );

  app.delete(
    '/:id/api-keys/:keyId',
    {
      schema: {
        tags,
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key (owner or admin, or a key with admin); it is refused from the next request on',
        description:
          'Every node checks keys in the database on each use, so the revocation holds at once everywhere. A live ' +
          'session the key opened before goes on until it ends; it cannot be resumed with the key.',
        params: ApiKeyParams,
        response: { 204: noContent('Revoked'), ...failures },
      },
    },
    async (request, reply) => {
      await apiKeys.revoke(request.user, request.params.id, request.params.keyId);
      return reply.status(204).send(null);
    },
  );
};
