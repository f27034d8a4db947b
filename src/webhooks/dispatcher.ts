/**
 * Sends due deliveries from the outbox, on every node: claims one at a time while it has a free slot
 * (`concurrency` in flight), signs it for this attempt, sends it and records the outcome. Nothing is
 * held in memory that another node would need: a delivery is a row, its claim a lock that expires.
 *
 * Outcomes of an attempt:
 * - 2xx: delivered.
 * - 410 Gone: the receiver says the endpoint is gone for good (as the Standard Webhooks spec suggests):
 *   the endpoint is disabled, this delivery fails and its other pending deliveries are cancelled.
 * - the guard refused the address: failed at once (resending to a forbidden address cannot succeed).
 * - anything else (5xx, 429, other 4xx, 3xx, timeouts, refused connections, DNS errors): a failed
 *   attempt, retried after the next delay of the schedule (±20 % jitter, so a burst of failures does not
 *   come back as a burst), with the same `webhook-id`; failed for good past the end of the schedule.
 *   Other 4xx are retried too: a 401, 403 or 404 is most often a receiver being deployed or a secret
 *   being rotated on its side, which is fixed within the day the schedule covers, and an event dropped at
 *   the first 404 would be lost for good; only 410 is a clear "stop".
 *
 * Delivery is at least once: a node that dies after the receiver answered but before it recorded the
 * answer leaves the claim to expire, and the delivery is sent again. Receivers deduplicate by `webhook-id`.
 */
import type { WebhookDelivery } from '../db/schema.ts';
import type { AttemptResult, Sender } from './sender.ts';
import { signedHeaders, signingSecrets } from './signing.ts';
import type { ClaimedDelivery, Settlement, WebhooksRepo } from './webhooks.repo.ts';

export interface DispatcherLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DispatcherDeps {
  repo: Pick<WebhooksRepo, 'claim' | 'settle' | 'release' | 'disableEndpoint'>;
  send: Sender;
  log: DispatcherLogger;
  concurrency: number;
  timeoutMs: number;
  /** Delay before retry n (after attempt n failed); past its end a delivery fails for good. */
  retryScheduleMs: readonly number[];
  /** How often an idle dispatcher looks for deliveries queued by any node, or come due. */
  pollMs?: number;
}

/** What an attempt's result means for the delivery. */
export function settlementFor(
  result: AttemptResult,
  attempt: number,
  schedule: readonly number[],
  now: number,
): Settlement & { disable?: string } {
  if (result.kind === 'response' && result.statusCode >= 200 && result.statusCode < 300) return { status: 'delivered' };
  if (result.kind === 'response' && result.statusCode === 410) {
    return { status: 'failed', disable: 'the receiver answered 410 Gone' };
  }
  if (result.kind === 'refused') return { status: 'failed' };
  const delay = schedule[attempt - 1];
  if (delay === undefined) return { status: 'failed' };
  const jittered = delay * (0.8 + Math.random() * 0.4);
  return { status: 'retry', nextAttemptAt: new Date(now + jittered).toISOString() };
}

const describe = (result: AttemptResult): string | null => {
  if (result.kind !== 'response') return result.error;
  if (result.statusCode >= 200 && result.statusCode < 300) return null;
  if (result.statusCode >= 300 && result.statusCode < 400)
    return `HTTP ${result.statusCode}: redirects are not followed`;
  return `HTTP ${result.statusCode}`;
};

export function createDispatcher(deps: DispatcherDeps) {
  const { repo, send, log } = deps;
  const pollMs = deps.pollMs ?? 1000;
  // Long enough for the attempt and its bookkeeping; a claim older than this belongs to a dead node.
  const lockMs = deps.timeoutMs + 30_000;
  const inFlight = new Map<string, AbortController>();
  const attempts = new Set<Promise<void>>();
  let wakeUp: (() => void) | undefined;
  /** A wake that came while the loop was busy: it looks again before it sleeps. */
  let woken = false;
  let loop: Promise<void> | undefined;
  let closing = false;

  const wake = () => {
    if (wakeUp) wakeUp();
    else woken = true;
  };

  async function attempt(claimed: ClaimedDelivery): Promise<void> {
    const { delivery, message, endpoint } = claimed;
    const controller = new AbortController();
    inFlight.set(delivery.id, controller);
    try {
      const at = new Date();
      const result = await send({
        url: endpoint.url,
        headers: signedHeaders(signingSecrets(endpoint, at), message.id, at, message.payload),
        body: message.payload,
        signal: controller.signal,
      });
      if (controller.signal.aborted && result.kind === 'error') {
        // Our shutdown cut the attempt short: hand it back uncounted; the next node or start sends it.
        await repo.release(delivery);
        return;
      }
      await record(delivery, result, at, endpoint.id, message.type);
    } finally {
      inFlight.delete(delivery.id);
    }
  }

  async function record(
    delivery: WebhookDelivery,
    result: AttemptResult,
    at: Date,
    endpointId: string,
    type: string,
  ): Promise<void> {
    const { disable, ...settlement } = settlementFor(result, delivery.attempts, deps.retryScheduleMs, Date.now());
    const statusCode = result.kind === 'response' ? result.statusCode : null;
    const context = { deliveryId: delivery.id, endpointId, type, attempt: delivery.attempts, statusCode };
    if (settlement.status !== 'delivered') log.info({ ...context, error: describe(result) }, 'webhook attempt failed');
    if (disable) {
      log.warn({ endpointId }, 'webhook endpoint disabled: it answered 410 Gone');
      await repo.disableEndpoint(endpointId, disable);
    }
    const settled = await repo.settle(
      delivery,
      { statusCode, error: describe(result), durationMs: result.durationMs, at: at.toISOString() },
      settlement,
    );
    if (!settled) log.warn(context, 'a webhook delivery was claimed elsewhere meanwhile (its lock expired)');
  }

  async function run(): Promise<void> {
    while (!closing) {
      let claimed: ClaimedDelivery | undefined;
      if (inFlight.size < deps.concurrency) {
        try {
          claimed = await repo.claim(lockMs);
        } catch (error) {
          log.warn({ err: error }, 'could not claim a webhook delivery');
        }
      }
      if (claimed) {
        const id = claimed.delivery.id;
        // Runs beside the loop; a freed slot wakes the loop to claim the next one.
        const running = attempt(claimed)
          .catch((error: unknown) => log.warn({ err: error, deliveryId: id }, 'could not record a webhook attempt'))
          .finally(() => {
            attempts.delete(running);
            wake();
          });
        attempts.add(running);
        continue;
      }
      if (woken) {
        woken = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => wakeUp?.(), pollMs);
        wakeUp = () => {
          clearTimeout(timer);
          wakeUp = undefined;
          resolve();
        };
      });
    }
  }

  return {
    /** Something was queued on this node: look now rather than at the next poll. */
    wake,
    start(): void {
      loop ??= run();
    },
    /** Stops claiming; attempts in flight are aborted and handed back to the outbox. */
    async close(): Promise<void> {
      closing = true;
      for (const controller of inFlight.values()) controller.abort();
      wake();
      await loop;
      await Promise.allSettled(attempts);
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
