import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { type Static, type TSchema, type TUnsafe, Type } from 'typebox';
import type { ErrorCode } from '../errors.ts';

/**
 * How routes describe themselves in the OpenAPI document (/docs/json), so that a code generator gets
 * a named type for every object and a method name for every operation. test/openapi.test.ts fails on a
 * route that breaks one of these conventions:
 *
 * - every operation has an `operationId`, a camelCase verb and noun unique in the document
 *   (`listRecordings`, `uploadRecording`): generated clients name their methods after it;
 * - every response object is a component: a TypeBox schema with an `$id` (its name in
 *   `components.schemas`), listed in the `components` passed to `registerOpenApi` (src/app.ts), and
 *   used through `response()` or `ref()`, never inlined, so it appears once and generated clients
 *   share one type for it;
 * - every response has a description saying when it is given (`response()`, `noContent()`,
 *   `errors()`); error responses come from `errors()` and reference the one `Error` component;
 * - operations need the bearer token by default; public ones say `security: []`;
 * - a body the handler reads as a stream (multipart, raw audio) is described by `streamedBody`, so the
 *   document shows it and "Try it out" can send it, while the validator never sees it. Optional text
 *   fields of a form are better documented as query parameters: Swagger UI fills form fields with
 *   made-up values and sends them even when cleared (the upload's org_id and name);
 * - a property with a `default` is optional in the document, whatever its static type: the validator
 *   fills it in.
 *
 * Request schemas stay inline: the validator (src/http/validation.ts) compiles each one on its own.
 */

/** Every error answer: `{error, message, details?}` (src/http/error-handler.ts). */
export const ErrorJson = Type.Object(
  {
    error: Type.Unsafe<ErrorCode>(
      Type.String({ description: 'A stable code from the error table (src/errors.ts), e.g. `validation_failed`.' }),
    ),
    message: Type.String({ description: 'What went wrong and what to fix, for people.' }),
    details: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'More about some errors: `field` and `issues` of a refused request, `offset` of a stream.',
      }),
    ),
  },
  { $id: 'Error', description: 'An error: a stable code and a message saying what to fix.' },
);

/**
 * A reference to a component schema, typed as the component itself (TypeBox's own `Type.Ref` would be
 * `unknown` here), with what it means in this place.
 */
export function ref<T extends TSchema>(component: T, description?: string): TUnsafe<Static<T>> {
  const { $id } = component as { $id?: unknown };
  if (typeof $id !== 'string')
    throw new Error('ref() takes a component: a schema with an $id, listed in registerOpenApi');
  return Type.Unsafe<Static<T>>({ $ref: $id, ...(description ? { description } : {}) });
}

/** A response whose body is a component; `description` says when it is given. */
export const response = <T extends TSchema>(description: string, component: T): TUnsafe<Static<T>> =>
  ref(component, description);

/** A response without a body (204, 304, a redirect). */
export const noContent = (description: string) => Type.Null({ description });

/** Bytes, not text: a file of an upload, an audio chunk, the audio served. */
export const binary = (description: string) => Type.Unsafe<unknown>({ type: 'string', format: 'binary', description });

/** What each error status means, whatever the route; the error code in the body says which case it is. */
const ERROR_RESPONSES = {
  400: 'The request cannot be read: malformed JSON, URL or multipart body (`bad_request`).',
  401: 'No valid credentials: sign in, or send a valid access token or API key (`unauthenticated`, `invalid_token`, `invalid_credentials`).',
  403: 'Signed in but not allowed: your role or the API key’s scopes do not permit it (`forbidden`, `insufficient_scope`).',
  404: 'No such resource, or none you may see (`not_found`).',
  408: 'The request body stopped arriving (`request_timeout`).',
  409: 'The resource is not in a state that allows this (`conflict`, `email_taken`, `offset_mismatch`); the message says why.',
  410: 'It existed but is gone: a resumable upload that expired before it was finished (`upload_expired`).',
  412: 'The tus protocol version is missing or not supported: send `Tus-Resumable: 1.0.0` (`tus_version_unsupported`).',
  413: 'The body is larger than the server accepts (`payload_too_large`).',
  415: 'The Content-Type, or the media inside the body, is not accepted (`unsupported_media`).',
  416: 'The byte range is outside the file (`range_not_satisfiable`); Content-Range gives its length.',
  422: 'A value is refused: `validation_failed` names the field in `details.field`; media that cannot be used says why.',
  429: 'Too many requests or queued jobs: retry after the Retry-After header’s seconds (`rate_limited`).',
  502: 'A service Earshot depends on answered with an error (`transcription_provider_error`).',
  503: 'Temporarily unavailable (a database outage, busy, shutting down): retry after Retry-After (`database_unavailable`, `busy`, `unavailable`).',
  507: 'The server is out of storage space (`insufficient_storage`); nothing was kept.',
} as const;

export type ErrorStatus = keyof typeof ERROR_RESPONSES;

