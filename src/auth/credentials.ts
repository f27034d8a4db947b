import { readFileSync } from 'node:fs';

/**
 * Rules for what a user types: e-mail addresses are trimmed and lower-cased (one account per mailbox,
 * whatever the case a user typed), passwords are NFKC-normalised so the same password typed on two
 * keyboards or input methods matches, and are otherwise kept exactly: never trimmed, truncated or
 * case-folded (NIST SP 800-63B §5.1.1.2).
 */

export const PASSWORD_MIN_CHARS = 8;
export const PASSWORD_MAX_CHARS = 256;
/** RFC 5321 §4.5.3.1: a path is at most 256 octets, so an address fits in 254 characters. */
export const EMAIL_MAX_CHARS = 254;

export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

// Deliberately simple (one @, a dotted domain, no spaces or angle brackets): the mailbox is proven by
// use, not by a regular expression; this only catches typing mistakes.
const EMAIL_SHAPE = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:".]{2,}$/u;

/** Why a normalised address is unusable, or undefined when it is fine. */
export function emailProblem(email: string): string | undefined {
  if (email.length === 0) return 'email is required';
  if (email.length > EMAIL_MAX_CHARS) return `email must be at most ${EMAIL_MAX_CHARS} characters`;
  if (!EMAIL_SHAPE.test(email)) return 'email must be an address like name@example.com';
  return undefined;
}

export function normalisePassword(raw: string): string {
  return raw.normalize('NFKC');
}

/** Lower-cased, so the comparison ignores case (Password1 is as guessable as password1). */
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((line) => line.trim().toLowerCase())
    .filter((line) => line.length > 0 && !line.startsWith('#')),
);

export function isCommonPassword(password: string): boolean {
  return COMMON_PASSWORDS.has(password.toLowerCase());
}

/** Why a (normalised) new password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  // Length is counted in characters (code points), not UTF-16 units or bytes.
  const length = [...password].length;
  if (length < PASSWORD_MIN_CHARS) return `password must be at least ${PASSWORD_MIN_CHARS} characters long`;
  if (length > PASSWORD_MAX_CHARS) return `password must be at most ${PASSWORD_MAX_CHARS} characters long`;
  if (isCommonPassword(password)) return 'password is one of the most commonly used passwords; choose another';
  return undefined;
}
