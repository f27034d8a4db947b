import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { TokenService } from '../auth/tokens.ts';
import { authenticate } from '../http/authenticate.ts';
import { errors, noContent, response } from '../http/openapi.ts';
import {
  CreateOrgBody,
  MemberListSchema,
  MemberParams,
  OrgListSchema,
  OrgParams,
  OrgWithRoleSchema,
} from './orgs.schemas.ts';
import type { OrgsService } from './orgs.service.ts';

export interface OrgsRoutesOptions {
  orgs: OrgsService;
  tokens: TokenService;
}

export const orgsRoutes: FastifyPluginAsyncTypebox<OrgsRoutesOptions> = async (app, { orgs, tokens }) => {
  app.addHook('preHandler', authenticate(tokens));

  const tags = ['orgs'];
  const failures = errors(400, 401, 403, 404, 413, 415, 422);

  app.get(
    '/',
    {
      schema: {
        tags,
        operationId: 'listOrgs',
        summary: 'The organisations I belong to, with my role in each',
        response: { 200: response('My organisations', OrgListSchema), ...failures },
      },
    },
    async (request) => ({ orgs: await orgs.list(request.user) }),
  );

  app.post(
    '/',
    {
      schema: {
        tags,
        operationId: 'createOrg',
        summary: 'Create an organisation; I become its owner',
        body: CreateOrgBody,
        response: { 201: response('The organisation was created', OrgWithRoleSchema), ...failures },
      },
    },
    async (request, reply) => reply.status(201).send(await orgs.create(request.user, request.body.name)),
  );

  app.get(
    '/:id/members',
    {
      schema: {
        tags,
        operationId: 'listMembers',
        summary: 'Members of an organisation I belong to',
        description: 'People join by accepting an invitation: see POST /api/orgs/{id}/invitations.',
        params: OrgParams,
        response: { 200: response('The members', MemberListSchema), ...failures },
      },
    },
    async (request) => ({ members: await orgs.members(request.user, request.params.id) }),
  );

  app.delete(
    '/:id/members/:userId',
    {
      schema: {
        tags,
        operationId: 'removeMember',
        summary: 'Remove a member (owner or admin), or leave (anyone); the last owner cannot be removed',
        description:
          'Admins remove members and admins, owners remove anyone. Invitations the removed member sent and nobody has ' +
          'accepted yet, and the API keys they created in the organisation, are revoked.',
        params: MemberParams,
        response: {
          204: noContent('Removed (or left)'),
          ...failures,
          ...errors(409),
        },
      },
    },
    async (request, reply) => {
      await orgs.removeMember(request.user, request.params.id, request.params.userId);
      return reply.status(204).send(null);
    },
  );
};
