/**
 * A real server in a child process, for the crash test (it gets SIGKILL). Environment: DATA_DIR, and
 * for PostgreSQL DATABASE_URL and EARSHOT_DB_SCHEMA. Prints `{"port": N}` once listening.
 */
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';

const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...process.env });
const schema = process.env.EARSHOT_DB_SCHEMA;
const app = await buildApp(config, { logger: false, ...(schema ? { dbSchema: schema } : {}) });
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
if (address && typeof address !== 'string') process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
