/** Rows as the API shows them (the schemas are in webhooks.schemas.ts, which the web page imports types from). */
import type { WebhookEndpoint } from '../db/schema.ts';
import type { DeliveryView } from './webhooks.repo.ts';
import type { DeliveryJson, EndpointJson } from './webhooks.schemas.ts';

export function toEndpointJson(endpoint: WebhookEndpoint): EndpointJson {
  const overlap = endpoint.previous_secret_until;
  return {
    id: endpoint.id,
    org_id: endpoint.org_id,
    url: endpoint.url,
    description: endpoint.description,
    event_types: JSON.parse(endpoint.event_types),
    enabled: endpoint.enabled === 1,
    disabled_reason: endpoint.enabled ? null : endpoint.disabled_reason,
    previous_secret_until: overlap && Date.parse(overlap) > Date.now() ? overlap : null,
    created_at: endpoint.created_at,
    updated_at: endpoint.updated_at,
  };
}

export function toDeliveryJson(delivery: DeliveryView): DeliveryJson {
  return {
    id: delivery.id,
    endpoint_id: delivery.endpoint_id,
    message_id: delivery.message_id,
    event_type: delivery.type,
    recording_id: delivery.recording_id,
    version: delivery.version,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: delivery.next_attempt_at,
    last_attempt_at: delivery.last_attempt_at,
    last_status_code: delivery.last_status_code,
    last_error: delivery.last_error,
    last_duration_ms: delivery.last_duration_ms,
    created_at: delivery.created_at,
    delivered_at: delivery.delivered_at,
  };
}
