/**
 * The OpenAPI document as code generators and "Try it out" read it, and its conventions
 * (src/http/openapi.ts says why each one): a route merged later that breaks one fails here.
 * Redocly's lint and the generated web types are checked by `npm run lint:openapi` and
 * `npm run api-types -- --check` (scripts/openapi.ts), which CI runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startTestServer, type TestServer } from './helpers.ts';
import { type OpenApiDocument, openApiDocument, operations, urlFor, validJsonBody } from './openapi.ts';

const COMPONENT = /^#\/components\/schemas\/([A-Za-z]+)$/;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

interface Response {
  description?: string;
  content?: Record<string, { schema?: { $ref?: string } }>;
}

/** Every operation of the document with its name (`GET /api/recordings`). */
function eachOperation(document: OpenApiDocument) {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
  );
}

describe('the OpenAPI document', () => {
  let server: TestServer;
  let document: OpenApiDocument;

  before(async () => {
    server = await startTestServer();
    document = await openApiDocument(server);
  });
  after(() => server.close());

  it('names every operation with a camelCase operationId of its own', () => {
    const seen = new Map<string, string>();
    for (const { name, operation } of eachOperation(document)) {
      const id = operation.operationId;
      assert.match(String(id), /^[a-z]+[A-Z][A-Za-z]*$|^[a-z]+$/, `${name}: operationId ${id}`);
      assert.equal(seen.get(id), undefined, `${name} and ${seen.get(id)} share the operationId ${id}`);
      seen.set(id, name);
    }
    assert.ok(seen.size >= 30, `${seen.size} operations`);
    assert.equal(seen.get('listRecordings'), 'GET /api/recordings');
    assert.equal(seen.get('uploadRecording'), 'POST /api/recordings/upload');
  });

  it('says what every response means, and every error is the one Error component', () => {
    for (const { name, operation } of eachOperation(document)) {
      for (const [status, response] of Object.entries<Response>(operation.responses)) {
        const where = `${name} ${status}`;
        assert.ok(response.description && response.description !== 'Default Response', `${where}: no description`);
        if (Number(status) >= 400) {
          assert.deepEqual(Object.keys(response.content ?? {}), ['application/json'], where);
          assert.equal(response.content?.['application/json']?.schema?.$ref, '#/components/schemas/Error', where);
        }
      }
    }
  });

  it('gives every JSON body a name: a component, referenced, never inlined', () => {
    const referenced = new Set<string>();
    for (const { name, operation } of eachOperation(document)) {
      for (const [status, response] of Object.entries<Response>(operation.responses)) {
        const schema = response.content?.['application/json']?.schema;
        if (!schema) continue;
        const match = COMPONENT.exec(schema.$ref ?? '');
        assert.ok(match, `${name} ${status}: an inline JSON body; make it a component and use response()`);
        referenced.add(match[1]!);
      }
    }
    // Components reach others through $refs of their own (Me → Organisation): follow them all.
    const text = JSON.stringify(document);
    const named = Object.keys(document.components.schemas);
    for (const component of named) {
      assert.match(component, /^[A-Z][A-Za-z]+$/, `component ${component}: PascalCase, as generated types are named`);
      assert.ok(text.includes(`"#/components/schemas/${component}"`), `component ${component} is never used`);
    }
    for (const component of ['Recording', 'Error', 'Organisation', 'Member', 'Invitation', 'ApiKey', 'Transcript']) {
      assert.ok(named.includes(component), `no ${component} component`);
    }
    // The Recording object appears once, in components, and nowhere inline.
    const recordingFields = JSON.stringify(Object.keys(document.components.schemas.Recording?.properties ?? {}));
    assert.equal(text.split(recordingFields).length - 1, 1, 'the Recording object is written out more than once');
  });

  it('leaves optional what the server fills in: a parameter with a default is not required', () => {
    for (const { name, operation } of eachOperation(document)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.schema?.default === undefined) continue;
        assert.equal(parameter.required, false, `${name} ${parameter.in} ${parameter.name}`);
      }
    }
    const list = document.paths['/api/recordings']?.get;
    assert.equal(list.parameters.find((p: { name: string }) => p.name === 'limit').required, false);
  });

  it('describes the bodies the handlers read as streams, so "Try it out" can send them', () => {
    const upload = document.paths['/api/recordings/upload']?.post.requestBody.content;
    const form = upload['multipart/form-data'].schema;
    assert.deepEqual(form.required, ['file']);
    assert.equal(form.properties.file.format, 'binary');
    const query = document.paths['/api/recordings/upload']?.post.parameters.map((p: { name: string }) => p.name);
    assert.deepEqual(query.sort(), ['name', 'org_id', 'wait']);
    const chunk = document.paths['/api/recordings/stream']?.post.requestBody.content;
    for (const type of ['application/octet-stream', 'audio/ogg', 'audio/webm']) {
      assert.equal(chunk[type]?.schema.format, 'binary', type);
    }
  });

  it('has no path with a trailing slash (clients call /api/orgs)', () => {
    assert.deepEqual(
      Object.keys(document.paths).filter((path) => path.length > 1 && path.endsWith('/')),
      [],
    );
    assert.ok(document.paths['/api/orgs']);
  });

  it('says where the server is: relative to the document without PUBLIC_URL', () => {
    assert.deepEqual(
      document.servers.map((s) => s.url),
      ['/'],
    );
  });

  it('points to the live WebSocket’s descriptions, and serves them', async () => {
    assert.equal(document.externalDocs.url, '/docs/asyncapi.yaml');
    assert.match(document.info.description, /\/docs\/live-protocol\.md/);
    const asyncapi = await fetch(`${server.url}/docs/asyncapi.yaml`);
    assert.equal(asyncapi.status, 200);
    assert.match(asyncapi.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.match(await asyncapi.text(), /^asyncapi: 3\./);
    const protocol = await fetch(`${server.url}/docs/live-protocol.md`);
    assert.equal(protocol.status, 200);
    assert.match(await protocol.text(), /^# Live recording protocol/);
    // Under the docs' security headers, like the rest of /docs.
    assert.match(protocol.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  });

  it('matches security to the routes: public operations answer without a token, the others want one', async () => {
    const publicOnes: string[] = [];
    for (const operation of await operations(server)) {
      const name = `${operation.method} ${operation.path}`;
      const json = validJsonBody(operation);
      const res = await api(server, operation.method, urlFor(operation), json === undefined ? {} : { json });
      if (operation.secured) {
        assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.body)}`);
        // A HEAD answer has no body: its status is all there is to check.
        if (operation.method !== 'HEAD') assert.equal(res.body.error, 'unauthenticated', name);
      } else {
        assert.notEqual(res.body?.error, 'unauthenticated', `${name} is documented as public but wants a token`);
        publicOnes.push(name);
      }
    }
    assert.deepEqual(publicOnes.sort(), [
      'GET /healthz',
      'GET /readyz',
      'OPTIONS /api/uploads/tus',
      'POST /api/auth/login',
      'POST /api/auth/logout',
      'POST /api/auth/refresh',
      'POST /api/auth/register',
    ]);
  });
});

describe('the OpenAPI document with PUBLIC_URL', () => {
  it('names PUBLIC_URL as its server', async () => {
    const server = await startTestServer({ env: { PUBLIC_URL: 'https://earshot.example.com/' } });
    try {
      const document = await openApiDocument(server);
      assert.deepEqual(
        document.servers.map((s) => s.url),
        ['https://earshot.example.com'],
      );
    } finally {
      await server.close();
    }
  });
});
