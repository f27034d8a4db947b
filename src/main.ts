import { type App, buildApp } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { DatabaseStartupError } from './db/startup.ts';

let config: Readonly<Config>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`earshot: configuration error: ${error.message}`);
    process.exit(2);
  }
  throw error;
}

let app: App;
try {
  app = await buildApp(config);
} catch (error) {
  // The database stayed unreachable (src/db/startup.ts): exit non-zero so the orchestrator restarts us.
  if (error instanceof DatabaseStartupError) {
    console.error(`earshot: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
const address = await app.listen({ host: config.host, port: config.port });
// Where people open it: PUBLIC_URL when the server sits behind a proxy, else where it listens.
const base = config.publicUrlConfigured ? config.publicUrl : address;
app.log.info(
  { node: config.nodeId, cluster: config.cluster },
  `Earshot is listening on ${address}: the web page at ${base}/, the API docs at ${base}/docs` +
    (config.metricsToken ? `, Prometheus metrics at ${base}/metrics` : ''),
);

// Graceful shutdown: stop accepting, let live sessions save what they received, then exit.
let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) process.exit(1);
    closing = true;
    app.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  });
}
