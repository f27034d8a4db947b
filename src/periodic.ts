import type { FastifyBaseLogger } from 'fastify';

export interface PeriodicTask {
  /** Resolves when the first run (started at once) has finished. */
  firstRun: Promise<void>;
  stop(): void;
}

/**
 * Runs housekeeping `task` now and then every `intervalMs`. A failing run is logged and the next one
 * goes ahead; runs never overlap; the timer does not keep the process alive.
 */
export function runPeriodically(
  name: string,
  intervalMs: number,
  task: () => Promise<unknown>,
  log: FastifyBaseLogger,
): PeriodicTask {
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= task()
      .then(
        () => undefined,
        (error: unknown) => log.error({ err: error, task: name }, 'periodic task failed'),
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(run, intervalMs).unref();
  return { firstRun: run(), stop: () => clearInterval(timer) };
}
