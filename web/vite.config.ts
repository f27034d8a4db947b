import { defaultClientConditions, defineConfig } from 'vite';

/**
 * The page is a plain Vite build: `vite build web` writes web/dist, which the server serves at `/`
 * (src/web/web.routes.ts). `vite web` runs a dev server that forwards the API and the live WebSocket
 * to an Earshot server on :8000 (override with EARSHOT_API, e.g. http://127.0.0.1:8123).
 *
 * The page bundles `@earshot/live-client` from its TypeScript source (the package's `source` export
 * condition), so a change there shows up in the page without building the package first.
 */
const api = process.env.EARSHOT_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  resolve: { conditions: ['source', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Hashed file names under assets/ are what lets the server cache them forever.
    assetsDir: 'assets',
    sourcemap: true,
  },
  server: {
    proxy: {
      '/api': { target: api, ws: true, changeOrigin: false },
      '/docs': { target: api },
    },
  },
});
