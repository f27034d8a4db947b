import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEXT_PATTERNS } from '../src/text-policy.ts';
import { WEB_DIST } from '../src/web/web.routes.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { openSocket } from './live-helpers.ts';
import {
  type Operation,
  operations,
  percentEncode,
  type Schema,
  urlFor,
  validJsonBody,
  validValue,
} from './openapi.ts';
import { tableError } from './raw-http.ts';

/**
 * Hostile input on every route, on SQLite and PostgreSQL: for each operation of the OpenAPI document
 * (and each hidden route the router knows), hostile values in every path parameter, query parameter,
 * header parameter and body property, and hostile whole bodies. Every answer must be below 500 and,
 * when an error, in the table's shape with the table's status. PostgreSQL refuses NUL in text, so a
 * NUL that reaches it anywhere shows up here as a 500.
 */
const STRINGS: string[] = [
  '\u0000',
  'a\u0000b',
  '\u001b[31mred\u001b[0m',
  'line\r\nSet-Cookie: x=1',
  'bell\u0007',
  'tab\there',
  '\u007f',
  '\u0085',
  'line\u2028separator',
  'evil\u202egnp.exe',
  'lone \ud800 surrogate',
  'x'.repeat(10_000),
  '',
  ' ',
  '../../../etc/passwd',
  "' OR '1'='1",
  '%00',
  '😀 Ω≈ç√',
];
const NON_STRINGS: unknown[] = [5, -1, 0, 1.5, 1e308, true, false, null, [], ['x'], {}, { a: 1 }, [[[[[[[[[[]]]]]]]]]]];
/** JSON numbers and strings JSON.stringify cannot write: spliced into the body text as they are. */
const RAW_JSON = ['1e400', '-1e400', '123456789012345678901234567890', '-0', '"\\ud800"', '"\\u0000"'];
const QUERY_TEXT = ['Infinity', '-Infinity', '1e400', 'NaN', '-1', '1.5', '0x10', ' 5', 'true', '9007199254740993'];
/** Header values HTTP can carry (no CR, LF or NUL; bytes up to 0xFF). */
const HEADER_TEXT = ['Infinity', '1e400', '-1', '1.5', 'x'.repeat(8000), 'é', '\u0085', ''];

const PAGE_BUILT = existsSync(path.join(WEB_DIST, 'index.html'));

