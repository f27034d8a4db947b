import type { Db } from '../db/index.ts';
import type { OrgRole, Recording } from '../db/schema.ts';
import { AppError } from '../errors.ts';

const RANK: Record<OrgRole, number> = { member: 1, admin: 2, owner: 3 };

/**
 * The least role each action needs in an organisation: the role table of docs/roles.md, in code.
 * Roles are ranked, so an owner may do everything an admin may, and an admin everything a member may.
 */
export const LEAST_ROLE = {
  /** See the org's recordings and members; play and download audio; record, upload and stream into it. */
  use: 'member',
  /** Rename and delete a recording one made oneself. */
  manageOwnRecording: 'member',
  /** Rename and delete a recording someone else made. */
  manageAnyRecording: 'admin',
  /** Invite people (as member or admin), list and revoke the org's pending invitations. */
  invite: 'admin',
  /** Remove a member or an admin (anyone may leave an org by removing themselves). */
  removeMember: 'admin',
  /** Invite someone as an owner, and remove an owner. */
  manageOwners: 'owner',
  /** Add, change and delete webhook endpoints, see their secrets once and their delivery log. */
  manageWebhooks: 'admin',
} as const satisfies Record<string, OrgRole>;

export type OrgAction = keyof typeof LEAST_ROLE;

export const allows = (role: OrgRole, action: OrgAction): boolean => RANK[role] >= RANK[LEAST_ROLE[action]];

/**
 * Members manage (rename, delete) the recordings they made; admins and owners manage every recording
 * of the org. Seeing and playing a recording needs only membership.
 */
export function canManageRecording(role: OrgRole, recording: Pick<Recording, 'user_id'>, userId: string): boolean {
  return allows(role, recording.user_id === userId ? 'manageOwnRecording' : 'manageAnyRecording');
}

export interface OrgAccess {
  /**
   * Decides "may this user act in this org" for every endpoint. A user outside the org gets 404, not
   * 403, so org ids cannot be probed; a member below `minRole` gets 403. Pass `LEAST_ROLE.<action>`.
   */
  require(userId: string, orgId: string, minRole?: OrgRole): Promise<{ orgId: string; role: OrgRole }>;
  /** 404 outside the recording's org, 403 for a member who may not rename or delete this recording. */
  requireRecordingManage(userId: string, recording: Pick<Recording, 'org_id' | 'user_id'>): Promise<void>;
  personalOrgId(userId: string): Promise<string>;
  /** Org ids the user belongs to, for listing across all of them. */
  orgIdsOf(userId: string): Promise<string[]>;
}

export function createOrgAccess(db: Db): OrgAccess {
  const access: OrgAccess = {
    async require(userId, orgId, minRole = LEAST_ROLE.use) {
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

    async requireRecordingManage(userId, recording) {
      const { role } = await access.require(userId, recording.org_id);
      if (!canManageRecording(role, recording, userId)) {
        throw new AppError(
          'forbidden',
          'members may rename and delete only the recordings they made; an admin or owner of the organisation manages the others',
        );
      }
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
  return access;
}
