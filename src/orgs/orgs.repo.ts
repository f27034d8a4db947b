import { randomUUID } from 'node:crypto';
import type { Db, DbDialect } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { OrgRole } from '../db/schema.ts';

export interface OrgWithRole {
  id: string;
  name: string;
  personal: boolean;
  role: OrgRole;
  created_at: string;
}

export interface Member {
  user_id: string;
  email: string;
  name: string | null;
  role: OrgRole;
  joined_at: string;
}

export interface OrgsRepo {
  listForUser(userId: string): Promise<OrgWithRole[]>;
  findForUser(userId: string, orgId: string): Promise<OrgWithRole | undefined>;
  /** Creates an organisation with `ownerId` as its owner, in one transaction. */
  create(name: string, ownerId: string): Promise<OrgWithRole>;
  listMembers(orgId: string): Promise<Member[]>;
  findMember(orgId: string, userId: string): Promise<Member | undefined>;
  /**
   * Removes a membership unless it is the organisation's last owner, and revokes the invitations the
   * removed member sent and the API keys they created there: an invitation or a key is only as good as
   * its creator's standing in the org.
   */
  removeMember(
    orgId: string,
    userId: string,
  ): Promise<{ ok: true } | { ok: false; reason: 'not_member' | 'last_owner' }>;
}

export function createOrgsRepo(db: Db, dialect: DbDialect): OrgsRepo {
  const orgsOfUser = (userId: string) =>
    db
      .selectFrom('memberships')
      .innerJoin('orgs', 'orgs.id', 'memberships.org_id')
      .select(['orgs.id', 'orgs.name', 'orgs.personal', 'orgs.created_at', 'memberships.role'])
      .where('memberships.user_id', '=', userId);
  const toOrg = (row: { id: string; name: string; personal: number; created_at: string; role: OrgRole }) => ({
    ...row,
    personal: row.personal === 1,
  });
  const members = (orgId: string) =>
    db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select([
        'memberships.user_id',
        'users.email',
        'users.name',
        'memberships.role',
        'memberships.created_at as joined_at',
      ])
      .where('memberships.org_id', '=', orgId);

  return {
    async listForUser(userId) {
      const rows = await orgsOfUser(userId).orderBy('orgs.personal', 'desc').orderBy('orgs.created_at').execute();
      return rows.map(toOrg);
    },

    async findForUser(userId, orgId) {
      const row = await orgsOfUser(userId).where('orgs.id', '=', orgId).executeTakeFirst();
      return row && toOrg(row);
    },

    async create(name, ownerId) {
      const org = { id: randomUUID(), name, personal: 0, created_at: nowIso() };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('orgs').values(org).execute();
        await trx
          .insertInto('memberships')
          .values({ org_id: org.id, user_id: ownerId, role: 'owner', created_at: org.created_at })
          .execute();
      });
      return { ...org, personal: false, role: 'owner' };
    },

    listMembers: (orgId) => members(orgId).orderBy('memberships.created_at').orderBy('users.email').execute(),

    findMember: (orgId, userId) => members(orgId).where('memberships.user_id', '=', userId).executeTakeFirst(),

    removeMember(orgId, userId) {
      return db.transaction().execute(async (trx) => {
        // Serialise membership changes of one org so two owners cannot remove each other at once.
        // SQLite has a single writer already; PostgreSQL takes a row lock on the org.
        if (dialect === 'postgres') {
          await trx.selectFrom('orgs').select('id').where('id', '=', orgId).forUpdate().execute();
        }
        const target = await trx
          .selectFrom('memberships')
          .select('role')
          .where('org_id', '=', orgId)
          .where('user_id', '=', userId)
          .executeTakeFirst();
        if (!target) return { ok: false, reason: 'not_member' } as const;
        if (target.role === 'owner') {
          const owners = await trx
            .selectFrom('memberships')
            .select((eb) => eb.fn.countAll<number>().as('count'))
            .where('org_id', '=', orgId)
            .where('role', '=', 'owner')
            .executeTakeFirstOrThrow();
          if (Number(owners.count) <= 1) return { ok: false, reason: 'last_owner' } as const;
        }
        await trx.deleteFrom('memberships').where('org_id', '=', orgId).where('user_id', '=', userId).execute();
        await trx
          .updateTable('invitations')
          .set({ revoked_at: nowIso() })
          .where('org_id', '=', orgId)
          .where('invited_by', '=', userId)
          .where('accepted_at', 'is', null)
          .where('revoked_at', 'is', null)
          .execute();
        await trx
          .updateTable('api_keys')
          .set({ revoked_at: nowIso() })
          .where('org_id', '=', orgId)
          .where('user_id', '=', userId)
          .where('revoked_at', 'is', null)
          .execute();
        return { ok: true } as const;
      });
    },
  };
}
