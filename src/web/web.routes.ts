import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

/** Where `vite build web` writes the page: web/dist in this repository. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

export interface WebRoutesOptions {
  /** Folder with the built page; defaults to web/dist. */
  root?: string;
}

/** Vite's content-hashed output (`assets/index-<hash>.js`): its bytes never change under that name. */
const HASHED_ASSET = /^\/assets\//;
/** Paths that belong to the API or its docs: never answered with the page. */
const NOT_PAGE = /^\/(api|docs)(\/|$)/;

/**
 * Serves the built page at `/`. Hashed files under /assets/ are cached for a year (`immutable`);
 * everything else, index.html above all, is revalidated on every load so a new build shows up at once.
 * A GET that wants HTML and is neither a file nor an API/docs path gets index.html (the page routes
 * with the URL hash, but a bookmarked or mistyped path still opens it).
 *
 * Files are looked up per request rather than registered at start, so rebuilding the page while the
 * server runs (or building it after the server started) needs no restart.
 */
export async function webRoutes(app: FastifyInstance, options: WebRoutesOptions = {}): Promise<void> {
  const root = path.resolve(options.root ?? WEB_DIST);
  if (!existsSync(path.join(root, 'index.html'))) {
    app.log.warn({ root }, 'the web page is not built yet: run `npm run build:web` (npm start does it for you)');
  }

  await app.register(fastifyStatic, {
    root,
    serve: false, // the route below decides what is served
    suppressWarning: true,
    cacheControl: false,
    dotfiles: 'deny',
    setHeaders(reply, filePath) {
      const relative = `/${path.relative(root, filePath).split(path.sep).join('/')}`;
      reply.header('cache-control', HASHED_ASSET.test(relative) ? 'public, max-age=31536000, immutable' : 'no-cache');
      if (relative.endsWith('.html')) setPageHeaders(reply, reply.request.headers.host);
    },
  });

  const servePage = async (request: FastifyRequest, reply: FastifyReply) => {
    let pathname: string;
    try {
      pathname = decodeURIComponent(request.url.split('?')[0] ?? '/');
    } catch {
      return reply.callNotFound();
    }
    if (NOT_PAGE.test(pathname) || pathname.includes('\0')) return reply.callNotFound();

    // A built file? (`send` underneath refuses paths that climb out of root.)
    const file = path.join(root, pathname);
    if (pathname !== '/' && file.startsWith(root + path.sep) && isFile(file)) {
      return reply.sendFile(pathname.slice(1));
    }
    const wantsHtml = pathname === '/' || (request.headers.accept ?? '').includes('text/html');
    if (!wantsHtml || HASHED_ASSET.test(pathname)) return reply.callNotFound();
    if (!isFile(path.join(root, 'index.html'))) {
      reply.header('cache-control', 'no-store');
      throw new AppError(
        'unavailable',
        'the Earshot web page has not been built: run `npm run build:web`, or start the server with `npm start`',
      );
    }
    return reply.sendFile('index.html');
  };

  app.get('/', { schema: { hide: true } }, servePage);
  app.get('/*', { schema: { hide: true } }, servePage);
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The page only talks to its own origin (HTTP and the live WebSocket) and plays audio from it.
 * `connect-src 'self'` covers ws: in current browsers; the explicit ws/wss origin covers older ones.
 */
function setPageHeaders(reply: FastifyReply, host: string | undefined): void {
  const socketOrigins = host && /^[\w.:[\]-]+$/.test(host) ? ` ws://${host} wss://${host}` : '';
  reply.header(
    'content-security-policy',
    [
      "default-src 'self'",
      `connect-src 'self'${socketOrigins}`,
      "media-src 'self' blob:",
      "img-src 'self' data:",
      "style-src 'self'",
      "script-src 'self'",
      "object-src 'none'",
      "base-uri 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; '),
  );
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  // The page asks for the microphone and screen capture itself, never from a frame.
  reply.header('permissions-policy', 'microphone=(self), display-capture=(self), camera=()');
}
