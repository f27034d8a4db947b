/**
 * Builds the web page (web/ → web/dist) with Vite. `--if-stale` skips the build when web/dist is
 * newer than every source file, so `npm start` (prestart) and `npm test` only pay for a build after a
 * change. Exits non-zero with a clear message if the page is missing and cannot be built.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const web = path.join(root, 'web');
const builtIndex = path.join(web, 'dist', 'index.html');
const ifStale = process.argv.includes('--if-stale');

function newestSource(): number {
  let newest = 0;
  const visit = (file: string) => {
    const stat = statSync(file);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(file)) visit(path.join(file, entry));
    } else {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  for (const entry of ['index.html', 'vite.config.ts', 'src', 'public']) {
    const file = path.join(web, entry);
    if (existsSync(file)) visit(file);
  }
  // The page bundles the live client from its source (web/vite.config.ts).
  visit(path.join(root, 'packages', 'live-client', 'src'));
  visit(path.join(root, 'package-lock.json'));
  return newest;
}

if (ifStale && existsSync(builtIndex) && statSync(builtIndex).mtimeMs >= newestSource()) {
  process.exit(0);
}

let vite: typeof import('vite');
try {
  vite = await import('vite');
} catch {
  if (existsSync(builtIndex)) {
    console.warn('web page: vite is not installed (npm ci --omit=dev?), serving the existing web/dist build');
    process.exit(0);
  }
  console.error('web page: web/dist is missing and vite is not installed; run `npm ci` (with dev dependencies)');
  process.exit(1);
}

const started = performance.now();
await vite.build({ root: web, configFile: path.join(web, 'vite.config.ts'), logLevel: 'warn' });
console.log(`web page built into web/dist in ${Math.round(performance.now() - started)} ms`);
