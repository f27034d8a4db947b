import type { Db, DbDialect } from '../db/index.ts';
import type { OrgAccess } from '../orgs/access.ts';
import { createAddressGuard } from './address-guard.ts';
import { createDispatcher, type DispatcherLogger } from './dispatcher.ts';
import { createWebhookOutbox } from './outbox.ts';
import { createSender } from './sender.ts';
import type { WebhookConfig } from './webhook-config.ts';
import { createWebhooksRepo } from './webhooks.repo.ts';
import { createWebhooksService } from './webhooks.service.ts';

export interface WebhooksDeps {
  db: Db;
  dialect: DbDialect;
  nodeId: string;
  config: WebhookConfig;
  /** Base of the links in payloads (PUBLIC_URL). */
  publicUrl: string;
  access: OrgAccess;
  log: DispatcherLogger;
}

/**
 * Webhooks, wired: the outbox the recording lifecycle writes events to, the dispatcher that sends them
 * (started and closed with the app), the service behind the routes, and the retention purge.
 */
export function createWebhooks(deps: WebhooksDeps) {
  const { config } = deps;
  const repo = createWebhooksRepo(deps.db, deps.dialect, deps.nodeId);
  const guard = createAddressGuard(config.allowPrivate);
  const dispatcher = createDispatcher({
    repo,
    send: createSender({ guard, timeoutMs: config.timeoutMs }),
    log: deps.log,
    concurrency: config.concurrency,
    timeoutMs: config.timeoutMs,
    retryScheduleMs: config.retryScheduleMs,
  });
  return {
    sink: createWebhookOutbox({ repo, publicUrl: deps.publicUrl }),
    dispatcher,
    service: createWebhooksService({ repo, access: deps.access, guard, wake: dispatcher.wake }),
    /** Messages older than the retention, once settled, go with their delivery log. */
    purge: () => repo.purge(new Date(Date.now() - config.retentionDays * 24 * 3600_000).toISOString()),
  };
}
