import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorSchema } from '../auth/auth.schemas.ts';
import type { TokenService } from '../auth/tokens.ts';
import { authenticate } from '../http/authenticate.ts';
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
  const security = [{ bearer: [] }];
  const errors = {
    400: ErrorSchema,
    401: ErrorSchema,
    403: ErrorSchema,
    404: ErrorSchema,
    413: ErrorSchema,
    415: ErrorSchema,
    422: ErrorSchema,
  };

  app.get(
    '/',
    {
      schema: {
        tags,
        security,
        summary: 'The organisations I belong to, with my role in each',
        response: { 200: OrgListSchema, ...errors },
      },
    },
    async (request) => ({ orgs: await orgs.list(request.user) }),
  );

  app.post(
    '/',
    {
      schema: {
        tags,
        security,
        summary: 'Create an organisation; I become its owner',
        body: CreateOrgBody,
        response: { 201: OrgWithRoleSchema, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await orgs.create(request.user, request.body.name)),
  );

  app.get(
    '/:id/members',
    {
      schema: {
        tags,
        security,
        summary: 'Members of an organisation I belong to',
        description: 'People join by accepting an invitation: see POST /api/orgs/{id}/invitations.',
        params: OrgParams,
        response: { 200: MemberListSchema, ...errors },
      },
    },
    async (request) => ({ members: await orgs.members(request.user, request.params.id) }),
  );

  app.delete(
    '/:id/members/:userId',
    {
      schema: {
        tags,
        security,
        summary: 'Remove a member (owner or admin), or leave (anyone); the last owner cannot be removed',
        description:
          'Admins remove members and admins, owners remove anyone. Invitations the removed member sent and nobody has ' +
          'accepted yet, and the API keys they created in the organisation, are revoked.',
        params: MemberParams,
        response: { 204: Type.Null(), 409: ErrorSchema, ...errors },
      },
    },
    async (request, reply) => {
      await orgs.removeMember(request.user, request.params.id, request.params.userId);
      return reply.status(204).send(null);
    },
  );
};
