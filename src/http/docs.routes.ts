import { readFile } from 'node:fs/promises';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * The live WebSocket is outside the OpenAPI document, which links to its descriptions: these files of
 * docs/, served as they are in the repository.
 */
const LIVE_DOCS = [
  { file: 'asyncapi.yaml', type: 'application/yaml; charset=utf-8' },
  { file: 'live-protocol.md', type: 'text/markdown; charset=utf-8' },
] as const;

/**
 * The API documentation at /docs (Swagger UI, its files and /docs/json), with the same kind of security
 * headers as the web page. Swagger UI's page loads only its own scripts and styles (no inline script),
 * fetches /docs/json and sends "Try it out" requests to this origin; it draws icons from data: URLs.
 * Nothing may frame it (clickjacking) or sniff a type other than the one sent.
 *
 * The one inline style is the `<style>` of the small Swagger logo SVG that swagger-ui-bundle.js inserts
 * (`.logo_small_svg__cls-2{fill:#fff}…`), allowed by its hash; test/e2e/docs.test.ts fails on any CSP
 * violation, e.g. after an upgrade of @fastify/swagger-ui changes it.
 */
const SWAGGER_LOGO_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'self' ${SWAGGER_LOGO_STYLE}`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export async function docsRoutes(app: FastifyInstance): Promise<void> {
  // In this plugin's own context, so it covers every docs route and file and nothing else.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply
      .header('content-security-policy', DOCS_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
    return payload;
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  for (const { file, type } of LIVE_DOCS) {
    const text = await readFile(new URL(`../../docs/${file}`, import.meta.url), 'utf8');
    app.get(`/docs/${file}`, { schema: { hide: true } }, async (_request, reply) => reply.type(type).send(text));
  }
}
