import { normaliseEmail } from '../auth/credentials.ts';
import type { UsersRepo } from '../auth/users.repo.ts';
import type { OrgRole } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { OrgAccess } from './access.ts';
import type { Member, OrgsRepo, OrgWithRole } from './orgs.repo.ts';

export interface OrgsService {
  list(userId: string): Promise<OrgWithRole[]>;
  create(userId: string, name: string): Promise<OrgWithRole>;
  members(userId: string, orgId: string): Promise<Member[]>;
  addMember(userId: string, orgId: string, input: { email: string; role: OrgRole }): Promise<Member>;
  removeMember(userId: string, orgId: string, memberId: string): Promise<void>;
}

/** Every decision about who may act in an org goes through `access.require` (404 for outsiders). */
export function createOrgsService(deps: { orgs: OrgsRepo; users: UsersRepo; access: OrgAccess }): OrgsService {
  const { orgs, users, access } = deps;

  return {
    list: (userId) => orgs.listForUser(userId),

    async create(userId, rawName) {
      const name = rawName.trim();
      if (!name) throw new AppError('validation_failed', 'name must not be blank', { details: { field: 'name' } });
      return orgs.create(name, userId);
    },

    async members(userId, orgId) {
      await access.require(userId, orgId, 'member');
      return orgs.listMembers(orgId);
    },

    async addMember(userId, orgId, input) {
      const { role: myRole } = await access.require(userId, orgId, 'admin');
      if (input.role === 'owner' && myRole !== 'owner') {
        throw new AppError('forbidden', 'only an owner can make someone an owner');
      }
      const org = await orgs.findForUser(userId, orgId);
      if (org?.personal) {
        throw new AppError('conflict', 'a personal organisation has only its owner; create an organisation to share');
      }
      const memberId = await users.findIdByEmail(normaliseEmail(input.email));
      if (!memberId) {
        throw new AppError('validation_failed', 'no account is registered with this email; they must register first', {
          details: { field: 'email' },
        });
      }
      const added = await orgs.addMember(orgId, memberId, input.role);
      if (!added.ok) throw new AppError('conflict', 'this user is already a member of the organisation');
      const member = await orgs.findMember(orgId, memberId);
      if (!member) throw new AppError('internal', 'membership vanished after it was added');
      return member;
    },

    async removeMember(userId, orgId, memberId) {
      if (memberId !== userId) {
        const { role: myRole } = await access.require(userId, orgId, 'admin');
        const target = await orgs.findMember(orgId, memberId);
        if (!target) throw new AppError('not_found', 'this user is not a member of the organisation');
        if (target.role === 'owner' && myRole !== 'owner') {
          throw new AppError('forbidden', 'only an owner can remove an owner');
        }
      } else {
        // Anyone may leave an organisation they belong to (except its last owner, below).
        await access.require(userId, orgId, 'member');
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
