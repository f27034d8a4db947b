import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError } from '../errors.ts';
import { patternProblem } from '../text-policy.ts';

/**
 * The one validator of every route, set once at the app root: TypeBox's checker, which neither coerces
 * values nor drops unknown properties (Fastify's default Ajv setup turns `{"name": 5}` into "5" and
 * silently removes what a schema does not name).
 *
 * Query strings, path parameters and headers arrive as text. Where a schema declares a number, integer
 * or boolean, `parseText` turns the text into that value by explicit rules, and the checker then
 * applies the schema's bounds; text that is not written that way stays text and fails the type check.
 * Absent properties take the schema's `default`.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const checker = Compile(schema);
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  return (value: unknown) => {
    const input = httpPart === 'body' ? withDefaults(value, properties) : parseParts(value, properties);
    if (checker.Check(input)) return { value: input };
    return { error: checker.Errors(input) as FastifySchemaValidationError[] };
  };
};

// Decimal digits only: no sign on counts, no exponent, no hexadecimal, no spaces, no Infinity or NaN.
const INTEGER = /^-?(0|[1-9][0-9]{0,14})$/;
const NUMBER = /^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,9})?$/;

function parseText(text: string, schema: TSchema): unknown {
  switch ((schema as { type?: unknown }).type) {
    case 'integer':
      return INTEGER.test(text) ? Number(text) : text;
    case 'number':
      return NUMBER.test(text) ? Number(text) : text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    default:
      return text;
  }
}

function parseParts(value: unknown, properties: Record<string, TSchema>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const parsed: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [name, schema] of Object.entries(properties)) {
    const text = parsed[name];
    if (typeof text === 'string') parsed[name] = parseText(text, schema);
  }
  return withDefaults(parsed, properties);
}

function withDefaults(value: unknown, properties: Record<string, TSchema>): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const object = value as Record<string, unknown>;
  for (const [name, schema] of Object.entries(properties)) {
    if (object[name] === undefined && 'default' in schema) object[name] = schema.default;
  }
  return object;
}

const PART_NAMES: Record<string, string> = { querystring: 'query', params: 'path', headers: 'header' };

interface ValidationIssue {
  /** Dotted path of the field, e.g. `name` or `items.0.id`; empty for the whole part. */
  field: string;
  /** body, query, path or header */
  in: string;
  message: string;
}

/**
 * A `validation_failed` error from a checker's errors: one issue per field, each naming it, e.g.
 * `query.limit must be <= 100` or `body.name must not contain control characters`.
 */
export function validationError(errors: readonly FastifySchemaValidationError[], context?: string): AppError {
  const part = PART_NAMES[context ?? ''] ?? context ?? 'request';
  const issues = describeErrors(errors).map((issue) => ({ ...issue, in: part }));
  const message = issues.map((issue) => `${issue.field ? `${part}.${issue.field}` : part} ${issue.message}`).join('; ');
  return new AppError('validation_failed', message || `${part} is not valid`, {
    details: { field: issues[0]?.field ?? '', issues },
  });
}

function describeErrors(errors: readonly FastifySchemaValidationError[]): Omit<ValidationIssue, 'in'>[] {
  const issues = new Map<string, string>();
  const add = (field: string, message: string) => {
    if (!issues.has(field)) issues.set(field, message);
  };
  const fieldOf = (instancePath: string) => instancePath.split('/').filter(Boolean).join('.');
  const join = (parent: string, name: string) => (parent ? `${parent}.${name}` : name);
  // Alternatives (`anyOf` of literals) report every branch; the union's own error says it at once.
  const unions = errors.filter((error) => error.keyword === 'anyOf');
  const insideUnion = (error: FastifySchemaValidationError) =>
    unions.some((union) => error !== union && error.schemaPath.startsWith(`${union.schemaPath}/anyOf/`));

  for (const error of errors) {
    const field = fieldOf(error.instancePath);
    const params = error.params as Record<string, unknown>;
    if (insideUnion(error)) continue;
    switch (error.keyword) {
      case 'additionalProperties':
        for (const name of (params.additionalProperties as string[] | undefined) ?? []) {
          add(join(field, name), 'is not a known property');
        }
        break;
      case 'boolean': // `additionalProperties: false` failing for one property: reported just above
        break;
      case 'required':
        for (const name of (params.requiredProperties as string[] | undefined) ?? [])
          add(join(field, name), 'is required');
        break;
      case 'pattern':
        add(field, patternProblem(params.pattern) ?? 'is not in the expected format');
        break;
      case 'anyOf': {
        const allowed = errors
          .filter((branch) => branch.keyword === 'const' && branch.schemaPath.startsWith(`${error.schemaPath}/anyOf/`))
          .map((branch) => JSON.stringify((branch.params as { allowedValue?: unknown }).allowedValue));
        add(field, allowed.length > 0 ? `must be one of ${allowed.join(', ')}` : 'does not have an allowed type');
        break;
      }
      default:
        add(field, error.message ?? 'is not valid');
    }
  }
  return [...issues].map(([field, message]) => ({ field, message }));
}
