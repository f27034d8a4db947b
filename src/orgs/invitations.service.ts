import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { emailProblem, normaliseEmail } from '../auth/credentials.ts';
import type { Principal } from '../auth/principal.ts';
import type { UsersRepo } from '../auth/users.repo.ts';
import type { Config } from '../config.ts';
import type { OrgRole } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { allows, type OrgAccess, type OrgGrant, personOnly } from './access.ts';
import type { DeliveryReceipt, InvitationDelivery } from './invitation-delivery.ts';
import type { InvitationsRepo, InvitationView } from './invitations.repo.ts';
import type { OrgsRepo, OrgWithRole } from './orgs.repo.ts';

export interface InvitationsService {
  /**
   * Invites an e-mail address into an org. The answer is the same whether or not the address has an
   * account, so inviting cannot be used to find out who is registered.
   */
  invite(
    actor: Principal,
    orgId: string,
    input: { email: string; role: OrgRole },
  ): Promise<{ invitation: InvitationView; delivery: DeliveryReceipt }>;
  listForOrg(actor: Principal, orgId: string): Promise<InvitationView[]>;
  revoke(actor: Principal, orgId: string, invitationId: string): Promise<void>;
  /** Pending invitations addressed to the signed-in user's e-mail (a person's, never an API key's). */
  listMine(actor: Principal): Promise<InvitationView[]>;
  /** Joins the org: needs the invitation's token and being signed in as the invited address. */
  accept(actor: Principal, invitationId: string, token: string): Promise<OrgWithRole>;
  decline(actor: Principal, invitationId: string): Promise<void>;
}

export interface InvitationsServiceDeps {
  invitations: InvitationsRepo;
  orgs: OrgsRepo;
  users: UsersRepo;
  access: OrgAccess;
  delivery: InvitationDelivery;
  limits: Config['invitations'];
}

const HOUR_MS = 3600_000;
const TOKEN_BYTES = 32;

/** Only the token's SHA-256 is stored: a leaked table does not hand out memberships. */
const digest = (token: string): string => createHash('sha256').update(token).digest('hex');
const sameDigest = (token: string, storedHash: string): boolean =>
  timingSafeEqual(Buffer.from(digest(token), 'hex'), Buffer.from(storedHash, 'hex'));

const notPending = () =>
  new AppError(
    'not_found',
    'no pending invitation with this id for your e-mail address: it may have been accepted, declined, revoked or replaced by a newer one',
  );

export function createInvitationsService(deps: InvitationsServiceDeps): InvitationsService {
  const { invitations, orgs, users, access, delivery, limits } = deps;

  /** Only an owner makes or revokes an invitation as owner (the invite role itself is access.require's). */
  const requireGrant = (grant: OrgGrant, role: OrgRole) => {
    if (role === 'owner' && !allows(grant, 'manageOwners')) {
      throw new AppError('forbidden', 'only an owner can invite an owner or revoke such an invitation');
    }
  };

  const emailOf = async (userId: string): Promise<string> => {
    const user = await users.findById(userId);
    if (!user) throw new AppError('invalid_token', 'the account for this token no longer exists');
    return user.email;
  };

  return {
    async invite(actor, orgId, input) {
      const grant = await access.require(actor, orgId, 'invite');
      requireGrant(grant, input.role);
      const org = await orgs.findForUser(actor.userId, orgId);
      if (org?.personal) {
        throw new AppError('conflict', 'a personal organisation has only its owner; create an organisation to share');
      }
      const email = normaliseEmail(input.email);
      const problem = emailProblem(email);
      if (problem) throw new AppError('validation_failed', problem, { details: { field: 'email' } });

      const token = randomBytes(TOKEN_BYTES).toString('base64url');
      const now = Date.now();
      const outcome = await invitations.create(
        {
          orgId,
          email,
          role: input.role,
          invitedBy: actor.userId,
          tokenHash: digest(token),
          expiresAt: new Date(now + limits.ttlSec * 1000).toISOString(),
        },
        {
          since: new Date(now - HOUR_MS).toISOString(),
          perInviter: limits.perInviterPerHour,
          perOrg: limits.perOrgPerHour,
        },
      );
      if (!outcome.ok && outcome.reason === 'member') {
        // Members are listed to everyone in the org already, so this tells the inviter nothing new.
        throw new AppError('conflict', 'this address belongs to a member of the organisation already', {
          details: { field: 'email' },
        });
      }
      if (!outcome.ok) {
        const retryAfter = Math.max(1, Math.ceil((Date.parse(outcome.oldest) + HOUR_MS - now) / 1000));
        const who =
          outcome.scope === 'inviter'
            ? `you have sent ${limits.perInviterPerHour} invitations`
            : `this organisation has sent ${limits.perOrgPerHour} invitations`;
        throw new AppError('rate_limited', `${who} in the last hour; wait before inviting more`, { retryAfter });
      }
      return { invitation: outcome.invitation, delivery: await delivery.deliver(outcome.invitation, token) };
    },

    async listForOrg(actor, orgId) {
      await access.require(actor, orgId, 'invite');
      return invitations.listPendingForOrg(orgId, new Date().toISOString());
    },

    async revoke(actor, orgId, invitationId) {
      const grant = await access.require(actor, orgId, 'invite');
      const notFound = () => new AppError('not_found', 'no pending invitation with this id in the organisation');
      const invitation = await invitations.findOpen(invitationId);
      if (!invitation || invitation.org_id !== orgId) throw notFound();
      requireGrant(grant, invitation.role);
      if (!(await invitations.revokeInOrg(invitationId, orgId))) throw notFound();
    },

    async listMine(actor) {
      const userId = personOnly(actor, 'see the invitations addressed to its creator');
      return invitations.listPendingForEmail(await emailOf(userId), new Date().toISOString());
    },

    async accept(actor, invitationId, token) {
      const userId = personOnly(actor, 'accept invitations');
      const email = await emailOf(userId);
      const invitation = await invitations.findOpen(invitationId);
      // Someone else's invitation is "not found" too: ids of other people's invitations cannot be probed.
      if (!invitation || invitation.email !== email) throw notPending();
      if (Date.parse(invitation.expires_at) <= Date.now()) {
        throw new AppError('not_found', 'this invitation has expired; ask for a new one');
      }
      // Earshot does not verify e-mail addresses at registration, so the address alone proves little:
      // the token shows the link the inviter sent reached this person.
      if (!sameDigest(token, invitation.token_hash)) {
        throw new AppError(
          'forbidden',
          'this invite link does not match the invitation; open the latest link you were sent (inviting again replaces the link)',
        );
      }
      const accepted = await invitations.accept(invitation, userId);
      if (accepted === 'member') throw new AppError('conflict', 'you are a member of this organisation already');
      if (accepted === 'not_pending') throw notPending();
      const org = await orgs.findForUser(userId, invitation.org_id);
      if (!org) throw new AppError('internal', 'membership vanished after the invitation was accepted');
      return org;
    },

    async decline(actor, invitationId) {
      const userId = personOnly(actor, 'decline invitations');
      if (!(await invitations.revokeForEmail(invitationId, await emailOf(userId)))) throw notPending();
    },
  };
}
