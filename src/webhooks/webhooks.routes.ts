import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { TokenService } from '../auth/tokens.ts';
import { authenticate } from '../http/authenticate.ts';
import { errors as errorResponses, noContent, response } from '../http/openapi.ts';
import { toDeliveryJson, toEndpointJson } from './webhooks.json.ts';
import {
  CreateEndpointBody,
  DeliveriesQuery,
  DeliveryJson,
  DeliveryList,
  DeliveryParams,
  EndpointJson,
  EndpointList,
  EndpointParams,
  EndpointWithSecret,
  OrgParams,
  RotateBody,
  UpdateEndpointBody,
} from './webhooks.schemas.ts';
import type { WebhooksService } from './webhooks.service.ts';

export interface WebhooksRoutesOptions {
  webhooks: WebhooksService;
  tokens: TokenService;
}

const DEFAULT_OVERLAP_SEC = 24 * 3600;

/** Webhook endpoints of an org and their delivery log, under /api/orgs/:id/webhooks (owners and admins). */
export const webhooksRoutes: FastifyPluginAsyncTypebox<WebhooksRoutesOptions> = async (app, { webhooks, tokens }) => {
  // Validated by the app's one validator (src/http/validation.ts); JSON bodies only.
  app.removeContentTypeParser('text/plain');
  app.addHook('preHandler', authenticate(tokens));

  const tags = ['webhooks'];
  const errors = errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503);

  app.post(
    '/:id/webhooks',
    {
      schema: {
        tags,
        operationId: 'createWebhookEndpoint',
        summary: 'Add a webhook endpoint (owner or admin)',
        description:
          'Events of the organisation are POSTed to `url`, signed per the Standard Webhooks spec with the ' +
          "endpoint's secret, which this answer carries once. The host must resolve to public addresses " +
          '(422 otherwise, unless the server allows private networks). At most 20 endpoints per organisation (409).',
        params: OrgParams,
        body: CreateEndpointBody,
        response: {
          201: response('Created: the endpoint and its secret, shown this once', EndpointWithSecret),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const created = await webhooks.create(request.user, request.params.id, request.body);
      return reply.status(201).send({ endpoint: toEndpointJson(created.endpoint), secret: created.secret });
    },
  );

  app.get(
    '/:id/webhooks',
    {
      schema: {
        tags,
        operationId: 'listWebhookEndpoints',
        summary: "The organisation's webhook endpoints (owner or admin; never their secrets)",
        params: OrgParams,
        response: { 200: response('The endpoints', EndpointList), ...errors },
      },
    },
    async (request) => ({
      endpoints: (await webhooks.list(request.user, request.params.id)).map(toEndpointJson),
    }),
  );

  app.get(
    '/:id/webhooks/:endpointId',
    {
      schema: {
        tags,
        operationId: 'getWebhookEndpoint',
        summary: 'A webhook endpoint (owner or admin)',
        params: EndpointParams,
        response: { 200: response('The endpoint', EndpointJson), ...errors },
      },
    },
    async (request) => toEndpointJson(await webhooks.get(request.user, request.params.id, request.params.endpointId)),
  );

  app.patch(
    '/:id/webhooks/:endpointId',
    {
      schema: {
        tags,
        operationId: 'updateWebhookEndpoint',
        summary: 'Change a webhook endpoint: URL, description, events; disable or enable it (owner or admin)',
        description:
          'Disabling cancels its pending deliveries; enabling sends the events that happen from then on ' +
          '(resend earlier ones from the delivery log). A receiver answering 410 Gone disables it too.',
        params: EndpointParams,
        body: UpdateEndpointBody,
        response: { 200: response('The endpoint as it is now', EndpointJson), ...errors },
      },
    },
    async (request) =>
      toEndpointJson(await webhooks.update(request.user, request.params.id, request.params.endpointId, request.body)),
  );

  app.delete(
    '/:id/webhooks/:endpointId',
    {
      schema: {
        tags,
        operationId: 'deleteWebhookEndpoint',
        summary: 'Delete a webhook endpoint and its delivery log (owner or admin)',
        params: EndpointParams,
        response: { 204: noContent('Deleted'), ...errors },
      },
    },
    async (request, reply) => {
      await webhooks.remove(request.user, request.params.id, request.params.endpointId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/:id/webhooks/:endpointId/rotate-secret',
    {
      schema: {
        tags,
        operationId: 'rotateWebhookSecret',
        summary: 'Give the endpoint a new secret, returned once (owner or admin)',
        description:
          'The old secret keeps signing beside the new one for `overlap_seconds` (default a day): each ' +
          'delivery then carries two signatures, and a receiver verifying with either secret accepts it, ' +
          'so the receiver can switch to the new secret at any time within the overlap. Send `{}` for the default.',
        params: EndpointParams,
        body: RotateBody,
        response: { 200: response('The endpoint and its new secret, shown this once', EndpointWithSecret), ...errors },
      },
    },
    async (request) => {
      const rotated = await webhooks.rotateSecret(
        request.user,
        request.params.id,
        request.params.endpointId,
        request.body.overlap_seconds ?? DEFAULT_OVERLAP_SEC,
      );
      return { endpoint: toEndpointJson(rotated.endpoint), secret: rotated.secret };
    },
  );

  app.get(
    '/:id/webhooks/:endpointId/deliveries',
    {
      schema: {
        tags,
        operationId: 'listWebhookDeliveries',
        summary: "The endpoint's delivery log, newest first (owner or admin)",
        description:
          'One entry per message sent (or to be sent) to the endpoint: event, status (pending, delivered, ' +
          'failed, cancelled), attempts, the last response code or error, and when it is tried next. Pass ' +
          '`next_cursor` back as `before` for the next page.',
        params: EndpointParams,
        querystring: DeliveriesQuery,
        response: { 200: response('A page of the delivery log', DeliveryList), ...errors },
      },
    },
    async (request) => {
      const page = await webhooks.deliveries(request.user, request.params.id, request.params.endpointId, request.query);
      return { items: page.items.map(toDeliveryJson), next_cursor: page.nextCursor };
    },
  );

  app.post(
    '/:id/webhooks/:endpointId/deliveries/:deliveryId/resend',
    {
      schema: {
        tags,
        operationId: 'resendWebhookDelivery',
        summary: 'Send a message again (owner or admin)',
        description:
          'A new delivery of the same message to this endpoint, with the same `webhook-id` (receivers that ' +
          'already processed it can tell). 409 when the endpoint is disabled.',
        params: DeliveryParams,
        response: { 202: response('The new delivery, queued', DeliveryJson), ...errors },
      },
    },
    async (request, reply) => {
      const { id, endpointId, deliveryId } = request.params;
      return reply.status(202).send(toDeliveryJson(await webhooks.resend(request.user, id, endpointId, deliveryId)));
    },
  );

  app.post(
    '/:id/webhooks/:endpointId/test',
    {
      schema: {
        tags,
        operationId: 'testWebhookEndpoint',
        summary: 'Send a `webhook.test` event to this endpoint (owner or admin)',
        params: EndpointParams,
        response: { 202: response('The test delivery, queued', DeliveryJson), ...errors },
      },
    },
    async (request, reply) =>
      reply
        .status(202)
        .send(toDeliveryJson(await webhooks.sendTest(request.user, request.params.id, request.params.endpointId))),
  );
};
