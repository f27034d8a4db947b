import { type FastifyPluginAsyncTypebox, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TokenService } from '../auth/tokens.ts';
import { authenticate } from '../http/authenticate.ts';
import { errors, noContent, response } from '../http/openapi.ts';
import {
  AcceptBody,
  InvitationListSchema,
  InvitationParams,
  InviteBody,
  InviteResultSchema,
  OrgInvitationParams,
} from './invitations.schemas.ts';
import type { InvitationsService } from './invitations.service.ts';
import { OrgParams, OrgWithRoleSchema } from './orgs.schemas.ts';

export interface InvitationsRoutesOptions {
  invitations: InvitationsService;
  tokens: TokenService;
}

/** Invitations, the one way into an org: an admin's side under /api/orgs/:id, the invitee's under /api/invitations. */
export const invitationsRoutes: FastifyPluginAsyncTypebox<InvitationsRoutesOptions> = async (
  app,
  { invitations, tokens },
) => {
  // No coercion of body values and unknown properties rejected (see auth.routes.ts).
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.removeContentTypeParser('text/plain');
  app.addHook('preHandler', authenticate(tokens));

  const tags = ['invitations'];
  const failures = errors(400, 401, 403, 404, 409, 413, 415, 422);

  app.post(
    '/orgs/:id/invitations',
    {
      schema: {
        tags,
        operationId: 'createInvitation',
        summary: 'Invite an e-mail address into an organisation (owner or admin; only an owner invites an owner)',
        description:
          'Answers 202 with the same body whether or not the address has an account. Earshot sends no e-mail: ' +
          'the response carries the secret token once, and the inviter passes the link on. The invitee accepts ' +
          'while signed in as the invited address; only then are they a member. Inviting an address again ' +
          'replaces its pending invitation (the old link stops working). Limited per inviter and per ' +
          'organisation per hour (429 with Retry-After).',
        params: OrgParams,
        body: InviteBody,
        response: {
          202: response('Invited: pass the link with the token on to the invitee', InviteResultSchema),
          ...failures,
          ...errors(429),
        },
      },
    },
    async (request, reply) =>
      reply.status(202).send(await invitations.invite(request.user, request.params.id, request.body)),
  );

  app.get(
    '/orgs/:id/invitations',
    {
      schema: {
        tags,
        operationId: 'listOrgInvitations',
        summary: 'Pending invitations of an organisation (owner or admin)',
        params: OrgParams,
        response: { 200: response('The pending invitations', InvitationListSchema), ...failures },
      },
    },
    async (request) => ({ invitations: await invitations.listForOrg(request.user, request.params.id) }),
  );

  app.delete(
    '/orgs/:id/invitations/:invitationId',
    {
      schema: {
        tags,
        operationId: 'revokeInvitation',
        summary: 'Revoke a pending invitation (owner or admin; an invitation as owner: owner)',
        params: OrgInvitationParams,
        response: { 204: noContent('Revoked: its link no longer works'), ...failures },
      },
    },
    async (request, reply) => {
      await invitations.revoke(request.user, request.params.id, request.params.invitationId);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/invitations',
    {
      schema: {
        tags,
        operationId: 'listMyInvitations',
        summary: "Pending invitations addressed to the signed-in user's e-mail",
        response: { 200: response('The invitations addressed to me', InvitationListSchema), ...failures },
      },
    },
    async (request) => ({ invitations: await invitations.listMine(request.user) }),
  );

  app.post(
    '/invitations/:id/accept',
    {
      schema: {
        tags,
        operationId: 'acceptInvitation',
        summary: 'Accept an invitation and join its organisation',
        description:
          'Needs both: being signed in as the invited address, and the token from the invite link. ' +
          'Earshot does not verify addresses at registration, so the token is what shows the link reached ' +
          'the person the inviter meant; the address match makes a forwarded or leaked link useless to anyone else.',
        params: InvitationParams,
        body: AcceptBody,
        response: { 200: response('Joined: the organisation and my role in it', OrgWithRoleSchema), ...failures },
      },
    },
    async (request) => invitations.accept(request.user, request.params.id, request.body.token),
  );

  app.post(
    '/invitations/:id/decline',
    {
      schema: {
        tags,
        operationId: 'declineInvitation',
        summary: 'Decline an invitation addressed to me (no token needed)',
        params: InvitationParams,
        response: { 204: noContent('Declined'), ...failures },
      },
    },
    async (request, reply) => {
      await invitations.decline(request.user, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
