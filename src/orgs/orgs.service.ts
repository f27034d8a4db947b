import type { Principal } from '../auth/principal.ts';
import { AppError } from '../errors.ts';
import { allows, type OrgAccess, personOnly } from './access.ts';
import type { Member, OrgsRepo, OrgWithRole } from './orgs.repo.ts';

export interface OrgsService {
  list(actor: Principal): Promise<OrgWithRole[]>;
  create(actor: Principal, name: string): Promise<OrgWithRole>;
  members(actor: Principal, orgId: string): Promise<Member[]>;
  removeMember(actor: Principal, orgId: string, memberId: string): Promise<void>;
}

/**
 * Every decision about who may act in an org goes through `access.require` (404 for outsiders) and the
 * role table in access.ts. People join an org by accepting an invitation (invitations.service.ts).
 */
export function createOrgsService(deps: { orgs: OrgsRepo; access: OrgAccess }): OrgsService {
  const { orgs, access } = deps;

  return {
    async list(actor) {
      if (actor.kind === 'user') return orgs.listForUser(actor.userId);
      // A key sees its own organisation only, with its creator's role.
      await access.require(actor, actor.orgId, 'use');
      const org = await orgs.findForUser(actor.userId, actor.orgId);
      return org ? [org] : [];
    },

    async create(actor, rawName) {
      const userId = personOnly(actor, 'create organisations');
      const name = rawName.trim();
      if (!name) throw new AppError('validation_failed', 'name must not be blank', { details: { field: 'name' } });
      return orgs.create(name, userId);
    },

    async members(actor, orgId) {
      await access.require(actor, orgId, 'use');
      return orgs.listMembers(orgId);
    },

    async removeMember(actor, orgId, memberId) {
      // Leaving is a person's own choice; a key removing its creator is a removal like any other.
      if (memberId !== actor.userId || actor.kind === 'api_key') {
        const grant = await access.require(actor, orgId, 'removeMember');
        const target = await orgs.findMember(orgId, memberId);
        if (!target) throw new AppError('not_found', 'this user is not a member of the organisation');
        if (target.role === 'owner' && !allows(grant, 'manageOwners')) {
          throw new AppError('forbidden', 'only an owner can remove an owner');
        }
      } else {
        // Anyone may leave an organisation they belong to (except its last owner, below).
        await access.require(actor, orgId, 'use');
      }
      const removed = await orgs.removeMember(orgId, memberId);
      if (removed.ok) return;
      if (removed.reason === 'last_owner') {
        throw new AppError('conflict', 'cannot remove the last owner; make another member an owner first');
      }
      throw new AppError('not_found', 'this user is not a member of the organisation');
    },
  };
}
