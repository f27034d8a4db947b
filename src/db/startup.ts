import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseHandle, DatabaseLog } from './index.ts';
import { DatabaseUnavailableError } from './unavailable.ts';

/** The database stayed unreachable for the whole start-up wait. */
export class DatabaseStartupError extends Error {
  override name = 'DatabaseStartupError';
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/**
 * Start-up with the database not there yet. Orchestrators start an app and its database together
 * (docker compose's depends_on does not wait for readiness; a database may be restarting after a node
 * failure), so the first connections can be refused for a few seconds. Retry with exponential backoff
 * for `timeoutMs`, then fail with a message naming the cause, so the process exits non-zero and the
 * orchestrator's restart policy (with its own backoff) takes over rather than a process that waits
 * forever looking healthy. What retrying cannot fix (a wrong password, no such database) fails at once.
 */
export async function waitForDatabase(
  database: DatabaseHandle,
  options: { timeoutMs: number; log: DatabaseLog },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 1, delay = FIRST_RETRY_MS; ; attempt++, delay = Math.min(delay * 2, MAX_RETRY_MS)) {
    try {
      await database.ping();
      return;
    } catch (error) {
      if (!(error instanceof DatabaseUnavailableError)) throw error;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DatabaseStartupError(
          `database unreachable after ${attempt} attempt(s) in ${options.timeoutMs / 1000} s ` +
            `(DB_STARTUP_TIMEOUT_MS): ${error.reason}`,
          { cause: error },
        );
      }
      options.log.warn({ err: error, attempt, retryInMs: Math.min(delay, left) }, 'database unreachable at start');
      await sleep(Math.min(delay, left));
    }
  }
}
