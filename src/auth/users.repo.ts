import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.ts';
import { isUniqueViolation, nowIso } from '../db/index.ts';
import type { User } from '../db/schema.ts';

export type PublicUser = Omit<User, 'password_hash'>;

export interface UsersRepo {
  findByEmail(email: string): Promise<User | undefined>;
  findById(id: string): Promise<PublicUser | undefined>;
  findIdByEmail(email: string): Promise<string | undefined>;
  /** True while the account exists (an access token outlives a deleted account). */
  exists(id: string): Promise<boolean>;
  /** Creates the user, their personal organisation and their owner membership in one transaction. */
  createWithPersonalOrg(input: {
    email: string;
    name: string | null;
    passwordHash: string;
    orgName: string;
  }): Promise<{ ok: true; user: PublicUser } | { ok: false; reason: 'email_taken' }>;
  updatePasswordHash(userId: string, passwordHash: string): Promise<void>;
}

const PUBLIC_COLUMNS = ['id', 'email', 'name', 'personal_org_id', 'created_at'] as const;

export function createUsersRepo(db: Db): UsersRepo {
  return {
    findByEmail: (email) => db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst(),

    findById: (id) => db.selectFrom('users').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst(),

    async findIdByEmail(email) {
      const row = await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
      return row?.id;
    },

    async exists(id) {
      return (await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
    },

    async createWithPersonalOrg({ email, name, passwordHash, orgName }) {
      const createdAt = nowIso();
      const user = { id: randomUUID(), email, name, personal_org_id: randomUUID(), created_at: createdAt };
      try {
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto('orgs')
            .values({ id: user.personal_org_id, name: orgName, personal: 1, created_at: createdAt })
            .execute();
          await trx
            .insertInto('users')
            .values({ ...user, password_hash: passwordHash })
            .execute();
          await trx
            .insertInto('memberships')
            .values({ org_id: user.personal_org_id, user_id: user.id, role: 'owner', created_at: createdAt })
            .execute();
        });
      } catch (error) {
        // Two registrations racing for one address: the unique index decides.
        if (isUniqueViolation(error)) return { ok: false, reason: 'email_taken' };
        throw error;
      }
      return { ok: true, user };
    },

    async updatePasswordHash(userId, passwordHash) {
      await db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', userId).execute();
    },
  };
}
