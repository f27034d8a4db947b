/**
 * The webhooks API's JSON, defined once: the routes validate and document with these schemas, and the
 * web page takes its types from them (`import type`, so nothing of this file reaches the browser bundle).
 */
import { type Static, Type } from 'typebox';
import { ref } from '../http/openapi.ts';
import { Text } from '../text-policy.ts';
import { EVENT_DESCRIPTIONS, EVENT_TYPES } from './event-types.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Time = Type.String({ format: 'date-time' });
const Id = Text('plain', { minLength: 1, maxLength: 100 });

export const EventType = Type.Union(
  EVENT_TYPES.map((type) => Type.Literal(type)),
  {
    description: Object.entries(EVENT_DESCRIPTIONS)
      .map(([type, when]) => `${type}: ${when}`)
      .join('; '),
  },
);
const EventTypes = Type.Array(EventType, {
  minItems: 1,
  uniqueItems: true,
  description: 'The events this endpoint receives (default: all)',
});

export const EndpointJson = Type.Object(
  {
    id: Type.String(),
    org_id: Type.String(),
    url: Type.String(),
    description: Type.String(),
    event_types: Type.Array(EventType),
    enabled: Type.Boolean(),
    disabled_reason: Nullable(Type.String({ description: 'Why it is disabled: by a person, or by a 410 Gone' })),
    previous_secret_until: Nullable(
      Type.String({ format: 'date-time', description: 'After a rotation: the old secret signs too until then' }),
    ),
    created_at: Time,
    updated_at: Time,
  },
  { $id: 'WebhookEndpoint', description: 'A URL that receives the events of an organisation' },
);
export type EndpointJson = Static<typeof EndpointJson>;

export const EndpointWithSecret = Type.Object(
  {
    endpoint: ref(EndpointJson),
    secret: Type.String({
      description: 'The signing secret (whsec_…), shown this once: verify each delivery with it (docs/integrations.md)',
    }),
  },
  { $id: 'WebhookEndpointWithSecret', description: 'An endpoint and its signing secret, shown once' },
);
export type EndpointWithSecret = Static<typeof EndpointWithSecret>;

export const EndpointList = Type.Object(
  { endpoints: Type.Array(ref(EndpointJson)) },
  { $id: 'WebhookEndpointList', description: "An organisation's webhook endpoints" },
);

const Url = Text('display', {
  minLength: 1,
  maxLength: 2048,
  description: 'https:// (or http://) URL that receives POSTs; it must resolve to public addresses',
});
const Description = Text('display', { maxLength: 500 });

export const CreateEndpointBody = Type.Object(
  { url: Url, description: Type.Optional(Description), event_types: Type.Optional(EventTypes) },
  { additionalProperties: false },
);
export const UpdateEndpointBody = Type.Object(
  {
    url: Type.Optional(Url),
    description: Type.Optional(Description),
    event_types: Type.Optional(EventTypes),
    enabled: Type.Optional(
      Type.Boolean({ description: 'false stops deliveries and cancels pending ones; true starts them again' }),
    ),
  },
  { additionalProperties: false },
);
export const RotateBody = Type.Object(
  {
    overlap_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 7 * 24 * 3600,
        description: 'How long the old secret keeps signing beside the new one (default 86400: a day)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DeliveryJson = Type.Object(
  {
    id: Type.String(),
    endpoint_id: Type.String(),
    message_id: Type.String({ description: 'The webhook-id header: the same on every retry and resend' }),
    event_type: Type.String(),
    recording_id: Nullable(Type.String()),
    version: Nullable(Type.Integer({ description: "The recording's event version (only grows)" })),
    status: Type.Union([
      Type.Literal('pending'),
      Type.Literal('delivered'),
      Type.Literal('failed'),
      Type.Literal('cancelled'),
    ]),
    attempts: Type.Integer(),
    next_attempt_at: Nullable(Time),
    last_attempt_at: Nullable(Time),
    last_status_code: Nullable(Type.Integer({ description: "The receiver's HTTP status at the last attempt" })),
    last_error: Nullable(Type.String()),
    last_duration_ms: Nullable(Type.Integer()),
    created_at: Time,
    delivered_at: Nullable(Time),
  },
  { $id: 'WebhookDelivery', description: 'One message sent, or to be sent, to an endpoint' },
);
export type DeliveryJson = Static<typeof DeliveryJson>;

export const DeliveryList = Type.Object(
  { items: Type.Array(ref(DeliveryJson)), next_cursor: Nullable(Type.String()) },
  { $id: 'WebhookDeliveryPage', description: "A page of an endpoint's delivery log, newest first" },
);
export type DeliveryList = Static<typeof DeliveryList>;

export const DeliveriesQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  before: Type.Optional(Text('plain', { maxLength: 512, description: 'next_cursor of the previous page' })),
});

export const OrgParams = Type.Object({ id: Id });
export const EndpointParams = Type.Object({ id: Id, endpointId: Id });
export const DeliveryParams = Type.Object({ id: Id, endpointId: Id, deliveryId: Id });
