import { randomUUID } from 'node:crypto';
import { api, type TestServer } from './helpers.ts';

/**
 * The app's operations as its OpenAPI document (/docs/json) describes them, and requests that pass
 * their validation, built from the schemas: suites that must cover every route walk these, so a new
 * route is covered without editing them.
 */
export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  minimum?: number;
  pattern?: string;
  default?: unknown;
  items?: Schema;
  minItems?: number;
  minProperties?: number;
  format?: string;
}

export interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema: Schema;
}

export interface Operation {
  method: string;
  /** OpenAPI path, e.g. `/api/recordings/{id}`. */
  path: string;
  parameters: Parameter[];
  /** Content type → schema of the request body, when the operation declares one. */
  bodies: Record<string, Schema>;
  /** Needs credentials: the operation's `security`, or the document's when it has none of its own. */
  secured: boolean;
}

export interface OpenApiDocument {
  info: { description: string };
  servers: { url: string }[];
  externalDocs: { url: string };
  paths: Record<string, Record<string, any>>;
  security?: unknown[];
  components: { schemas: Record<string, Schema> };
}

export async function openApiDocument(server: Pick<TestServer, 'url'>): Promise<OpenApiDocument> {
  return (await api(server, 'GET', '/docs/json')).body as OpenApiDocument;
}

export async function operations(server: Pick<TestServer, 'url'>): Promise<Operation[]> {
  const document = await openApiDocument(server);
  const found: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const bodies: Record<string, Schema> = {};
      for (const [type, content] of Object.entries<{ schema?: Schema }>(operation.requestBody?.content ?? {})) {
        if (content.schema) bodies[type] = dereferenced(content.schema, document);
      }
      found.push({
        method: method.toUpperCase(),
        path,
        parameters: (operation.parameters ?? []).map((parameter: Parameter) => ({
          ...parameter,
          schema: dereferenced(parameter.schema, document),
        })),
        bodies,
        secured: (operation.security ?? document.security ?? []).length > 0,
      });
    }
  }
  return found;
}

/** `schema` with each `$ref` to a component replaced by the component itself (none is recursive). */
export function dereferenced<T>(schema: T, document: Pick<OpenApiDocument, 'components'>, depth = 0): T {
  if (depth > 20) throw new Error('a component refers to itself: dereferenced() cannot inline it');
  if (Array.isArray(schema)) return schema.map((item) => dereferenced(item, document, depth + 1)) as T;
  if (typeof schema !== 'object' || schema === null) return schema;
  const ref = (schema as { $ref?: unknown }).$ref;
  if (typeof ref === 'string') {
    const target = document.components.schemas[ref.replace('#/components/schemas/', '')];
    if (!target) throw new Error(`unresolved $ref ${ref}`);
    return dereferenced(target as T, document, depth + 1);
  }
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [key, dereferenced(value, document, depth + 1)]),
  ) as T;
}

/** A value the schema accepts; `name` (the property or parameter) picks a realistic one. */
export function validValue(schema: Schema, name = ''): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.anyOf?.[0]) return validValue(schema.anyOf[0], name);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      // The required properties, and optional ones too when the schema wants more (a PATCH body).
      const required = schema.required ?? [];
      const keys = required.length >= (schema.minProperties ?? 0) ? required : Object.keys(schema.properties ?? {});
      return Object.fromEntries(keys.map((key) => [key, validValue(schema.properties?.[key] ?? {}, key)]));
    }
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => validValue(schema.items ?? {}, name));
    case 'integer':
    case 'number':
      return schema.minimum ?? 0;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      if (schema.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
      if (/email|username/i.test(name)) return `someone-${randomUUID().slice(0, 8)}@example.com`;
      if (/password/i.test(name)) return 'correct horse battery staple';
      if (/id$/i.test(name)) return randomUUID();
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1)) + (schema.minLength ? '' : 'valid');
  }
}

/**
 * Percent-encodes `text` for a URL. A lone surrogate has no UTF-8 form (encodeURIComponent throws), so
 * it becomes the bytes a careless client would send for it anyway (CESU-8, invalid UTF-8).
 */
export const percentEncode = (text: string): string =>
  encodeURIComponent(text.replaceAll(/[\ud800-\udfff]/g, '\u0001')).replaceAll('%01', '%ED%A0%80');

/** The operation's URL with its path parameters filled in (encoded). */
export function urlFor(operation: Operation, values: Record<string, string> = {}): string {
  return operation.path.replaceAll(/\{(\w+)\}/g, (_, name: string) =>
    percentEncode(values[name] ?? String(validValue(paramSchema(operation, name), name))),
  );
}

function paramSchema(operation: Operation, name: string): Schema {
  return operation.parameters.find((parameter) => parameter.in === 'path' && parameter.name === name)?.schema ?? {};
}

/** The JSON body of a request that passes validation, when the operation takes one. */
export function validJsonBody(operation: Operation): unknown {
  const schema = operation.bodies['application/json'];
  return schema ? validValue(schema) : undefined;
}