/** The error responses an operation may give, each referencing the one Error component. */
export function errors<const S extends readonly ErrorStatus[]>(
  ...statuses: S
): { [K in S[number]]: TUnsafe<Static<typeof ErrorJson>> } {
  return Object.fromEntries(statuses.map((status) => [status, response(ERROR_RESPONSES[status], ErrorJson)])) as {
    [K in S[number]]: TUnsafe<Static<typeof ErrorJson>>;
  };
}

/** The body of a route whose handler reads it as a stream, by media type: in the document only. */
export type StreamedBody = { content: Record<string, { schema: TSchema }> };

declare module 'fastify' {
  interface FastifySchema {
    /**
     * A body Fastify hands to the handler unparsed (multipart parts, raw audio chunks): shown in the
     * OpenAPI document as the request body, never given to the validator (the handler checks it).
     */
    streamedBody?: StreamedBody;
  }
}

export interface OpenApiOptions {
  /** PUBLIC_URL when it is set; without it the document's server is relative (the docs' own origin). */
  serverUrl: string | undefined;
  /** The component schemas (each with an `$id`), in the order `components.schemas` lists them. */
  components: readonly TSchema[];
}

/**
 * @fastify/swagger, set up for the conventions above: components named after their `$id`, a
 * `streamedBody` shown as the request body, and `/api/orgs/` (a prefix's root route) written without
 * its trailing slash, as clients call it.
 */
export async function registerOpenApi(app: FastifyInstance, options: OpenApiOptions): Promise<void> {
  // Shared schemas: the serializer resolves `ref()`s to them; @fastify/swagger lists them as components.
  for (const component of options.components) app.addSchema(component);
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Earshot',
        version: '0.1.0',
        description:
          'Meeting audio capture: accounts and organisations, file uploads, chunked HTTP streams and live ' +
          'recording, stored as Ogg/Opus 16 kHz mono. Every error is `{error, message, details?}` with a stable ' +
          'code. Live recording is a WebSocket at `/api/ws/record`, outside this document: its protocol is ' +
          '[/docs/live-protocol.md](/docs/live-protocol.md) and its AsyncAPI document ' +
          '[/docs/asyncapi.yaml](/docs/asyncapi.yaml).',
        license: { name: 'MIT', url: 'https://opensource.org/license/mit' },
      },
      externalDocs: { description: 'Live recording over WebSocket (AsyncAPI 3.0)', url: '/docs/asyncapi.yaml' },
      servers: [
        options.serverUrl
          ? { url: options.serverUrl, description: 'PUBLIC_URL' }
          : { url: '/', description: 'The server this document came from' },
      ],
      security: [{ bearer: [] }],
      tags: [
        { name: 'auth', description: 'Accounts, sign-in and tokens' },
        { name: 'orgs', description: 'Organisations, their members and settings' },
        { name: 'invitations', description: 'How people join an organisation' },
        { name: 'api-keys', description: 'Keys for machines (bots, pipelines), one organisation each' },
        { name: 'recordings', description: 'Uploads, chunked streams, recordings and their audio' },
        { name: 'uploads', description: 'Resumable uploads over the tus 1.0 protocol' },
        { name: 'webhooks', description: 'Events of an organisation POSTed to your endpoints, signed' },
        { name: 'transcripts', description: 'Speech to text of ready recordings' },
        { name: 'health', description: 'Liveness and readiness probes' },
      ],
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT or API key',
            description:
              "A person's access token (a JWT from /api/auth/login), or an organisation's API key (esk_…, docs/integrations.md)",
          },
        },
      },
    },
    refResolver: {
      // Components keep their own names (`Recording`), not @fastify/swagger's `def-<n>`.
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
    transform: ({ schema, url }) => ({
      url: url.length > 1 ? url.replace(/\/$/, '') : url,
      schema: documented(schema),
    }),
  });
}

/** A route's schema as the document shows it: a streamed body as its body, defaults optional. */
function documented(schema: FastifySchema | undefined): FastifySchema {
  if (!schema) return {};
  const { streamedBody, ...rest } = schema;
  return {
    ...rest,
    // @fastify/swagger suffixes a HEAD route's operationId with `-head` in case a GET shares it; ours
    // are unique on their own (test/openapi.test.ts checks), and a suffix is no method name.
    ...(typeof rest.operationId === 'string' ? { operationId: rest.operationId.replace(/-head$/, '') } : {}),
    ...(rest.querystring ? { querystring: defaultsOptional(rest.querystring) } : {}),
    ...(rest.headers ? { headers: defaultsOptional(rest.headers) } : {}),
    ...(streamedBody ? { body: streamedBody } : rest.body ? { body: defaultsOptional(rest.body) } : {}),
  };
}

/** A property with a `default` may be left out, whatever its type says: the validator fills it in. */
function defaultsOptional(schema: unknown): unknown {
  const { properties, required } = schema as { properties?: Record<string, object>; required?: string[] };
  if (!properties || !required) return schema;
  const stillRequired = required.filter((name) => !(properties[name] && 'default' in properties[name]));
  const { required: _all, ...rest } = schema as Record<string, unknown>;
  return stillRequired.length > 0 ? { ...rest, required: stillRequired } : rest;
}
