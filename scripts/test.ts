/**
 * `npm test`: unit and engine suites once, then the HTTP/WebSocket integration suites (test/*.test.ts)
 * on SQLite and again on PostgreSQL, then the browser suites (test/e2e), then the cluster suites
 * (test/cluster: several real nodes behind a load balancer). Extra arguments are passed to
 * `node --test` (e.g. `npm test -- --test-name-pattern=login`).
 *
 * The unit suite runs the BlobStore contract against a real S3 server too: before it, scripts/s3-server.sh
 * starts radosgw (or finds it running) and its settings reach the tests as EARSHOT_TEST_S3_<variable>.
 * EARSHOT_TEST_S3=off leaves it out, and the S3 tests report themselves skipped.
 */
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const extra = process.argv.slice(2);
const only = process.env.EARSHOT_TEST_ONLY; // unit | sqlite | postgres | e2e | cluster

const suites: { name: string; files: string[]; env: Record<string, string> }[] = [
  // The page's modules with no DOM in them (web/src/*.test.ts) are unit-tested in Node too.
  // The client package's own tests (packages/*/test) are unit tests too.
  {
    name: 'unit',
    files: [
      ...globSync('src/**/*.test.ts'),
      ...globSync('web/src/**/*.test.ts'),
      ...globSync('packages/*/test/*.test.ts'),
    ],
    env: {},
  },
  { name: 'sqlite', files: globSync('test/*.test.ts'), env: { EARSHOT_TEST_DB: 'sqlite' } },
  { name: 'postgres', files: globSync('test/*.test.ts'), env: { EARSHOT_TEST_DB: 'postgres' } },
  { name: 'e2e', files: globSync('test/e2e/*.test.ts'), env: { EARSHOT_TEST_DB: 'sqlite' } },
  // Three real nodes on PostgreSQL and radosgw behind HAProxy (test/cluster/cluster.ts starts them).
  { name: 'cluster', files: globSync('test/cluster/*.test.ts'), env: {} },
];

function startS3(): Record<string, string> {
  if (process.env.EARSHOT_TEST_S3 === 'off') return {};
  const start = spawnSync('bash', ['scripts/s3-server.sh', 'start'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (start.status !== 0) {
    console.error('scripts/s3-server.sh start failed; EARSHOT_TEST_S3=off runs the tests without S3');
    process.exit(1);
  }
  // Its output is shell: export NAME='value'
  return Object.fromEntries(
    [...start.stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map(([, name, value]) => [
      `EARSHOT_TEST_S3_${name}`,
      value!,
    ]),
  );
}

// Tests, benchmarks and examples import `@earshot/live-client` by name, which is its built dist/ (what
// npm publishes): build it from the current source so they never run a stale one.
const buildPackage = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'packages/live-client'], {
  stdio: 'inherit',
});
if (buildPackage.status !== 0) {
  console.error('packages/live-client does not build');
  process.exit(1);
}

let failed = false;
for (const suite of suites) {
  if (only && only !== suite.name) continue;
  if (suite.files.length === 0) continue;
  console.log(`\n# suite: ${suite.name} (${suite.files.length} files)`);
  if (suite.name === 'e2e' || suite.name === 'cluster') {
    // The browser suites test the built page: build it if web/ changed since the last build.
    const build = spawnSync(process.execPath, ['scripts/build-web.ts', '--if-stale'], { stdio: 'inherit' });
    if (build.status !== 0) {
      failed = true;
      continue;
    }
  }
  const result = spawnSync(
    process.execPath,
    ['--test', '--test-concurrency=2', '--test-timeout=300000', ...extra, ...suite.files.sort()],
    { stdio: 'inherit', env: { ...process.env, ...suite.env, ...(suite.name === 'unit' ? startS3() : {}) } },
  );
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
