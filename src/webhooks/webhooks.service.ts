import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.ts';
import type { WebhookEndpoint } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { RecordingEventType } from '../events/recording-events.ts';
import { decodePageCursor, encodePageCursor } from '../http/page-cursor.ts';
import type { OrgAccess } from '../orgs/access.ts';
import type { AddressGuard } from './address-guard.ts';
import { EVENT_TYPES, TEST_EVENT } from './event-types.ts';
import { newMessageId } from './outbox.ts';
import { testPayload } from './payload.ts';
import { newSecret } from './signing.ts';
import type { DeliveryView, WebhooksRepo } from './webhooks.repo.ts';

/** Enough for a few receivers per environment; more is more likely a loop creating them. */
export const MAX_ENDPOINTS_PER_ORG = 20;

export interface EndpointInput {
  url: string;
  description?: string | undefined;
  event_types?: RecordingEventType[] | undefined;
}

export interface WebhooksServiceDeps {
  repo: WebhooksRepo;
  access: OrgAccess;
  guard: AddressGuard;
  /** Tells this node's dispatcher a delivery was queued (others find it by polling). */
  wake: () => void;
}

/** Managing an org's webhook endpoints and their delivery log: owners and admins (LEAST_ROLE.manageWebhooks). */
export function createWebhooksService(deps: WebhooksServiceDeps) {
  const { repo, access, guard, wake } = deps;

  // A person's role, or for an API key its creator's role and its `admin` scope (LEAST_SCOPE).
  const requireManager = (actor: Principal, orgId: string) => access.require(actor, orgId, 'manageWebhooks');

  async function endpointOf(actor: Principal, orgId: string, endpointId: string): Promise<WebhookEndpoint> {
    await requireManager(actor, orgId);
    const endpoint = await repo.getEndpoint(orgId, endpointId);
    if (!endpoint) throw new AppError('not_found', 'no webhook endpoint with this id in the organisation');
    return endpoint;
  }

  /** A URL deliveries may go to: http(s), no credentials, and a host the address guard lets through now. */
  async function checkUrl(raw: string): Promise<string> {
    const invalid = (why: string) => new AppError('validation_failed', why, { details: { field: 'url' } });
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalid('url is not a valid absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('url must start with https:// or http://');
    if (url.username || url.password) {
      throw invalid('url must not carry a user name or password: receivers verify the signature instead');
    }
    if (url.hash) throw invalid('url must not have a #fragment (it is never sent)');
    const resolution = await guard.resolve(url.hostname);
    if (!resolution.ok) throw invalid(`deliveries cannot go to this URL: ${resolution.reason}`);
    return url.href;
  }

  const typesOf = (types: RecordingEventType[] | undefined) =>
    JSON.stringify(types ? EVENT_TYPES.filter((type) => types.includes(type)) : EVENT_TYPES);

  const ensureEnabled = (endpoint: WebhookEndpoint) => {
    if (!endpoint.enabled) {
      throw new AppError(
        'conflict',
        `the endpoint is disabled (${endpoint.disabled_reason ?? 'no reason given'}); enable it first`,
      );
    }
  };

  return {
    async list(actor: Principal, orgId: string): Promise<WebhookEndpoint[]> {
      await requireManager(actor, orgId);
      return repo.listEndpoints(orgId);
    },

    get: endpointOf,

    /** A new endpoint, enabled, with its secret: returned here once and never again. */
    async create(
      actor: Principal,
      orgId: string,
      input: EndpointInput,
    ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
      await requireManager(actor, orgId);
      if ((await repo.countEndpoints(orgId)) >= MAX_ENDPOINTS_PER_ORG) {
        throw new AppError('conflict', `an organisation has at most ${MAX_ENDPOINTS_PER_ORG} webhook endpoints`);
      }
      const now = new Date().toISOString();
      const secret = newSecret();
      const endpoint = await repo.insertEndpoint({
        id: randomUUID(),
        org_id: orgId,
        url: await checkUrl(input.url),
        description: input.description?.trim() ?? '',
        event_types: typesOf(input.event_types),
        secret,
        previous_secret: null,
        previous_secret_until: null,
        enabled: 1,
        disabled_reason: null,
        created_at: now,
        updated_at: now,
      });
      return { endpoint, secret };
    },

    async update(
      actor: Principal,
      orgId: string,
      endpointId: string,
      input: Partial<EndpointInput> & { enabled?: boolean | undefined },
    ): Promise<WebhookEndpoint> {
      let endpoint = await endpointOf(actor, orgId, endpointId);
      if (input.url !== undefined || input.description !== undefined || input.event_types !== undefined) {
        endpoint =
          (await repo.updateEndpoint(orgId, endpointId, {
            ...(input.url !== undefined ? { url: await checkUrl(input.url) } : {}),
            ...(input.description !== undefined ? { description: input.description.trim() } : {}),
            ...(input.event_types !== undefined ? { event_types: typesOf(input.event_types) } : {}),
          })) ?? endpoint;
      }
      if (input.enabled === true && !endpoint.enabled)
        endpoint = (await repo.enableEndpoint(orgId, endpointId)) ?? endpoint;
      if (input.enabled === false && endpoint.enabled) {
        endpoint = (await repo.disableEndpoint(endpointId, 'disabled by an owner or admin')) ?? endpoint;
      }
      return endpoint;
    },

    async remove(actor: Principal, orgId: string, endpointId: string): Promise<void> {
      await endpointOf(actor, orgId, endpointId);
      await repo.deleteEndpoint(orgId, endpointId);
    },

    /** A new secret, returned once; the old one keeps signing beside it for `overlapSec`. */
    async rotateSecret(
      actor: Principal,
      orgId: string,
      endpointId: string,
      overlapSec: number,
    ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
      await endpointOf(actor, orgId, endpointId);
      const secret = newSecret();
      const until = new Date(Date.now() + overlapSec * 1000).toISOString();
      const endpoint = await repo.rotateSecret(orgId, endpointId, secret, until);
      if (!endpoint) throw new AppError('not_found', 'no webhook endpoint with this id in the organisation');
      return { endpoint, secret };
    },

    async deliveries(
      actor: Principal,
      orgId: string,
      endpointId: string,
      query: { limit: number; before?: string | undefined },
    ): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
      await endpointOf(actor, orgId, endpointId);
      const { limit } = query;
      const before = query.before ? decodePageCursor(query.before) : undefined;
      const items = await repo.listDeliveries(endpointId, limit + 1, before);
      const page = items.slice(0, limit);
      return {
        items: page,
        nextCursor:
          items.length > limit ? encodePageCursor({ at: page.at(-1)!.created_at, id: page.at(-1)!.id }) : null,
      };
    },

    /** Sends a delivered, failed or cancelled message again: a new delivery with the same `webhook-id`. */
    async resend(actor: Principal, orgId: string, endpointId: string, deliveryId: string): Promise<DeliveryView> {
      const endpoint = await endpointOf(actor, orgId, endpointId);
      const original = await repo.getDelivery(endpointId, deliveryId);
      if (!original) throw new AppError('not_found', 'no delivery with this id for this endpoint');
      ensureEnabled(endpoint);
      const delivery = await repo.addDelivery(endpointId, { id: original.message_id });
      wake();
      return delivery;
    },

    /** A `webhook.test` message to this endpoint alone, whatever it subscribed to. */
    async sendTest(actor: Principal, orgId: string, endpointId: string): Promise<DeliveryView> {
      const endpoint = await endpointOf(actor, orgId, endpointId);
      ensureEnabled(endpoint);
      const now = new Date();
      const delivery = await repo.addDelivery(endpointId, {
        id: newMessageId(),
        org_id: orgId,
        type: TEST_EVENT,
        recording_id: null,
        version: null,
        payload: testPayload(endpoint, now),
        created_at: now.toISOString(),
      });
      wake();
      return delivery;
    },
  };
}

export type WebhooksService = ReturnType<typeof createWebhooksService>;