describe('hostile input on every route', () => {
  let server: TestServer;
  let user: TestUser;
  let all: Operation[];
  let sent = 0;

  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
    all = await operations(server);
  });
  after(() => server.close());

  /** Sends one request and checks the answer: below 500, and an error in the table's shape. */
  async function send(
    method: string,
    url: string,
    init: { body?: NonNullable<RequestInit['body']>; headers?: Record<string, string> } = {},
  ) {
    const headers = { authorization: `Bearer ${user.token}`, ...init.headers };
    const what = `${method} ${url.slice(0, 200)} ${String(init.body ?? '').slice(0, 100)}`;
    // A HEAD request has no body (fetch refuses one); its headers and path are still hostile.
    const body = method === 'HEAD' ? null : (init.body ?? null);
    const res = await fetch(server.url + url, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    sent += 1;
    // The page is served only once built (npm run build:web); before that it says so with 503.
    if (res.status === 503 && !PAGE_BUILT && !url.startsWith('/api/') && !url.startsWith('/docs')) {
      assert.equal(tableError(res.status, text, what).error, 'unavailable');
      return res.status;
    }
    assert.ok(res.status < 500, `${what} -> ${res.status} ${text.slice(0, 300)}`);
    if (res.status >= 400 && method !== 'HEAD') tableError(res.status, text, what);
    return res.status;
  }

  /** Runs `requests` a few at a time (each one checks its own answer). */
  async function inBatches(requests: (() => Promise<unknown>)[]) {
    for (let i = 0; i < requests.length; i += 8) await Promise.all(requests.slice(i, i + 8).map((run) => run()));
  }

  const json = (value: unknown) => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });
  const baselineBody = (operation: Operation) => {
    const body = validJsonBody(operation);
    return body === undefined ? {} : json(body);
  };

  it('walks the whole API (the OpenAPI document lists every operation)', () => {
    assert.ok(all.length >= 18, `${all.length} operations`);
  });

  it('finds a text rule of src/text-policy.ts on every string a route takes', () => {
    const untyped: string[] = [];
    const visit = (schema: Schema | undefined, where: string) => {
      if (!schema) return;
      for (const branch of schema.anyOf ?? []) visit(branch, where);
      for (const [name, property] of Object.entries(schema.properties ?? {})) visit(property, `${where}.${name}`);
      // Bytes (an uploaded file, an audio chunk) are not text.
      const isFreeText =
        schema.type === 'string' &&
        schema.const === undefined &&
        schema.enum === undefined &&
        schema.format !== 'binary';
      if (isFreeText && !TEXT_PATTERNS.has(schema.pattern ?? '')) untyped.push(where);
    };
    for (const operation of all) {
      const name = `${operation.method} ${operation.path}`;
      for (const parameter of operation.parameters)
        visit(parameter.schema, `${name} ${parameter.in} ${parameter.name}`);
      for (const [type, schema] of Object.entries(operation.bodies)) visit(schema, `${name} ${type}`);
    }
    assert.deepEqual(untyped, [], 'strings without a text rule (use Text() from src/text-policy.ts)');
  });

  it('refuses hostile path parameters', async () => {
    const requests: (() => Promise<unknown>)[] = [];
    for (const operation of all) {
      for (const parameter of operation.parameters.filter((p) => p.in === 'path')) {
        for (const value of [...STRINGS.filter(Boolean), ...QUERY_TEXT]) {
          const url = urlFor(operation, { [parameter.name]: value });
          requests.push(() => send(operation.method, url, baselineBody(operation)));
        }
      }
    }
    await inBatches(requests);
  });

  it('refuses hostile query parameters, repeated and unknown ones', async () => {
    const requests: (() => Promise<unknown>)[] = [];
    for (const operation of all) {
      const base = urlFor(operation);
      const query = operation.parameters.filter((p) => p.in === 'query').map((p) => p.name);
      for (const name of [...query, 'unknown_parameter']) {
        for (const value of [...STRINGS, ...QUERY_TEXT]) {
          const url = `${base}?${name}=${percentEncode(value)}`;
          requests.push(() => send(operation.method, url, baselineBody(operation)));
        }
        requests.push(() => send(operation.method, `${base}?${name}=1&${name}=2`, baselineBody(operation)));
        // Not valid percent-encoding, and percent-encoded bytes that are not UTF-8.
        for (const raw of ['%', '%zz', '%ff%fe', '%c0%80', '%ed%a0%80']) {
          requests.push(() => send(operation.method, `${base}?${name}=${raw}`, baselineBody(operation)));
        }
      }
    }
    await inBatches(requests);
  });

  it('refuses hostile header parameters', async () => {
    const requests: (() => Promise<unknown>)[] = [];
    for (const operation of all) {
      for (const parameter of operation.parameters.filter((p) => p.in === 'header')) {
        for (const value of HEADER_TEXT) {
          requests.push(() =>
            send(operation.method, urlFor(operation), {
              headers: { [parameter.name]: value, 'content-type': 'application/octet-stream' },
              body: 'OggS',
            }),
          );
        }
      }
    }
    await inBatches(requests);
  });

  it('refuses hostile values in every body property, in JSON and in forms', async () => {
    const requests: (() => Promise<unknown>)[] = [];
    for (const operation of all) {
      for (const [type, schema] of Object.entries(operation.bodies)) {
        // Multipart fields: the next test. Raw bytes have no properties: hostile whole bodies below.
        if (type !== 'application/json' && type !== 'application/x-www-form-urlencoded') continue;
        const valid = validValue(schema) as Record<string, unknown>;
        for (const property of [...Object.keys(schema.properties ?? {}), 'unknown_property']) {
          const url = urlFor(operation);
          if (type === 'application/x-www-form-urlencoded') {
            for (const value of STRINGS) {
              const form = new URLSearchParams({ ...(valid as Record<string, string>), [property]: value });
              requests.push(() =>
                send(operation.method, url, { body: form.toString(), headers: { 'content-type': type } }),
              );
            }
            continue;
          }
          for (const value of [...STRINGS, ...NON_STRINGS]) {
            requests.push(() => send(operation.method, url, json({ ...valid, [property]: value })));
          }
          for (const raw of RAW_JSON) {
            const text = JSON.stringify({ ...valid, [property]: '\u0001raw\u0001' }).replace(
              JSON.stringify('\u0001raw\u0001'),
              raw,
            );
            requests.push(() => send(operation.method, url, { body: text, headers: { 'content-type': type } }));
          }
        }
      }
    }
    await inBatches(requests);
  });

  it('refuses hostile whole bodies and content types on every operation', async () => {
    const invalidUtf8 = Buffer.concat([
      Buffer.from('{"name":"'),
      Buffer.from([0xff, 0xfe, 0xc0, 0x80]),
      Buffer.from('"}'),
    ]);
    const bodies: { body: NonNullable<RequestInit['body']>; type?: string }[] = [
      { body: '', type: 'application/json' },
      { body: 'null', type: 'application/json' },
      { body: '[]', type: 'application/json' },
      { body: '"text"', type: 'application/json' },
      { body: '5', type: 'application/json' },
      { body: '{', type: 'application/json' },
      { body: '{"__proto__":{"admin":true}}', type: 'application/json' },
      { body: '{"constructor":{"prototype":{"admin":true}}}', type: 'application/json' },
      { body: invalidUtf8, type: 'application/json' },
      { body: '['.repeat(5000), type: 'application/json' },
      { body: JSON.stringify({ name: 'x'.repeat(70_000) }), type: 'application/json' },
      { body: 'hello', type: 'text/plain' },
      { body: '<a/>', type: 'application/xml' },
      { body: 'a=b&a=c', type: 'application/x-www-form-urlencoded' },
      { body: '%zz=%', type: 'application/x-www-form-urlencoded' },
      { body: 'OggS\u0000\u0000', type: 'application/octet-stream' },
      { body: 'garbage', type: 'multipart/form-data' },
      { body: 'garbage', type: 'multipart/form-data; boundary=x' },
      { body: '{}', type: 'application/json; charset=latin1' },
      { body: '{}', type: '' },
      { body: 'no content type at all' },
    ];
    const requests: (() => Promise<unknown>)[] = [];
    for (const operation of all) {
      if (operation.method === 'GET') continue;
      for (const { body, type } of bodies) {
        requests.push(() =>
          send(operation.method, urlFor(operation), {
            body,
            headers: type === undefined ? {} : { 'content-type': type },
          }),
        );
      }
    }
    await inBatches(requests);
  });

  it('refuses hostile multipart fields and file names on every operation that takes a body', async () => {
    const requests: (() => Promise<unknown>)[] = [];
    // The upload's form, and every other POST that takes no JSON (a form must be refused there too).
    const targets = all.filter((o) => o.method === 'POST' && !o.bodies['application/json']);
    assert.ok(
      targets.some((o) => o.bodies['multipart/form-data']),
      'the upload documents its multipart form',
    );
    for (const operation of targets) {
      for (const value of STRINGS) {
        for (const field of ['name', 'org_id', 'unknown_field']) {
          requests.push(() => {
            const form = new FormData();
            form.append(field, value);
            form.append('file', new Blob([Buffer.from('OggS')]), 'a.ogg');
            return send(operation.method, `${urlFor(operation)}?wait=0`, { body: form });
          });
        }
        requests.push(() => {
          const form = new FormData();
          form.append('file', new Blob([Buffer.from('not audio')]), value || 'empty');
          return send(operation.method, `${urlFor(operation)}?wait=0`, { body: form });
        });
      }
    }
    await inBatches(requests);
  });

  it('refuses hostile paths and queries on the routes the document leaves out (page, docs, WebSocket)', async () => {
    const documented = new Set(all.map((o) => `${o.method} ${o.path.replaceAll(/\{(\w+)\}/g, ':$1')}`));
    const hidden = routerRoutes(server.app.printRoutes({ commonPrefix: false })).filter(
      (route) => route.methods.includes('GET') && !documented.has(`GET ${route.path}`),
    );
    assert.ok(hidden.some((route) => route.path === '/api/ws/record'));
    const requests: (() => Promise<unknown>)[] = [];
    for (const route of hidden) {
      const base = route.path.replace(/\*$/, '');
      for (const value of STRINGS.filter(Boolean)) {
        const encoded = percentEncode(value);
        requests.push(() => send('GET', `${route.path.replace(/\*$/, encoded)}`, { headers: { accept: 'text/html' } }));
        requests.push(() => send('GET', `${base}?q=${encoded}`));
      }
      for (const raw of ['%', '%00', '%ff', '..%2f..%2fetc%2fpasswd', '%2e%2e/%2e%2e/package.json']) {
        requests.push(() => send('GET', `${base}${route.path.endsWith('*') ? raw : `?q=${raw}`}`));
      }
    }
    await inBatches(requests);
  });

  it('closes a live session with 1008, never 1011, on hostile metadata and tokens', async () => {
    const meta = { name: 'x', meeting_link: '', org_id: user.orgId };
    const cases: unknown[] = [];
    for (const key of ['name', 'meeting_link', 'org_id'] as const) {
      for (const value of [
        ...STRINGS.filter((s) => s.length < 3000 && s !== '' && s !== ' '),
        ...NON_STRINGS.slice(0, 8),
      ]) {
        if (key === 'meeting_link' && value === null) continue; // null means "no meeting"
        cases.push({ ...meta, [key]: value });
      }
    }
    for (const metadata of cases) {
      const client = openSocket(server);
      client.send({ token: user.token });
      client.send(metadata as object);
      const what = JSON.stringify(metadata).slice(0, 120);
      const answer = await client.next((m) => m.status === 'recording_started' || m.status === 'error');
      if (answer.status === 'recording_started') {
        client.ws.close(); // a harmless value, e.g. a name with emoji
        continue;
      }
      const closed = await client.closed;
      assert.equal(closed.code, 1008, `${what} -> ${closed.code} ${closed.reason}`);
      assert.ok(['validation_failed', 'forbidden'].includes(answer.error), `${what} -> ${answer.error}`);
    }
    for (const token of ['\u0000', 'a\u0000b', 'x'.repeat(3000), 5, null, ['x'], { a: 1 }]) {
      const client = openSocket(server);
      client.send({ token } as object);
      const closed = await client.closed;
      assert.equal(closed.code, 1008, `${JSON.stringify(token).slice(0, 40)} -> ${closed.code}`);
    }
  });

  it('sent a real number of requests', () => {
    assert.ok(sent > 1000, `${sent} requests`);
  });
});

/** Method and path of every route, read from Fastify's printRoutes tree. */
function routerRoutes(tree: string): { path: string; methods: string[] }[] {
  const routes: { path: string; methods: string[] }[] = [];
  const parents: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    const full = (parents[depth - 1] ?? '') + (match[2] ?? '');
    parents[depth] = full;
    parents.length = depth + 1;
    if (match[3]) routes.push({ path: full, methods: match[3].split(', ') });
  }
  return routes;
}
