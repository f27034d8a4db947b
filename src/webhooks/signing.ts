/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): HMAC-SHA256 over
 * `<webhook-id>.<webhook-timestamp>.<body>` with the endpoint's `whsec_` secret, sent as
 * `webhook-signature: v1,<base64>`. During a rotation's overlap the old secret signs too, and the header
 * carries both signatures separated by a space: a receiver verifying with either secret accepts.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { WebhookEndpoint } from '../db/schema.ts';

/** 32 random bytes, base64 after the `whsec_` prefix (the spec asks for 24 to 64 bytes). */
export const newSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/** The secrets that sign now: the current one, and the previous one until its overlap ends. */
export function signingSecrets(
  endpoint: Pick<WebhookEndpoint, 'secret' | 'previous_secret' | 'previous_secret_until'>,
  now: Date,
): string[] {
  const previous =
    endpoint.previous_secret &&
    endpoint.previous_secret_until &&
    Date.parse(endpoint.previous_secret_until) > now.getTime()
      ? [endpoint.previous_secret]
      : [];
  return [endpoint.secret, ...previous];
}

/** The three headers of one attempt; `at` is the attempt's time (receivers refuse stale timestamps). */
export function signedHeaders(secrets: string[], messageId: string, at: Date, body: string): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(messageId, at, body)).join(' '),
  };
}
