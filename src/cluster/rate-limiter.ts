import { sql } from 'kysely';
import type { Db } from '../db/index.ts';

export interface RateRule {
  max: number;
  windowMs: number;
}

export type RateVerdict = { allowed: true } | { allowed: false; retryAfterSec: number };

/**
 * Fixed-window counters in the database, so a limit holds across every node of a cluster (a per-process
 * counter would give each node its own budget). One upsert per counted event; `peek` reads without
 * counting, for limits that count only failures.
 */
export interface RateLimiter {
  /** Counts one event for `key`; not allowed once the window's budget is spent. */
  consume(key: string, rule: RateRule): Promise<RateVerdict>;
  /** Whether `key` is over its budget, without counting. */
  peek(key: string, rule: RateRule): Promise<RateVerdict>;
  /** Housekeeping: drops windows that ended before `olderThanMs` ago. */
  purge(olderThanMs: number): Promise<number>;
}

export function createRateLimiter(db: Db, now: () => number = Date.now): RateLimiter {
  const windowOf = (rule: RateRule) => {
    const time = now();
    const start = Math.floor(time / rule.windowMs) * rule.windowMs;
    return { start, retryAfterSec: Math.max(1, Math.ceil((start + rule.windowMs - time) / 1000)) };
  };
  const verdict = (count: number, rule: RateRule, retryAfterSec: number): RateVerdict =>
    count > rule.max ? { allowed: false, retryAfterSec } : { allowed: true };

  return {
    async consume(key, rule) {
      const window = windowOf(rule);
      const row = await db
        .insertInto('rate_limits')
        .values({ key, window_start: window.start, count: 1 })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({
            count: sql<number>`case when rate_limits.window_start = ${window.start} then rate_limits.count + 1 else 1 end`,
            window_start: window.start,
          }),
        )
        .returning('count')
        .executeTakeFirstOrThrow();
      return verdict(row.count, rule, window.retryAfterSec);
    },

    async peek(key, rule) {
      const window = windowOf(rule);
      const row = await db
        .selectFrom('rate_limits')
        .select('count')
        .where('key', '=', key)
        .where('window_start', '=', window.start)
        .executeTakeFirst();
      // Peeking asks "may one more happen", so a budget exactly spent is already over.
      return verdict((row?.count ?? 0) + 1, rule, window.retryAfterSec);
    },

    async purge(olderThanMs) {
      const result = await db
        .deleteFrom('rate_limits')
        .where('window_start', '<', now() - olderThanMs)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
