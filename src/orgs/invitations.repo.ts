import { randomUUID } from 'node:crypto';
import type { Db, DbDialect } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { Invitation, OrgRole } from '../db/schema.ts';

/** An invitation as the inviter's org and the invitee see it: never the token or its hash. */
export interface InvitationView {
  id: string;
  org_id: string;
  org_name: string;
  email: string;
  role: OrgRole;
  inviter_email: string;
  inviter_name: string | null;
  created_at: string;
  expires_at: string;
}

export type CreateOutcome =
  | { ok: true; invitation: InvitationView }
  | { ok: false; reason: 'member' }
  /** `oldest`: when the oldest invitation counted against the spent budget was created. */
  | { ok: false; reason: 'rate_limited'; scope: 'inviter' | 'org'; oldest: string };

export interface InvitationsRepo {
  /**
   * Creates an invitation, replacing the address's open one in the org, unless the address already
   * belongs to a member or the inviter or the org has created `limits.perInviter` / `limits.perOrg`
   * invitations since `limits.since`. Runs under the inviter's and the org's row locks (PostgreSQL;
   * SQLite has one writer), so concurrent requests cannot overspend a budget or leave two open
   * invitations.
   */
  create(
    input: { orgId: string; email: string; role: OrgRole; invitedBy: string; tokenHash: string; expiresAt: string },
    limits: { since: string; perInviter: number; perOrg: number },
  ): Promise<CreateOutcome>;
  /** An invitation that is neither accepted nor revoked (it may have expired). */
  findOpen(id: string): Promise<Invitation | undefined>;
  listPendingForOrg(orgId: string, now: string): Promise<InvitationView[]>;
  listPendingForEmail(email: string, now: string): Promise<InvitationView[]>;
  /** Revokes an open invitation of the org; false when there is none with this id. */
  revokeInOrg(id: string, orgId: string): Promise<boolean>;
  /** Revokes an open invitation addressed to `email` (the invitee declines); false when there is none. */
  revokeForEmail(id: string, email: string): Promise<boolean>;
  /**
   * Marks the invitation accepted and makes the user a member with its role, in one transaction.
   * `member`: the user already belongs to the org (nothing changes); `not_pending`: the invitation was
   * accepted, revoked or replaced meanwhile.
   */
  accept(
    invitation: Pick<Invitation, 'id' | 'org_id' | 'role'>,
    userId: string,
  ): Promise<'accepted' | 'member' | 'not_pending'>;
}

export function createInvitationsRepo(db: Db, dialect: DbDialect): InvitationsRepo {
  const views = (q: Db) =>
    q
      .selectFrom('invitations')
      .innerJoin('orgs', 'orgs.id', 'invitations.org_id')
      .innerJoin('users as inviter', 'inviter.id', 'invitations.invited_by')
      .select([
        'invitations.id',
        'invitations.org_id',
        'orgs.name as org_name',
        'invitations.email',
        'invitations.role',
        'inviter.email as inviter_email',
        'inviter.name as inviter_name',
        'invitations.created_at',
        'invitations.expires_at',
      ]);
  const pending = (now: string) =>
    views(db)
      .where('invitations.accepted_at', 'is', null)
      .where('invitations.revoked_at', 'is', null)
      .where('invitations.expires_at', '>', now);

  return {
    create(input, limits) {
      return db.transaction().execute(async (trx): Promise<CreateOutcome> => {
        if (dialect === 'postgres') {
          // Always the inviter's row first, then the org's (as removing a member does): no lock cycles.
          await trx.selectFrom('users').select('id').where('id', '=', input.invitedBy).forUpdate().execute();
          await trx.selectFrom('orgs').select('id').where('id', '=', input.orgId).forUpdate().execute();
        }
        const budgets = [
          { scope: 'inviter', column: 'invited_by', value: input.invitedBy, max: limits.perInviter },
          { scope: 'org', column: 'org_id', value: input.orgId, max: limits.perOrg },
        ] as const;
        for (const { scope, column, value, max } of budgets) {
          const spent = await trx
            .selectFrom('invitations')
            .select((eb) => [eb.fn.countAll<number>().as('count'), eb.fn.min('created_at').as('oldest')])
            .where(column, '=', value)
            .where('created_at', '>=', limits.since)
            .executeTakeFirstOrThrow();
          if (Number(spent.count) >= max && spent.oldest)
            return { ok: false, reason: 'rate_limited', scope, oldest: spent.oldest };
        }
        const member = await trx
          .selectFrom('memberships')
          .innerJoin('users', 'users.id', 'memberships.user_id')
          .select('memberships.user_id')
          .where('memberships.org_id', '=', input.orgId)
          .where('users.email', '=', input.email)
          .executeTakeFirst();
        if (member) return { ok: false, reason: 'member' };

        const now = nowIso();
        await trx
          .updateTable('invitations')
          .set({ revoked_at: now })
          .where('org_id', '=', input.orgId)
          .where('email', '=', input.email)
          .where('accepted_at', 'is', null)
          .where('revoked_at', 'is', null)
          .execute();
        const id = randomUUID();
        await trx
          .insertInto('invitations')
          .values({
            id,
            org_id: input.orgId,
            email: input.email,
            role: input.role,
            invited_by: input.invitedBy,
            token_hash: input.tokenHash,
            created_at: now,
            expires_at: input.expiresAt,
            accepted_at: null,
            revoked_at: null,
          })
          .execute();
        const invitation = await views(trx).where('invitations.id', '=', id).executeTakeFirstOrThrow();
        return { ok: true, invitation };
      });
    },

    findOpen: (id) =>
      db
        .selectFrom('invitations')
        .selectAll()
        .where('id', '=', id)
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .executeTakeFirst(),

    listPendingForOrg: (orgId, now) =>
      pending(now).where('invitations.org_id', '=', orgId).orderBy('invitations.created_at').execute(),

    listPendingForEmail: (email, now) =>
      pending(now).where('invitations.email', '=', email).orderBy('invitations.created_at').execute(),

    async revokeInOrg(id, orgId) {
      const result = await db
        .updateTable('invitations')
        .set({ revoked_at: nowIso() })
        .where('id', '=', id)
        .where('org_id', '=', orgId)
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async revokeForEmail(id, email) {
      const result = await db
        .updateTable('invitations')
        .set({ revoked_at: nowIso() })
        .where('id', '=', id)
        .where('email', '=', email)
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    accept(invitation, userId) {
      return db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('memberships')
          .select('role')
          .where('org_id', '=', invitation.org_id)
          .where('user_id', '=', userId)
          .executeTakeFirst();
        if (existing) return 'member' as const;
        // Conditional on still being open: of two accepts racing (or an accept and a revoke), one wins.
        const marked = await trx
          .updateTable('invitations')
          .set({ accepted_at: nowIso() })
          .where('id', '=', invitation.id)
          .where('accepted_at', 'is', null)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (Number(marked.numUpdatedRows) !== 1) return 'not_pending' as const;
        await trx
          .insertInto('memberships')
          .values({ org_id: invitation.org_id, user_id: userId, role: invitation.role, created_at: nowIso() })
          .onConflict((oc) => oc.columns(['org_id', 'user_id']).doNothing())
          .execute();
        return 'accepted' as const;
      });
    },
  };
}
