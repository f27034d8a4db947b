/**
 * The media engine: in-process FFmpeg (node-av) running in a supervised pool of worker processes.
 * normalize() turns any accepted upload into Ogg/Opus 16 kHz mono 24 kbps; openLive() does the same
 * incrementally for a stream arriving in chunks.
 */
import { AppError } from '../errors.ts';
import { DEFAULT_MAX_PROBE_BYTES } from './limits.ts';
import { MediaPool } from './pool.ts';
import type { JobLimits } from './protocol.ts';
import type { AudioInfo, LiveTranscoder, MediaEngine, MediaEngineOptions, NormalizeOptions } from './types.ts';

export type { AudioInfo, LiveTranscoder, MediaEngine, MediaEngineOptions, NormalizeOptions } from './types.ts';

export interface MediaEngineWithStats extends MediaEngine {
  /** Worker pids and load; for health checks and tests (e.g. killing a worker on purpose). */
  stats(): { workers: Array<{ pid: number | undefined; busy: boolean; live: number }>; queued: number };
}

export function createMediaEngine(opts: MediaEngineOptions): MediaEngineWithStats {
  if (!(opts.workers >= 1)) throw new Error('media engine needs at least one worker');
  const limits: JobLimits = {
    maxDurationSec: opts.maxDurationSec,
    maxProbeBytes: opts.maxProbeBytes ?? DEFAULT_MAX_PROBE_BYTES,
  };
  const pool = new MediaPool({
    workers: opts.workers,
    jobTimeoutMs: opts.jobTimeoutMs,
    maxQueue: opts.maxQueue ?? 100,
    maxLivePerWorker: opts.maxLivePerWorker ?? 64,
    logger: opts.logger,
  });
  let nextSession = 1;

  return {
    probe: (path) => pool.runFile((id) => ({ type: 'probe', id, path, limits })),

    normalize: (input: string, output: string, o: NormalizeOptions = {}) =>
      pool.runFile((id) => ({ type: 'normalize', id, input, output, limits }), o.onProgress, o.signal),

    async openLive(output: string): Promise<LiveTranscoder> {
      const w = await pool.pinLive();
      const sid = nextSession++;
      w.live.add(sid);
      const release = () => w.live.delete(sid);
      try {
        await pool.request(w, (id) => ({ type: 'live-open', id, sid, output, limits }));
      } catch (err) {
        release();
        throw err;
      }
      let ended = false;
      const guard = () => {
        if (ended) throw new AppError('bad_request', 'live session already finished');
      };
      return {
        async write(chunk: Buffer): Promise<void> {
          guard();
          await pool.request(w, (id) => ({ type: 'live-write', id, sid, chunk }));
        },
        async finish(): Promise<AudioInfo> {
          guard();
          ended = true;
          try {
            return (await pool.request(w, (id) => ({ type: 'live-finish', id, sid }))) as AudioInfo;
          } finally {
            release();
          }
        },
        async abort(): Promise<void> {
          if (ended) return;
          ended = true;
          release();
          if (!w.dead) await pool.request(w, (id) => ({ type: 'live-abort', id, sid })).catch(() => {});
        },
      };
    },

    close: () => pool.close(),
    stats: () => pool.stats(),
  };
}
