import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RateLimiter, RateRule } from '../cluster/rate-limiter.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { personOnly } from '../orgs/access.ts';
import type { OrgsRepo, OrgWithRole } from '../orgs/orgs.repo.ts';
import { emailProblem, normaliseEmail, normalisePassword, passwordProblem } from './credentials.ts';
import type { PasswordHasher } from './passwords.ts';
import type { Principal } from './principal.ts';
import type { RefreshTokensRepo } from './refresh-tokens.repo.ts';
import type { TokenService } from './tokens.ts';
import type { PublicUser, UsersRepo } from './users.repo.ts';

export interface TokenPair {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token: string;
}

export interface AuthService {
  register(input: { email: string; password: string; name?: string | undefined }): Promise<PublicUser>;
  login(input: { email: string; password: string }): Promise<TokenPair>;
  /** Exchanges a refresh token for a new pair (rotation); a reused token revokes its whole family. */
  refresh(refreshToken: string): Promise<TokenPair>;
  /** Revokes the family of the given refresh token; unknown tokens are ignored (RFC 7009 §2.2). */
  logout(refreshToken: string): Promise<void>;
  /** A person's account; an API key gets 403 (it acts in one org, and must not reach its creator's account). */
  me(actor: Principal): Promise<PublicUser & { orgs: OrgWithRole[] }>;
  /** Housekeeping: deletes refresh tokens past their expiry; returns how many. */
  purgeExpiredRefreshTokens(): Promise<number>;
}

export interface AuthServiceDeps {
  users: UsersRepo;
  refreshTokens: RefreshTokensRepo;
  orgs: OrgsRepo;
  tokens: TokenService;
  passwords: PasswordHasher;
  /**
   * Per-account budget (key: the normalised e-mail address) of failed logins and of registrations.
   * Successful logins do not count: bots sharing an account sign in often.
   */
  limiter: RateLimiter;
  accountRule: RateRule;
  jwt: Pick<Config['jwt'], 'refreshTtlSec'>;
  log?: { warn(details: object, message: string): void };
}

const INVALID_CREDENTIALS = 'email or password is incorrect';
const REFRESH_TOKEN_BYTES = 32;

/** Refresh tokens are stored as SHA-256 digests: a leaked table does not hand out sessions. */
const digest = (token: string): string => createHash('sha256').update(token).digest('hex');

export function createAuthService(deps: AuthServiceDeps): AuthService {
  const { users, refreshTokens, orgs, tokens, passwords, limiter, jwt } = deps;
  const accountKey = (email: string) => `account:${email}`;

  const refuseIfSpent = (verdict: Awaited<ReturnType<RateLimiter['peek']>>) => {
    if (!verdict.allowed) {
      throw new AppError('rate_limited', 'too many attempts for this account; wait before trying again', {
        retryAfter: verdict.retryAfterSec,
      });
    }
  };
  /** A failed login counts against the account; the check before it only looks. */
  const countFailure = (email: string) => limiter.consume(accountKey(email), deps.accountRule).catch(() => {});

  const issuePair = async (userId: string, familyId: string): Promise<TokenPair> => {
    const access = await tokens.issueAccessToken(userId);
    const refreshToken = randomBytes(REFRESH_TOKEN_BYTES).toString('base64url');
    await refreshTokens.insert({
      familyId,
      userId,
      tokenHash: digest(refreshToken),
      expiresAt: new Date(Date.now() + jwt.refreshTtlSec * 1000).toISOString(),
    });
    return {
      access_token: access.token,
      token_type: 'bearer',
      expires_in: access.expiresIn,
      refresh_token: refreshToken,
    };
  };

  const invalidRefresh = () =>
    new AppError('invalid_token', 'refresh token is invalid, expired or revoked; sign in again');

  return {
    async register(input) {
      const email = normaliseEmail(input.email);
      const emailIssue = emailProblem(email);
      if (emailIssue) throw new AppError('validation_failed', emailIssue, { details: { field: 'email' } });
      const password = normalisePassword(input.password);
      const passwordIssue = passwordProblem(password);
      if (passwordIssue) throw new AppError('weak_password', passwordIssue, { details: { field: 'password' } });
      const name = input.name?.trim() || null;
      refuseIfSpent(await limiter.consume(accountKey(email), deps.accountRule));

      // Checked first so a taken address costs no hashing; the unique index still decides a race.
      if (await users.findIdByEmail(email)) throw emailTaken();
      const passwordHash = await passwords.hash(password);
      const created = await users.createWithPersonalOrg({
        email,
        name,
        passwordHash,
        orgName: `${name ?? email}'s recordings`,
      });
      if (!created.ok) throw emailTaken();
      return created.user;
    },

    async login(input) {
      const email = normaliseEmail(input.email);
      const password = normalisePassword(input.password);
      refuseIfSpent(await limiter.peek(accountKey(email), deps.accountRule));

      const user = email.length > 0 ? await users.findByEmail(email) : undefined;
      if (!user) {
        // Same work as a real check, so the response time does not reveal whether the account exists.
        await passwords.verifyDummy(password);
        await countFailure(email);
        throw new AppError('invalid_credentials', INVALID_CREDENTIALS);
      }
      if (!(await passwords.verify(user.password_hash, password))) {
        await countFailure(email);
        throw new AppError('invalid_credentials', INVALID_CREDENTIALS);
      }
      if (passwords.needsRehash(user.password_hash)) {
        // The parameters were raised since this hash was made: upgrade it now that we know the password.
        try {
          await users.updatePasswordHash(user.id, await passwords.hash(password));
        } catch (error) {
          // A busy pool must not fail a correct login; the next login retries the upgrade.
          deps.log?.warn({ err: error, userId: user.id }, 'password rehash skipped');
        }
      }
      return issuePair(user.id, randomUUID());
    },

    async refresh(refreshToken) {
      const stored = await refreshTokens.findByHash(digest(refreshToken));
      if (!stored || stored.revoked_at) throw invalidRefresh();
      if (stored.used_at || !(await refreshTokens.markUsed(stored.id))) {
        // A rotated token came back: it was copied. Whoever holds the family now loses it (RFC 9700 §4.14.2).
        await refreshTokens.revokeFamily(stored.family_id);
        deps.log?.warn({ userId: stored.user_id, familyId: stored.family_id }, 'refresh token reuse detected');
        throw invalidRefresh();
      }
      if (Date.parse(stored.expires_at) <= Date.now()) throw invalidRefresh();
      return issuePair(stored.user_id, stored.family_id);
    },

    async logout(refreshToken) {
      const stored = await refreshTokens.findByHash(digest(refreshToken));
      if (stored) await refreshTokens.revokeFamily(stored.family_id);
    },

    purgeExpiredRefreshTokens: () => refreshTokens.deleteExpired(new Date().toISOString()),

    async me(actor) {
      const userId = personOnly(actor, 'read its creator’s account');
      const user = await users.findById(userId);
      if (!user) throw new AppError('invalid_token', 'the account for this token no longer exists');
      return { ...user, orgs: await orgs.listForUser(userId) };
    },
  };
}

const emailTaken = () => new AppError('email_taken', 'an account with this email already exists; sign in instead');
