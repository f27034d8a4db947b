import type { Principal, Scope } from '../auth/principal.ts';
import type { Db } from '../db/index.ts';
import type { OrgRole, Recording } from '../db/schema.ts';
import { AppError } from '../errors.ts';

const RANK: Record<OrgRole, number> = { member: 1, admin: 2, owner: 3 };

/**
 * The least role each action needs in an organisation: the role table of docs/roles.md, in code.
 * Roles are ranked, so an owner may do everything an admin may, and an admin everything a member may.
 */
export const LEAST_ROLE = {
  /** See the org, its members and its recordings; play and download audio. */
  use: 'member',
  /** Record live, upload and stream into the org. */
  record: 'member',
  /** Rename, delete and reprocess a recording one made oneself. */
  manageOwnRecording: 'member',
  /** Rename, delete and reprocess a recording someone else made. */
  manageAnyRecording: 'admin',
  /** Invite people (as member or admin), list and revoke the org's pending invitations. */
  invite: 'admin',
  /** Remove a member or an admin (anyone may leave an org by removing themselves). */
  removeMember: 'admin',
  /** Invite someone as an owner, and remove an owner. */
  manageOwners: 'owner',
  /** Create, list and revoke the org's API keys. */
  manageApiKeys: 'admin',
  /** Change the organisation's settings (auto-transcription). */
  manageSettings: 'admin',
  /** Add, change and delete webhook endpoints, see their secrets once and their delivery log. */
  manageWebhooks: 'admin',
} as const satisfies Record<string, OrgRole>;

export type OrgAction = keyof typeof LEAST_ROLE;

/**
 * The scope an API key needs for each action, on top of its creator's role (a key never does more than
 * the person who made it could). Scopes are not ranked: `admin` does not imply `read`, so a key that
 * only manages the org's keys cannot read its recordings. Every action has a scope, so an action added
 * to LEAST_ROLE does not compile until someone decides what a key needs for it.
 */
export const LEAST_SCOPE = {
  use: 'read',
  record: 'record',
  // A recorder may rename or delete what it recorded (its creator's recordings), not the team's.
  manageOwnRecording: 'record',
  manageAnyRecording: 'admin',
  invite: 'admin',
  removeMember: 'admin',
  manageOwners: 'admin',
  manageApiKeys: 'admin',
  manageSettings: 'admin',
  manageWebhooks: 'admin',
} as const satisfies Record<OrgAction, Scope>;

/** What an actor holds in one org: its role (a key's creator's), and for an API key its scopes. */
export interface OrgGrant {
  orgId: string;
  role: OrgRole;
  /** null for a person, who is limited by their role only. */
  scopes: readonly Scope[] | null;
}

export const allows = (grant: Pick<OrgGrant, 'role' | 'scopes'>, action: OrgAction): boolean =>
  RANK[grant.role] >= RANK[LEAST_ROLE[action]] && (grant.scopes === null || grant.scopes.includes(LEAST_SCOPE[action]));

/**
 * Members manage (rename, delete) the recordings they made; admins and owners manage every recording
 * of the org. A recording made with an API key is its creator's.
 */
export const recordingManageAction = (recording: Pick<Recording, 'user_id'>, userId: string): OrgAction =>
  recording.user_id === userId ? 'manageOwnRecording' : 'manageAnyRecording';

/**
 * Account-level actions (creating organisations, invitations addressed to me, my profile) are a
 * person's: an API key belongs to one org and must not reach its creator's account. Returns the user id.
 */
export function personOnly(actor: Principal, what: string): string {
  if (actor.kind !== 'user') {
    throw new AppError('forbidden', `an API key cannot ${what}; this needs a person signed in`);
  }
  return actor.userId;
}

export interface OrgAccess {
  /**
   * Decides "may this actor do `action` in this org" for every endpoint (default: `use`). Outside the
   * org gets 404, not 403, so org ids cannot be probed; an API key is outside every org but its own. A
   * key without the action's scope gets 403 `insufficient_scope`; a member below the action's role 403
   * `forbidden`.
   */
  require(actor: Principal, orgId: string, action?: OrgAction): Promise<OrgGrant>;
  /** 404 outside the recording's org, 403 for an actor who may not rename or delete this recording. */
  requireRecordingManage(actor: Principal, recording: Pick<Recording, 'org_id' | 'user_id'>): Promise<void>;
  /** Where recordings go when no org is named: a person's personal org, a key's own org. */
  defaultOrgId(actor: Principal): Promise<string>;
  /** Org ids the actor may `use`, for listing across all of them (a key: its own org, if it may read). */
  orgIdsOf(actor: Principal): Promise<string[]>;
}

export function createOrgAccess(db: Db): OrgAccess {
  /** The refusal for an action the grant does not allow: the missing scope first, as a key's owner can fix it. */
  function refuse(grant: OrgGrant, action: OrgAction, roleMessage?: string): AppError {
    const scope = LEAST_SCOPE[action];
    if (grant.scopes && !grant.scopes.includes(scope)) {
      return new AppError('insufficient_scope', `this API key does not have the "${scope}" scope`, {
        details: { scope },
      });
    }
    const byKey = grant.scopes ? " (an API key acts with its creator's role)" : '';
    return new AppError(
      'forbidden',
      (roleMessage ?? `this needs the ${LEAST_ROLE[action]} role in the organisation`) + byKey,
    );
  }

  /** The actor's grant in the org; 404 outside it (for a key, any org but its own). */
  async function grantIn(actor: Principal, orgId: string): Promise<OrgGrant> {
    if (actor.kind === 'api_key' && actor.orgId !== orgId) throw new AppError('not_found', 'organisation not found');
    const membership = await db
      .selectFrom('memberships')
      .select(['role'])
      .where('user_id', '=', actor.userId)
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    if (!membership) throw new AppError('not_found', 'organisation not found');
    return { orgId, role: membership.role, scopes: actor.kind === 'api_key' ? actor.scopes : null };
  }

  const access: OrgAccess = {
    async require(actor, orgId, action = 'use') {
      const grant = await grantIn(actor, orgId);
      if (!allows(grant, action)) throw refuse(grant, action);
      return grant;
    },

    async requireRecordingManage(actor, recording) {
      const grant = await grantIn(actor, recording.org_id);
      const action = recordingManageAction(recording, actor.userId);
      if (!allows(grant, action)) {
        throw refuse(
          grant,
          action,
          'members may rename and delete only the recordings they made; an admin or owner of the organisation manages the others',
        );
      }
    },

    async defaultOrgId(actor) {
      if (actor.kind === 'api_key') return actor.orgId;
      const user = await db
        .selectFrom('users')
        .select('personal_org_id')
        .where('id', '=', actor.userId)
        .executeTakeFirst();
      if (!user) throw new AppError('invalid_token', 'the account for this token no longer exists');
      return user.personal_org_id;
    },

    async orgIdsOf(actor) {
      if (actor.kind === 'api_key') return [(await access.require(actor, actor.orgId, 'use')).orgId];
      const rows = await db.selectFrom('memberships').select('org_id').where('user_id', '=', actor.userId).execute();
      return rows.map((row) => row.org_id);
    },
  };
  return access;
}
