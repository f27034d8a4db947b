import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from 'typebox';
import type { AppError } from '../errors.ts';
import { Text } from '../text-policy.ts';
import { validatorCompiler } from './validation.ts';

const Query = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    wait: Type.Optional(Type.Number({ minimum: 0, maximum: 30 })),
    final: Type.Optional(Type.Boolean()),
    name: Type.Optional(Text('display', { maxLength: 200 })),
  },
  { additionalProperties: false },
);
const Body = Type.Object(
  { name: Text('display', { minLength: 1 }), role: Type.Union([Type.Literal('owner'), Type.Literal('member')]) },
  { additionalProperties: false },
);

const query = validatorCompiler({ schema: Query, httpPart: 'querystring', method: 'GET', url: '/' }) as (
  value: unknown,
) => { value?: any; error?: any[] };
const body = validatorCompiler({ schema: Body, httpPart: 'body', method: 'POST', url: '/' }) as typeof query;

describe('the one validator', () => {
  it('parses decimal numbers and true/false from query text, and fills defaults', () => {
    assert.deepEqual(query({ limit: '5', wait: '2.5', final: 'true' }).value, { limit: 5, wait: 2.5, final: true });
    assert.deepEqual(query({}).value, { limit: 20 });
    assert.deepEqual(query({ final: 'false', wait: '0' }).value, { limit: 20, final: false, wait: 0 });
  });

  it('refuses every other way of writing a number or a boolean', () => {
    for (const limit of [
      'Infinity',
      '-Infinity',
      '1e400',
      '1e2',
      'NaN',
      '1.5',
      '-1',
      '0',
      '101',
      '0x10',
      ' 5',
      '5 ',
      '',
      '+5',
      '05',
    ]) {
      assert.ok(query({ limit }).error, `limit=${limit}`);
    }
    for (const wait of ['Infinity', '1e400', '-0.5', '31', '.5', '1.', 'NaN'])
      assert.ok(query({ wait }).error, `wait=${wait}`);
    for (const final of ['1', '0', 'yes', 'TRUE', '']) assert.ok(query({ final }).error, `final=${final}`);
    assert.ok(query({ limit: ['1', '2'] }).error, 'a repeated parameter');
  });

  it('never coerces body values and refuses unknown properties', () => {
    assert.ok(body({ name: 5, role: 'owner' }).error);
    assert.ok(body({ name: ['x'], role: 'owner' }).error);
    assert.ok(body({ name: 'x', role: 'owner', admin: true }).error);
    assert.deepEqual(body({ name: 'x', role: 'owner' }).value, { name: 'x', role: 'owner' });
  });
});

describe('validation messages', async () => {
  // Through the real error mapping, as a client sees them.
  const { errorForClient } = await import('./error-handler.ts');
  const silent = { error() {}, warn() {} } as never;
  const failure = (errors: unknown[] | undefined, context: string): AppError =>
    errorForClient(Object.assign(new Error('invalid'), { validation: errors, validationContext: context }), silent);

  it('name the field and say what to fix', () => {
    assert.equal(failure(query({ limit: '1e400' }).error, 'querystring').message, 'query.limit must be integer');
    const named = failure(body({ name: 'a\u0000b', role: 'owner' }).error, 'body');
    assert.equal(
      named.message,
      'body.name must not contain control, line-separator or bidirectional-override characters',
    );
    assert.equal((named.details as { field: string }).field, 'name');
    assert.equal(
      failure(body({ name: 'x', role: 'boss' }).error, 'body').message,
      'body.role must be one of "owner", "member"',
    );
    assert.equal(
      failure(body({ role: 'owner', x: 1 }).error, 'body').message,
      'body.name is required; body.x is not a known property',
    );
    assert.equal(failure(body(null).error, 'body').message, 'body must be object');
  });
});
