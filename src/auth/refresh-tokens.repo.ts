import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { RefreshToken } from '../db/schema.ts';

export interface RefreshTokensRepo {
  insert(input: { familyId: string; userId: string; tokenHash: string; expiresAt: string }): Promise<void>;
  findByHash(tokenHash: string): Promise<RefreshToken | undefined>;
  /**
   * Marks the token used if, and only if, it is still unused and not revoked: of two requests racing
   * with the same token exactly one wins; the other sees `false` and is treated as reuse.
   */
  markUsed(id: string): Promise<boolean>;
  revokeFamily(familyId: string): Promise<void>;
  /** Deletes tokens that expired before `before`; an expired token is refused whatever its row says. */
  deleteExpired(before: string): Promise<number>;
}

export function createRefreshTokensRepo(db: Db): RefreshTokensRepo {
  return {
    async insert({ familyId, userId, tokenHash, expiresAt }) {
      await db
        .insertInto('refresh_tokens')
        .values({
          id: randomUUID(),
          family_id: familyId,
          user_id: userId,
          token_hash: tokenHash,
          expires_at: expiresAt,
          created_at: nowIso(),
          used_at: null,
          revoked_at: null,
        })
        .execute();
    },

    findByHash: (tokenHash) =>
      db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst(),

    async markUsed(id) {
      const result = await db
        .updateTable('refresh_tokens')
        .set({ used_at: nowIso() })
        .where('id', '=', id)
        .where('used_at', 'is', null)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async revokeFamily(familyId) {
      await db
        .updateTable('refresh_tokens')
        .set({ revoked_at: nowIso() })
        .where('family_id', '=', familyId)
        .where('revoked_at', 'is', null)
        .execute();
    },

    async deleteExpired(before) {
      const result = await db.deleteFrom('refresh_tokens').where('expires_at', '<', before).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
