import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Job } from '../db/schema.ts';
import type { MediaEngine, NormalizeOptions } from '../media/types.ts';
import type { BlobStore } from '../storage/blob-store.ts';

/**
 * This node's Prometheus metrics (served by metrics.routes.ts at /metrics). Every node has its own;
 * no metric carries a node id, since Prometheus labels each scrape with its `instance`. The instruments
 * are always there (cheap counters the code paths update); the process metrics, which watch the event
 * loop and the garbage collector, only run when /metrics is turned on.
 */
export function createMetrics(options: { processMetrics: boolean }) {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  return {
    registry,
    http: new Histogram({
      name: 'earshot_http_request_duration_seconds',
      help: 'HTTP requests by route pattern (not the raw URL), method and status, from arrival to the last byte sent',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    liveReceivedBytes: new Counter({
      name: 'earshot_live_received_bytes_total',
      help: 'Audio bytes live recordings on this node appended to their raw logs',
      registers,
    }),
    liveAckLatency: new Histogram({
      name: 'earshot_live_ack_latency_seconds',
      help: 'From a live chunk’s arrival to the ack that covers it (written and fsynced on this node)',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10],
      registers,
    }),
    queueWait: new Histogram({
      name: 'earshot_queue_wait_seconds',
      help: 'From when a job could run (queued, or its retry time) to when this node claimed it',
      labelNames: ['kind'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    }),
    transcodeRealtimeFactor: new Histogram({
      name: 'earshot_transcode_realtime_factor',
      help: 'Seconds of audio per second of processing, for each file this node normalised (uploads, streams, live fallbacks)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    }),
    workerRestarts: new Counter({
      name: 'earshot_media_worker_restarts_total',
      help: 'Media worker processes that died (crashed, or killed past the job time limit) and were replaced',
      registers,
    }),
    storeRequests: new Counter({
      name: 'earshot_object_store_requests_total',
      help: 'Requests to the object store by operation and outcome (ok, error)',
      labelNames: ['operation', 'outcome'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Times every request by the route that matched it (`unmatched` for 404s no route answered). */
export function timeRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.http.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}

/** A job claimed: how long it waited while it could have run. */
export function observeClaim(metrics: Metrics, job: Job, claimedAtMs = Date.now()): void {
  metrics.queueWait.observe({ kind: job.kind }, Math.max(0, claimedAtMs - Date.parse(job.run_at)) / 1000);
}

/** The media engine's normalize(), with each file's real-time factor measured. */
export function timedNormalize(
  media: Pick<MediaEngine, 'normalize'>,
  metrics: Metrics,
): Pick<MediaEngine, 'normalize'> {
  return {
    async normalize(input: string, output: string, options?: NormalizeOptions) {
      const started = performance.now();
      const info = await media.normalize(input, output, options);
      const seconds = (performance.now() - started) / 1000;
      if (seconds > 0 && info.durationSec > 0) metrics.transcodeRealtimeFactor.observe(info.durationSec / seconds);
      return info;
    },
  };
}

/** The object store, with each request counted by operation and outcome. */
export function countedBlobStore(store: BlobStore, metrics: Metrics): BlobStore {
  const count = <A extends unknown[], R>(operation: string, call: (...args: A) => Promise<R>) => {
    return async (...args: A): Promise<R> => {
      try {
        const result = await call(...args);
        metrics.storeRequests.inc({ operation, outcome: 'ok' });
        return result;
      } catch (error) {
        metrics.storeRequests.inc({ operation, outcome: 'error' });
        throw error;
      }
    };
  };
  return {
    kind: store.kind,
    putFile: count('put', store.putFile.bind(store)),
    putBytes: count('put', store.putBytes.bind(store)),
    read: count('read', store.read.bind(store)),
    download: count('read', store.download.bind(store)),
    stat: count('stat', store.stat.bind(store)),
    list: count('list', store.list.bind(store)),
    delete: count('delete', store.delete.bind(store)),
    deletePrefix: count('delete', store.deletePrefix.bind(store)),
    signedUrl: count('sign', store.signedUrl.bind(store)),
    close: () => store.close(),
  };
}

/** Gauges read when Prometheus scrapes: live sessions on this node, and the shared job queue. */
export function watchGauges(
  metrics: Metrics,
  sources: {
    live: () => { connections: number; recordings: number; uncommittedBytes: number };
    queue: () => Promise<{ queued: number; running: number }>;
    log: { warn(obj: object, msg: string): void };
  },
): void {
  const registers = [metrics.registry];
  new Gauge({
    name: 'earshot_live_sessions_open',
    help: 'Live recording connections open on this node',
    registers,
    collect() {
      this.set(sources.live().connections);
    },
  });
  new Gauge({
    name: 'earshot_live_recordings_open',
    help: 'Live recordings this node owns: recording, or waiting for their client to resume',
    registers,
    collect() {
      this.set(sources.live().recordings);
    },
  });
  new Gauge({
    name: 'earshot_live_uncommitted_bytes',
    help: 'Live audio acknowledged on this node’s disk but not yet committed to the object store (the committed watermark’s lag)',
    registers,
    collect() {
      this.set(sources.live().uncommittedBytes);
    },
  });
  new Gauge({
    name: 'earshot_queue_jobs',
    help: 'Jobs in the queue every node shares (so every node reports the same numbers), by state: queued or running',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      try {
        const depth = await sources.queue();
        this.set({ state: 'queued' }, depth.queued);
        this.set({ state: 'running' }, depth.running);
      } catch (error) {
        // The database is unreachable: leave the series out of this scrape rather than fail all of it.
        this.reset();
        sources.log.warn({ err: error }, 'metrics: could not read the job queue');
      }
    },
  });
}
