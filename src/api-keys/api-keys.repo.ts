import type { Scope } from '../auth/principal.ts';
import { SCOPES } from '../auth/principal.ts';
import type { Db } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { ApiKey } from '../db/schema.ts';
import { apiKeyPrefix } from './api-key-token.ts';

/** A key as the org's admins see it: never the secret or its hash. */
export interface ApiKeyView {
  id: string;
  org_id: string;
  name: string;
  scopes: Scope[];
  /** The token's start, `esk_<id>`, to recognise a key in a log or a leaked file. */
  prefix: string;
  creator_id: string;
  creator_email: string;
  creator_name: string | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

export interface ApiKeysRepo {
  insert(input: {
    id: string;
    orgId: string;
    userId: string;
    name: string;
    scopes: readonly Scope[];
    secretHash: string;
    expiresAt: string | null;
  }): Promise<ApiKeyView>;
  /** The row a token names, revoked or not (the caller says which it is). */
  find(id: string): Promise<ApiKey | undefined>;
  /** The org's keys that are not revoked (expired ones too, until revoked), oldest first. */
  listForOrg(orgId: string): Promise<ApiKeyView[]>;
  /** Revokes a key of the org; false when there is no such unrevoked key. */
  revoke(id: string, orgId: string): Promise<boolean>;
  /** Sets last_used_at to `now` unless it is already after `notBefore` (one write a minute at most). */
  touch(id: string, now: string, notBefore: string): Promise<void>;
}

/** Stored space-separated (RFC 6749 §3.3); read back in the canonical order, unknown words dropped. */
export const toScopes = (stored: string): Scope[] => {
  const words = stored.split(' ');
  return SCOPES.filter((scope) => words.includes(scope));
};

export function createApiKeysRepo(db: Db): ApiKeysRepo {
  const views = (q: Db) =>
    q
      .selectFrom('api_keys')
      .innerJoin('users as creator', 'creator.id', 'api_keys.user_id')
      .select([
        'api_keys.id',
        'api_keys.org_id',
        'api_keys.name',
        'api_keys.scopes',
        'api_keys.user_id as creator_id',
        'creator.email as creator_email',
        'creator.name as creator_name',
        'api_keys.created_at',
        'api_keys.expires_at',
        'api_keys.last_used_at',
      ]);
  const toView = (row: Omit<ApiKeyView, 'scopes' | 'prefix'> & { scopes: string }): ApiKeyView => ({
    ...row,
    scopes: toScopes(row.scopes),
    prefix: apiKeyPrefix(row.id),
  });

  return {
    async insert(input) {
      await db
        .insertInto('api_keys')
        .values({
          id: input.id,
          org_id: input.orgId,
          user_id: input.userId,
          name: input.name,
          scopes: input.scopes.join(' '),
          secret_hash: input.secretHash,
          created_at: nowIso(),
          expires_at: input.expiresAt,
          revoked_at: null,
          last_used_at: null,
        })
        .execute();
      return toView(await views(db).where('api_keys.id', '=', input.id).executeTakeFirstOrThrow());
    },

    find: (id) => db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst(),

    async listForOrg(orgId) {
      const rows = await views(db)
        .where('api_keys.org_id', '=', orgId)
        .where('api_keys.revoked_at', 'is', null)
        .orderBy('api_keys.created_at')
        .orderBy('api_keys.id')
        .execute();
      return rows.map(toView);
    },

    async revoke(id, orgId) {
      const result = await db
        .updateTable('api_keys')
        .set({ revoked_at: nowIso() })
        .where('id', '=', id)
        .where('org_id', '=', orgId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async touch(id, now, notBefore) {
      await db
        .updateTable('api_keys')
        .set({ last_used_at: now })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', notBefore)]))
        .execute();
    },
  };
}
