import { type TString, type TStringOptions, Type } from 'typebox';

/**
 * Which characters Earshot accepts in text from clients, in one place. HTTP bodies, query strings,
 * path parameters and headers (through the schemas below), multipart fields and live protocol messages
 * all use these rules:
 *
 * - `plain` (every string: ids, tokens, cursors): no C0 control characters (U+0000–U+001F), DEL
 *   (U+007F), C1 controls (U+0080–U+009F) or lone surrogates (not Unicode). NUL in particular never
 *   reaches PostgreSQL, which cannot store it in text and fails the query.
 * - `display` (what is shown to people: user, organisation and recording names, meeting links, e-mail
 *   addresses): `plain`, and no line or paragraph separators (U+2028, U+2029) and no bidirectional
 *   embedding, override or isolate controls (U+202A–U+202E, U+2066–U+2069), which make text display as
 *   something else (CVE-2021-42574). Marks that only set a direction (U+200E, U+200F) stay allowed.
 * - `password`: only NUL is refused. Everything else is kept as typed (NIST SP 800-63B §5.1.1.2) and
 *   never stored: only its Argon2id hash is.
 *
 * Text that breaks its rule is refused — 422 `validation_failed` naming the field, or close 1008 on the
 * live socket — never silently changed, so what is stored is what the client sent. The one exception is
 * text Earshot takes without the client choosing it as a value: an uploaded file's name, which only
 * suggests the recording's name, loses the characters its rule forbids (`withoutForbidden`).
 */
export type TextRule = 'plain' | 'display' | 'password';

// Written with escapes (JSON Schema `pattern`, read with the `u` flag) so the OpenAPI document shows them.
const PLAIN_FORBIDDEN = '\\u0000-\\u001F\\u007F-\\u009F\\uD800-\\uDFFF';
const DISPLAY_FORBIDDEN = `${PLAIN_FORBIDDEN}\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069`;

const RULES: Record<TextRule, { pattern: string; problem: string }> = {
  plain: { pattern: `^[^${PLAIN_FORBIDDEN}]*$`, problem: 'must not contain control characters' },
  display: {
    pattern: `^[^${DISPLAY_FORBIDDEN}]*$`,
    problem: 'must not contain control, line-separator or bidirectional-override characters',
  },
  password: { pattern: '^[^\\u0000]*$', problem: 'must not contain the NUL character' },
};

const FORBIDDEN: Record<Exclude<TextRule, 'password'>, RegExp> = {
  plain: new RegExp(`[${PLAIN_FORBIDDEN}]`, 'gu'),
  display: new RegExp(`[${DISPLAY_FORBIDDEN}]`, 'gu'),
};

const MATCHERS: Record<TextRule, RegExp> = {
  plain: new RegExp(RULES.plain.pattern, 'u'),
  display: new RegExp(RULES.display.pattern, 'u'),
  password: new RegExp(RULES.password.pattern, 'u'),
};

/** What is wrong with `text` under `rule` ("must not contain …"), or undefined when it is fine. */
export function textProblem(text: string, rule: TextRule): string | undefined {
  return MATCHERS[rule].test(text) ? undefined : RULES[rule].problem;
}

/** `text` without the characters `rule` forbids (each becomes a space), for text the client did not choose. */
export function withoutForbidden(text: string, rule: Exclude<TextRule, 'password'>): string {
  return text.replace(FORBIDDEN[rule], ' ');
}

/** The rule's explanation when `pattern` is one of the rules' patterns (for validation messages). */
export function patternProblem(pattern: unknown): string | undefined {
  return Object.values(RULES).find((rule) => rule.pattern === pattern)?.problem;
}

/** The schema patterns, for a test that checks every request string carries one. */
export const TEXT_PATTERNS: ReadonlySet<string> = new Set(Object.values(RULES).map((rule) => rule.pattern));

/** A request string under a rule: TypeBox checks the pattern with the same expression as `textProblem`. */
export const Text = (rule: TextRule, options: TStringOptions = {}): TString =>
  Type.String({ ...options, pattern: RULES[rule].pattern });
