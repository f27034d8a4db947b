import type { ApiKeyPrincipal, Principal, Scope } from '../auth/principal.ts';
import { SCOPES } from '../auth/principal.ts';
import { AppError } from '../errors.ts';
import type { OrgAccess } from '../orgs/access.ts';
import { hashSecret, newApiKey, parseApiKey, secretMatches } from './api-key-token.ts';
import { type ApiKeysRepo, type ApiKeyView, toScopes } from './api-keys.repo.ts';

/**
 * `last_used_at` is for people deciding whether a key is still in use: a minute's precision is plenty,
 * and a bot making many requests a second then writes once a minute, not on every request.
 */
const LAST_USED_PRECISION_MS = 60_000;

export interface ApiKeysService {
  /** Creates a key in the org (owner or admin, or an `admin` key); the token is in the answer only. */
  create(
    actor: Principal,
    orgId: string,
    input: { name: string; scopes: Scope[]; expires_at?: string | undefined },
  ): Promise<{ api_key: ApiKeyView; token: string }>;
  list(actor: Principal, orgId: string): Promise<ApiKeyView[]>;
  revoke(actor: Principal, orgId: string, keyId: string): Promise<void>;
  /**
   * Checks an `esk_` token for tokens.ts validateAccessToken: the database is read on every use, so a
   * revocation holds at once on every node. Every failure is 401 `invalid_token`.
   */
  authenticate(token: string): Promise<ApiKeyPrincipal>;
}

export function createApiKeysService(deps: { repo: ApiKeysRepo; access: OrgAccess }): ApiKeysService {
  const { repo, access } = deps;

  /** A key made by a key gets no more than the key making it: no wider scopes, no longer life. */
  function boundedBy(actor: Principal, scopes: Scope[], expiresAt: string | null): void {
    if (actor.kind !== 'api_key') return;
    const wider = scopes.filter((scope) => !actor.scopes.includes(scope));
    if (wider.length > 0) {
      throw new AppError(
        'insufficient_scope',
        `an API key cannot create a key with scopes it lacks: ${wider.join(', ')}`,
        {
          details: { scope: wider.join(' ') },
        },
      );
    }
    if (actor.expiresAt && (!expiresAt || expiresAt > actor.expiresAt)) {
      throw new AppError(
        'validation_failed',
        `a key created with an API key must expire no later than that key (${actor.expiresAt})`,
        { details: { field: 'expires_at' } },
      );
    }
  }

  return {
    async create(actor, orgId, input) {
      await access.require(actor, orgId, 'manageApiKeys');
      const name = input.name.trim();
      if (!name) throw new AppError('validation_failed', 'name must not be blank', { details: { field: 'name' } });
      const scopes = SCOPES.filter((scope) => input.scopes.includes(scope));
      let expiresAt: string | null = null;
      if (input.expires_at !== undefined) {
        const at = Date.parse(input.expires_at);
        if (!Number.isFinite(at) || at <= Date.now()) {
          throw new AppError('validation_failed', 'expires_at must be a date-time in the future', {
            details: { field: 'expires_at' },
          });
        }
        expiresAt = new Date(at).toISOString();
      }
      boundedBy(actor, scopes, expiresAt);
      const { id, secret, token } = newApiKey();
      const apiKey = await repo.insert({
        id,
        orgId,
        // A key made with a key acts for the same person: keys always trace back to a member.
        userId: actor.userId,
        name,
        scopes,
        secretHash: hashSecret(secret),
        expiresAt,
      });
      return { api_key: apiKey, token };
    },

    async list(actor, orgId) {
      await access.require(actor, orgId, 'manageApiKeys');
      return repo.listForOrg(orgId);
    },

    async revoke(actor, orgId, keyId) {
      await access.require(actor, orgId, 'manageApiKeys');
      if (!(await repo.revoke(keyId, orgId))) {
        throw new AppError('not_found', 'no API key with this id in the organisation (or it was revoked already)');
      }
    },

    async authenticate(token) {
      const parsed = parseApiKey(token);
      if (!parsed) throw new AppError('invalid_token', 'malformed API key');
      const row = await repo.find(parsed.id);
      // An unknown id and a wrong secret look the same.
      if (!row || !secretMatches(parsed.secret, row.secret_hash))
        throw new AppError('invalid_token', 'invalid API key');
      if (row.revoked_at) throw new AppError('invalid_token', 'this API key was revoked');
      const now = Date.now();
      if (row.expires_at && Date.parse(row.expires_at) <= now) {
        throw new AppError('invalid_token', 'this API key has expired');
      }
      if (!row.last_used_at || Date.parse(row.last_used_at) < now - LAST_USED_PRECISION_MS) {
        await repo.touch(row.id, new Date(now).toISOString(), new Date(now - LAST_USED_PRECISION_MS).toISOString());
      }
      return {
        kind: 'api_key',
        userId: row.user_id,
        keyId: row.id,
        orgId: row.org_id,
        scopes: toScopes(row.scopes),
        expiresAt: row.expires_at,
      };
    },
  };
}
