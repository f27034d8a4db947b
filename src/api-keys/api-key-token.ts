/**
 * The API key token: `esk_<key id>_<secret>`. The recognisable prefix lets a person (and secret
 * scanners) tell a key from a JWT and find it in logs or a leaked file; the id makes checking it one
 * primary-key read; the secret is 256 random bits, so a fast hash (SHA-256) is enough to store it
 * safely, unlike a password, which needs a slow one because people choose guessable ones.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

export const API_KEY_PREFIX = 'esk_';
const SECRET_BYTES = 32;
// A UUID (the row's id), then 43 base64url characters (32 bytes, unpadded); `_` may occur in the secret.
const TOKEN = /^esk_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** True for anything shaped like an API key rather than a JWT (it may still be malformed). */
export const looksLikeApiKey = (token: string): boolean => token.startsWith(API_KEY_PREFIX);

export function newApiKey(): { id: string; secret: string; token: string } {
  const id = randomUUID();
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { id, secret, token: `${API_KEY_PREFIX}${id}_${secret}` };
}

export function parseApiKey(token: string): { id: string; secret: string } | undefined {
  const match = TOKEN.exec(token);
  return match ? { id: match[1] as string, secret: match[2] as string } : undefined;
}

/** What the list shows of a key: the part of the token before the secret. */
export const apiKeyPrefix = (id: string): string => `${API_KEY_PREFIX}${id}`;

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Constant time, so the comparison tells an attacker nothing about how much of a guess was right. */
export const secretMatches = (secret: string, storedHash: string): boolean =>
  timingSafeEqual(Buffer.from(hashSecret(secret), 'hex'), Buffer.from(storedHash, 'hex'));
