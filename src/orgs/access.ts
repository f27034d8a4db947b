import type { Db } from '../db/index.ts';
import type { OrgRole } from '../db/schema.ts';
import { AppError } from '../errors.ts';

const RANK: Record<OrgRole, number> = { member: 1, admin: 2, owner: 3 };

export interface OrgAccess {
  /**
   * Decides "may this user act in this org" for every endpoint. A user outside the org gets 404, not
   * 403, so org ids cannot be probed; a member below `minRole` gets 403.
   */
  require(userId: string, orgId: string, minRole?: OrgRole): Promise<{ orgId: string; role: OrgRole }>;
  personalOrgId(userId: string): Promise<string>;
  /** Org ids the user belongs to, for listing across all of them. */
  orgIdsOf(userId: string): Promise<string[]>;
}

export function createOrgAccess(db: Db): OrgAccess {
  return {
    async require(userId, orgId, minRole = 'member') {
      const membership = await db
        .selectFrom('memberships')
        .select(['role'])
        .where('user_id', '=', userId)
        .where('org_id', '=', orgId)
        .executeTakeFirst();
      if (!membership) throw new AppError('not_found', 'organisation not found');
      if (RANK[membership.role] < RANK[minRole]) {
        throw new AppError('forbidden', `this needs the ${minRole} role in the organisation`);
      }
      return { orgId, role: membership.role };
    },

    async personalOrgId(userId) {
      const user = await db.selectFrom('users').select('personal_org_id').where('id', '=', userId).executeTakeFirst();
      if (!user) throw new AppError('invalid_token', 'the account for this token no longer exists');
      return user.personal_org_id;
    },

    async orgIdsOf(userId) {
      const rows = await db.selectFrom('memberships').select('org_id').where('user_id', '=', userId).execute();
      return rows.map((row) => row.org_id);
    },
  };
}
