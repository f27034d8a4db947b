/** The WEBHOOK_* settings, parsed for src/config.ts. */
import { BlockList, isIP } from 'node:net';
import { ConfigError, int } from '../config.ts';

export interface WebhookConfig {
  /**
   * Which special-purpose addresses (loopback, private, link-local, …) deliveries may reach anyway:
   * `all` (a lab or a test), or these networks (`10.1.0.0/16`, `fd00::/8`), or none (the default).
   */
  allowPrivate: 'all' | readonly string[];
  /** One attempt, from the DNS lookup to the response's status line. */
  timeoutMs: number;
  /** Wait before each retry: after attempt n fails, the n-th entry (±20 % jitter); past the end, failed for good. */
  retryScheduleMs: readonly number[];
  /** Deliveries this node sends at once. */
  concurrency: number;
  /** Messages and their delivery log are kept this long, then purged. */
  retentionDays: number;
}

type Env = Record<string, string | undefined>;

/**
 * Svix's schedule, where Standard Webhooks comes from: retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
 * and 10 h, so eight attempts over about 27 hours: a receiver down for most of a day still gets everything.
 */
const DEFAULT_SCHEDULE = '5s,5m,30m,2h,5h,10h,10h';
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseWebhookConfig(env: Env): WebhookConfig {
  return {
    allowPrivate: parseAllowPrivate(env.WEBHOOK_ALLOW_PRIVATE ?? ''),
    timeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 15_000, 100, 120_000),
    retryScheduleMs: parseSchedule(env.WEBHOOK_RETRY_SCHEDULE || DEFAULT_SCHEDULE),
    concurrency: int(env, 'WEBHOOK_CONCURRENCY', 4, 1, 256),
    retentionDays: int(env, 'WEBHOOK_RETENTION_DAYS', 30, 1, 3650),
  };
}

function parseAllowPrivate(raw: string): WebhookConfig['allowPrivate'] {
  const value = raw.trim().toLowerCase();
  if (value === '' || value === 'false') return [];
  if (value === 'true') return 'all';
  const networks = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const probe = new BlockList();
  for (const network of networks) {
    const [address = '', prefix = ''] = network.split('/');
    const family = isIP(address);
    const bits = Number(prefix);
    if (!family || !/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128)) {
      throw new ConfigError(
        `WEBHOOK_ALLOW_PRIVATE must be true, false or comma-separated networks such as 10.1.0.0/16,fd00::/8; got "${network}"`,
      );
    }
    probe.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
  }
  return networks;
}

function parseSchedule(raw: string): number[] {
  const delays = raw.split(',').map((entry) => {
    const match = entry.trim().match(/^(\d+)(ms|s|m|h)$/);
    if (!match) {
      throw new ConfigError(
        `WEBHOOK_RETRY_SCHEDULE must be comma-separated delays such as ${DEFAULT_SCHEDULE} (units ms, s, m, h); got "${entry}"`,
      );
    }
    return Number(match[1]) * UNIT_MS[match[2]!]!;
  });
  if (delays.length > 50 || delays.some((ms) => ms > 7 * 24 * 3_600_000)) {
    throw new ConfigError('WEBHOOK_RETRY_SCHEDULE allows at most 50 retries of at most 7 days each');
  }
  return delays;
}
