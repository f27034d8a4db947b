import { sql } from 'kysely';
import type { Db } from '../db/index.ts';

export interface RateRule {
  max: number;
  windowMs: number;
}

export type RateVerdict = { allowed: true } | { allowed: false; retryAfterSec: number };

/**
 * Counters in the database, so a limit holds across every node of a cluster (a per-process counter
 * would give each node its own budget). One upsert per counted event; `peek` reads without counting,
 * for limits that count only failures.
 *
 * The window slides: what counts is the current fixed window's events plus the previous window's,
 * weighted by the share of it still inside the last `windowMs`. So a budget cannot be spent twice
 * across a window boundary, and whether a burst is refused does not depend on where the clock is.
 */
export interface RateLimiter {
  /** Counts one event for `key`; not allowed once the budget is spent. */
  consume(key: string, rule: RateRule): Promise<RateVerdict>;
  /** Whether one more event for `key` would be over its budget, without counting. */
  peek(key: string, rule: RateRule): Promise<RateVerdict>;
  /** Housekeeping: drops windows that started before `olderThanMs` ago. */
  purge(olderThanMs: number): Promise<number>;
}

interface Counts {
  previous: number;
  current: number;
}

export function createRateLimiter(db: Db, now: () => number = Date.now): RateLimiter {
  const windowOf = (rule: RateRule) => {
    const time = now();
    const start = Math.floor(time / rule.windowMs) * rule.windowMs;
    return { start, elapsed: (time - start) / rule.windowMs };
  };

  /** `judged` is the estimate with the event in question: counted (consume) or one more (peek). */
  const verdict = (stored: Counts, judged: number, rule: RateRule, elapsed: number): RateVerdict =>
    judged > rule.max ? { allowed: false, retryAfterSec: secondsUntilRoom(stored, rule, elapsed) } : { allowed: true };

  return {
    async consume(key, rule) {
      const { start, elapsed } = windowOf(rule);
      const previousStart = start - rule.windowMs;
      const row = await db
        .insertInto('rate_limits')
        .values({ key, window_start: start, count: 1, previous_count: 0 })
        .onConflict((oc) =>
          // Every expression reads the row as it was before this update.
          oc.column('key').doUpdateSet({
            previous_count: sql<number>`case rate_limits.window_start
              when ${start} then rate_limits.previous_count
              when ${previousStart} then rate_limits.count
              else 0 end`,
            count: sql<number>`case when rate_limits.window_start = ${start} then rate_limits.count + 1 else 1 end`,
            window_start: start,
          }),
        )
        .returning(['count', 'previous_count'])
        .executeTakeFirstOrThrow();
      const stored = { previous: row.previous_count, current: row.count };
      return verdict(stored, estimate(stored, elapsed), rule, elapsed);
    },

    async peek(key, rule) {
      const { start, elapsed } = windowOf(rule);
      const row = await db
        .selectFrom('rate_limits')
        .select(['window_start', 'count', 'previous_count'])
        .where('key', '=', key)
        .executeTakeFirst();
      const stored: Counts = { previous: 0, current: 0 };
      if (row?.window_start === start) {
        stored.previous = row.previous_count;
        stored.current = row.count;
      } else if (row?.window_start === start - rule.windowMs) {
        stored.previous = row.count;
      }
      return verdict(stored, estimate(stored, elapsed) + 1, rule, elapsed);
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

/** Events in the last window-length of time, `elapsed` being the fraction of the current window gone. */
function estimate({ previous, current }: Counts, elapsed: number): number {
  return previous * (1 - elapsed) + current;
}

/** How long until one more event would be allowed, if none came meanwhile (refused ones count too). */
function secondsUntilRoom({ previous, current }: Counts, rule: RateRule, elapsed: number): number {
  const room = rule.max - 1; // what the stored events may weigh for one more to fit
  // Within this window as the previous one slides out, or else into the next as this one does.
  const windows =
    current <= room && previous > 0
      ? 1 - (room - current) / previous - elapsed
      : 1 - elapsed + Math.max(0, 1 - room / current);
  return Math.max(1, Math.ceil((windows * rule.windowMs) / 1000));
}
