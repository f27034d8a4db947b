import { randomUUID } from 'node:crypto';
import type { RecordingEventSink } from '../events/recording-events.ts';
import { recordingPayload } from './payload.ts';
import type { WebhooksRepo } from './webhooks.repo.ts';

/** A Standard Webhooks message id: the `webhook-id` of every delivery and retry of one message. */
export const newMessageId = (): string => `msg_${randomUUID().replaceAll('-', '')}`;

export const subscribedTypes = (eventTypes: string): string[] => JSON.parse(eventTypes) as string[];

/**
 * The lifecycle's event sink: called inside the transaction of every change to a recording, it writes
 * the event's message and one pending delivery per subscribed endpoint in that same transaction (a
 * transactional outbox), so a message exists exactly when its change committed, and survives restarts
 * until the dispatcher has sent it. An event no enabled endpoint subscribed to leaves no message. The
 * recording's version counter moves on every event, subscribers or not, so versions reflect the
 * recording's history and only grow.
 */
export function createWebhookOutbox(deps: { repo: WebhooksRepo; publicUrl: string }): RecordingEventSink {
  const { repo, publicUrl } = deps;
  return {
    async record(trx, event) {
      const version = await repo.nextVersion(trx, event.recording.id);
      const endpoints = await repo.enabledEndpoints(trx, event.recording.org_id);
      const subscribed = endpoints.filter((endpoint) => subscribedTypes(endpoint.event_types).includes(event.type));
      if (subscribed.length === 0) return;
      const now = new Date();
      await repo.enqueue(
        trx,
        {
          id: newMessageId(),
          org_id: event.recording.org_id,
          type: event.type,
          recording_id: event.recording.id,
          version,
          payload: recordingPayload(event, version, publicUrl, now),
          created_at: now.toISOString(),
        },
        subscribed.map((endpoint) => endpoint.id),
      );
    },
  };
}
