import { randomUUID } from 'node:crypto';
import { type JWTVerifyGetKey, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { looksLikeApiKey } from '../api-keys/api-key-token.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { ApiKeyPrincipal, Principal } from './principal.ts';

export interface TokenService {
  issueAccessToken(userId: string): Promise<{ token: string; expiresIn: number }>;
  /**
   * The only place access tokens are checked, for HTTP and WebSocket alike: a person's JWT or an
   * organisation's API key (`esk_…`), told apart by the key's prefix (a JWT starts with `eyJ`).
   */
  validateAccessToken(token: string): Promise<Principal>;
}

/** Checks API keys against the database (src/api-keys/api-keys.service.ts). */
export interface ApiKeyAuthenticator {
  authenticate(token: string): Promise<ApiKeyPrincipal>;
}

const ALGORITHM = 'HS256';
// RFC 9068: access tokens are typed so an ID token or another JWT cannot be replayed as one.
const TOKEN_TYPE = 'at+jwt';

/**
 * Access tokens are a person's JWT (HS256, checked for every request) or an organisation's API key.
 * A valid JWT signature is not enough: the account must still exist, or a token issued before the
 * account was deleted would act for nobody (and fail on foreign keys). That costs one primary-key read
 * per authenticated request or live connection, which every such request follows with queries of its
 * own anyway. Keys are looked up on every use, so a revocation holds at once on every node.
 */
export function createTokenService(
  jwt: Config['jwt'],
  accounts: { exists(userId: string): Promise<boolean> },
  apiKeys: ApiKeyAuthenticator,
): TokenService {
  const keys = new Map<string, Uint8Array>([[jwt.keyId, jwt.secret]]);
  for (const previous of jwt.previousKeys) keys.set(previous.keyId, previous.secret);

  // Resolving the key by `kid` lets old keys verify until their tokens expire after a rotation.
  const keyFor: JWTVerifyGetKey = (header) => {
    const key = header.kid ? keys.get(header.kid) : undefined;
    if (!key) throw new AppError('invalid_token', 'access token signed with an unknown key');
    return key;
  };

  return {
    async issueAccessToken(userId) {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: ALGORITHM, typ: TOKEN_TYPE, kid: jwt.keyId })
        .setIssuer(jwt.issuer)
        .setAudience(jwt.audience)
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime(`${jwt.accessTtlSec}s`)
        .setJti(randomUUID())
        .sign(jwt.secret);
      return { token, expiresIn: jwt.accessTtlSec };
    },

    async validateAccessToken(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
        throw new AppError('invalid_token', 'missing or malformed access token');
      }
      if (looksLikeApiKey(token)) return apiKeys.authenticate(token);
      const claims = await verify(token);
      // Outside verify(): a database failure here is a server error, not a bad token.
      if (!(await accounts.exists(claims.userId))) {
        throw new AppError('invalid_token', 'the account for this token no longer exists');
      }
      return { kind: 'user', userId: claims.userId };
    },
  };

  async function verify(token: string): Promise<{ userId: string }> {
    try {
      // RFC 8725 §3.1: pin the algorithm; jose then rejects `alg: none` and any other algorithm.
      const { payload } = await jwtVerify(token, keyFor, {
        algorithms: [ALGORITHM],
        typ: TOKEN_TYPE,
        issuer: jwt.issuer,
        audience: jwt.audience,
        clockTolerance: jwt.clockSkewSec,
        requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti'],
      });
      // jose checks the types of exp/iat/sub; the rest of what we rely on is checked here.
      const now = Math.floor(Date.now() / 1000);
      if (
        typeof payload.sub !== 'string' ||
        payload.sub.length === 0 ||
        typeof payload.jti !== 'string' ||
        (payload.iat as number) > now + jwt.clockSkewSec
      ) {
        throw new AppError('invalid_token', 'invalid access token');
      }
      return { userId: payload.sub };
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new AppError('invalid_token', 'access token expired');
      throw new AppError('invalid_token', 'invalid access token', { cause: error });
    }
  }
}
