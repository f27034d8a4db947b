import type { FastifyBaseLogger } from 'fastify';
import type { NamedLeases } from './cluster/named-leases.ts';

export interface PeriodicTask {
  /** Resolves when the first run (started at once) has finished. */
  firstRun: Promise<void>;
  stop(): void;
}

/**
 * Runs housekeeping `task` now and then every `intervalMs`, on one node of the cluster at a time: each
 * run first takes the lease `periodic:<name>` for the interval, and a node that cannot take it skips
 * the run. A failing run is logged and the next one goes ahead; runs never overlap; the timer does not
 * keep the process alive.
 */
export function runPeriodically(
  name: string,
  intervalMs: number,
  task: () => Promise<unknown>,
  options: { log: FastifyBaseLogger; leases: NamedLeases },
): PeriodicTask {
  let running: Promise<void> | undefined;
  const runOnce = async () => {
    // Held for the whole interval: another node's timer firing meanwhile finds it taken.
    const epoch = await options.leases.acquire(`periodic:${name}`, intervalMs);
    if (epoch === undefined) return;
    await task();
  };
  const run = () => {
    running ??= runOnce()
      .catch((error: unknown) => options.log.error({ err: error, task: name }, 'periodic task failed'))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(run, intervalMs).unref();
  return { firstRun: run(), stop: () => clearInterval(timer) };
}
