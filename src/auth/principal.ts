/**
 * Who a request acts for, as the one token validator (`validateAccessToken` in tokens.ts) found it: a
 * person signed in with a JWT access token, or an organisation's API key.
 *
 * `userId` is always a person. For a key it is the member who created it: recordings made with the key
 * belong to them, and the key acts with at most their current role in its organisation (docs/roles.md).
 */
export const SCOPES = ['read', 'record', 'admin'] as const;

/**
 * What an API key may do in its organisation, besides what its creator's role allows: `read` see and
 * play recordings, `record` make them (upload, stream, live) and manage its creator's own, `admin`
 * manage the organisation (its keys, members, invitations, every recording). `LEAST_SCOPE` in
 * src/orgs/access.ts maps each action to one.
 */
export type Scope = (typeof SCOPES)[number];

export interface UserPrincipal {
  kind: 'user';
  userId: string;
}

export interface ApiKeyPrincipal {
  kind: 'api_key';
  /** The key's creator. */
  userId: string;
  keyId: string;
  /** The one organisation the key may act in; any other answers 404, as for a non-member. */
  orgId: string;
  scopes: readonly Scope[];
  expiresAt: string | null;
}

export type Principal = UserPrincipal | ApiKeyPrincipal;
