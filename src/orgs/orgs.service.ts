import { AppError } from '../errors.ts';
import { allows, LEAST_ROLE, type OrgAccess } from './access.ts';
import type { Member, OrgsRepo, OrgWithRole } from './orgs.repo.ts';

export interface OrgsService {
  list(userId: string): Promise<OrgWithRole[]>;
  create(userId: string, name: string): Promise<OrgWithRole>;
  members(userId: string, orgId: string): Promise<Member[]>;
  removeMember(userId: string, orgId: string, memberId: string): Promise<void>;
}

/**
 * Every decision about who may act in an org goes through `access.require` (404 for outsiders) and the
 * role table in access.ts. People join an org by accepting an invitation (invitations.service.ts).
 */
export function createOrgsService(deps: { orgs: OrgsRepo; access: OrgAccess }): OrgsService {
  const { orgs, access } = deps;

  return {
    list: (userId) => orgs.listForUser(userId),

    async create(userId, rawName) {
      const name = rawName.trim();
      if (!name) throw new AppError('validation_failed', 'name must not be blank', { details: { field: 'name' } });
      return orgs.create(name, userId);
    },

    async members(userId, orgId) {
      await access.require(userId, orgId, LEAST_ROLE.use);
      return orgs.listMembers(orgId);
    },

    async removeMember(userId, orgId, memberId) {
      if (memberId !== userId) {
        const { role: myRole } = await access.require(userId, orgId, LEAST_ROLE.removeMember);
        const target = await orgs.findMember(orgId, memberId);
        if (!target) throw new AppError('not_found', 'this user is not a member of the organisation');
        if (target.role === 'owner' && !allows(myRole, 'manageOwners')) {
          throw new AppError('forbidden', 'only an owner can remove an owner');
        }
      } else {
        // Anyone may leave an organisation they belong to (except its last owner, below).
        await access.require(userId, orgId, LEAST_ROLE.use);
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
