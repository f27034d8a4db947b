/**
 * The OpenAPI document the server serves at /docs/json, from the real app (a throwaway SQLite database
 * and data folder, no listening socket), and what is made from it:
 *
 *   node scripts/openapi.ts               print the document (JSON)
 *   node scripts/openapi.ts lint          lint it with Redocly CLI (redocly.yaml); exit 1 on an error, or
 *                                         on a warning other than the two ACCEPTED_WARNINGS
 *   node scripts/openapi.ts types         write web/src/api-types.ts with openapi-typescript; exit 1 if
 *                                         the generator warns about the document
 *   node scripts/openapi.ts types --check exit 1 when web/src/api-types.ts is not what `types` writes
 *
 * The environment does not reach the app: the document is the code's, whatever PUBLIC_URL says here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const API_TYPES = path.join(ROOT, 'web/src/api-types.ts');

/** The document, as GET /docs/json answers it. */
export async function servedDocument(): Promise<Record<string, any>> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'earshot-openapi-'));
  try {
    const app = await buildApp(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', MEDIA_WORKERS: '1' }), {
      logger: false,
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/docs/json' });
      if (response.statusCode !== 200) throw new Error(`/docs/json answered ${response.statusCode}`);
      return response.json();
    } finally {
      await app.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

export interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a CLI's entry file with this Node.js (the `node` package's, as npm scripts do). */
function run(entry: string, args: string[], cwd = ROOT): ToolRun {
  const result = spawnSync(process.execPath, [entry, ...args], {
    cwd,
    encoding: 'utf8',
    // No update checks or usage reports: CI has no network, and lint results do not depend on them.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A CLI's entry file, found from the package.json of the workspace that installs it. */
function cliOf(workspace: string, pkg: string, bin: string): string {
  const require = createRequire(path.join(ROOT, workspace, 'package.json'));
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), bin);
}

/** Writes the document to a temporary file for a CLI, runs `use` on it, removes it. */
async function withDocumentFile<T>(document: object, use: (file: string) => T | Promise<T>): Promise<T> {
  const folder = await mkdtemp(path.join(tmpdir(), 'earshot-openapi-'));
  try {
    const file = path.join(folder, 'openapi.json');
    await writeFile(file, JSON.stringify(document, null, 2));
    return await use(file);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** Redocly CLI's lint (redocly.yaml), with its problems as JSON. */
export function lint(document: object): Promise<ToolRun> {
  const redocly = cliOf('.', '@redocly/cli', 'bin/cli.js');
  return withDocumentFile(document, (file) => run(redocly, ['lint', file, '--format=json']));
}

/**
 * openapi-typescript's output for the document, as a newcomer's `npx openapi-typescript <url>` makes
 * it (tools/api-types pins it, with the TypeScript 5 it needs): run away from this repository's
 * redocly.yaml, so it validates with its own rules as it would elsewhere. Its warnings are on stderr.
 */
export function apiTypes(document: object): Promise<ToolRun & { types: string }> {
  const generator = cliOf('tools/api-types', 'openapi-typescript', 'bin/cli.js');
  return withDocumentFile(document, async (file) => {
    const out = `${file}.ts`;
    const result = run(generator, [file, '--output', out], path.dirname(file));
    return { ...result, types: result.status === 0 ? await readFile(out, 'utf8') : '' };
  });
}

/**
 * Warnings the document keeps on purpose: the liveness and readiness probes and tus discovery (OPTIONS,
 * a CORS preflight too) have no 4xx answer (the recommended rule wants one on every operation, and
 * stays on for every other).
 */
export const ACCEPTED_WARNINGS = [
  'operation-4xx-response at #/paths/~1healthz/get/responses',
  'operation-4xx-response at #/paths/~1readyz/get/responses',
  'operation-4xx-response at #/paths/~1api~1uploads~1tus/options/responses',
];

export interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: { pointer: string }[];
}

const where = (problem: LintProblem) => `${problem.ruleId} at ${problem.location[0]?.pointer ?? '#'}`;

/** The problems of a lint run that are not accepted: any error, and warnings not listed above. */
export function unexpectedProblems(run: ToolRun): string[] {
  const { problems } = JSON.parse(run.stdout) as { problems: LintProblem[] };
  return problems
    .filter((problem) => problem.severity === 'error' || !ACCEPTED_WARNINGS.includes(where(problem)))
    .map((problem) => `${problem.severity} ${where(problem)}: ${problem.message}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, flag] = process.argv.slice(2);
  const document = await servedDocument();
  if (command === undefined) {
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  } else if (command === 'lint') {
    const unexpected = unexpectedProblems(await lint(document));
    for (const problem of unexpected) console.log(problem);
    console.log(
      unexpected.length === 0
        ? `the OpenAPI document is clean (warnings kept on purpose: ${ACCEPTED_WARNINGS.join('; ')})`
        : `${unexpected.length} problems in the OpenAPI document`,
    );
    process.exit(unexpected.length === 0 ? 0 : 1);
  } else if (command === 'types') {
    const result = await apiTypes(document);
    process.stderr.write(result.stderr);
    // A generator's warning is a problem of the document: newcomers generating clients would see it too.
    if (result.status !== 0 || result.stderr.trim() !== '') process.exit(1);
    const current = await readFile(API_TYPES, 'utf8').catch(() => '');
    if (flag === '--check') {
      if (current !== result.types) {
        console.error('web/src/api-types.ts is out of date: run `npm run api-types` and commit it');
        process.exit(1);
      }
    } else if (current !== result.types) {
      await writeFile(API_TYPES, result.types);
      console.log('wrote web/src/api-types.ts');
    }
  } else {
    console.error('usage: node scripts/openapi.ts [lint | types [--check]]');
    process.exit(2);
  }
}
