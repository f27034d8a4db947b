/**
 * The media engine: in-process FFmpeg (node-av) running in a supervised pool of worker processes.
 * normalize() turns any accepted upload into Ogg/Opus 16 kHz mono 24 kbps; openLive() does the same
 * incrementally for a stream arriving in chunks.
 */
import { AppError } from '../errors.ts';
import { DEFAULT_LIVE_SLACK_SEC, type LivePace } from './audio-budget.ts';
import { DEFAULT_MAX_PROBE_BYTES } from './limits.ts';
import type { OpusEncoderSettings } from './opus-writer.ts';
import { MediaPool } from './pool.ts';
import type { JobLimits } from './protocol.ts';
import type {
  AudioInfo,
  LiveOptions,
  LiveTranscoder,
  MediaEngine,
  MediaEngineOptions,
  NormalizeOptions,
  WhisperSegment,
} from './types.ts';

export { liveAudioLimitSec } from './audio-budget.ts';
export type {
  AudioInfo,
  LiveOptions,
  LiveTranscoder,
  MediaEngine,
  MediaEngineOptions,
  NormalizeOptions,
  TranscribeFileOptions,
  WhisperSegment,
} from './types.ts';

export interface MediaEngineWithStats extends MediaEngine {
  /** Worker pids and load; for health checks and tests (e.g. killing a worker on purpose). */
  stats(): { workers: Array<{ pid: number | undefined; busy: boolean; live: number }>; queued: number };
}

/**
 * libopus complexity, measured in BENCHMARKS.md ("Live recording"). On 16 kHz mono 24 kbps speech the
 * levels come in tiers (10≈8, 5≈4, 3≈2, 1, 0); a live session's whole worker pipeline costs 1.0% of a
 * core at 10, 0.77% at 5, 0.62% at 3, 0.43% at 1. File jobs run one at a time per worker and keep the
 * best quality; live sessions run side by side for hours, and 3 is what lets 200 of them fit on two
 * cores with room for the API process.
 */
export const DEFAULT_FILE_COMPLEXITY = 10;
export const DEFAULT_LIVE_COMPLEXITY = 3;
/** A live session costs about 1 MiB in a worker; 256 per worker is 512 live transcoders on 2 workers. */
export const DEFAULT_MAX_LIVE_PER_WORKER = 256;

/** The pace bound of a live session, if its caller asked for one. */
function livePace(o: LiveOptions): LivePace | undefined {
  if (o.startedAtMs === undefined) return undefined;
  const slackSec = o.slackSec ?? DEFAULT_LIVE_SLACK_SEC;
  if (!Number.isFinite(o.startedAtMs) || !(slackSec >= 0)) {
    throw new Error(`openLive: bad startedAtMs ${o.startedAtMs} or slackSec ${slackSec}`);
  }
  return { startedAtMs: o.startedAtMs, slackSec };
}

function complexity(value: number | undefined, fallback: number): number {
  const c = value ?? fallback;
  if (!Number.isInteger(c) || c < 0 || c > 10) throw new Error(`opus complexity must be 0..10, got ${c}`);
  return c;
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
    maxLivePerWorker: opts.maxLivePerWorker ?? DEFAULT_MAX_LIVE_PER_WORKER,
    logger: opts.logger,
    onWorkerRestart: opts.onWorkerRestart,
  });
  const fileEncoder: OpusEncoderSettings = { complexity: complexity(opts.opusComplexity, DEFAULT_FILE_COMPLEXITY) };
  const liveEncoder: OpusEncoderSettings = {
    complexity: complexity(opts.liveOpusComplexity, DEFAULT_LIVE_COMPLEXITY),
  };
  let nextSession = 1;

  return {
    probe: (path) => pool.runFile((id) => ({ type: 'probe', id, path, limits })),

    normalize(input: string, output: string, o: NormalizeOptions = {}) {
      const max = o.maxDurationSec ?? limits.maxDurationSec;
      if (!(max > 0)) return Promise.reject(new Error(`normalize: bad maxDurationSec ${o.maxDurationSec}`));
      const jobLimits = { ...limits, maxDurationSec: Math.min(max, limits.maxDurationSec) };
      return pool.runFile(
        (id) => ({
          type: 'normalize',
          id,
          input,
          output,
          limits: jobLimits,
          encoder: fileEncoder,
          ...(o.pcm ? { pcm: o.pcm } : {}),
        }),
        o.onProgress,
        o.signal,
      );
    },

    async openLive(output: string, input: string, o: LiveOptions = {}): Promise<LiveTranscoder> {
      const pace = livePace(o);
      const w = await pool.pinLive();
      const sid = nextSession++;
      w.live.add(sid);
      const release = () => w.live.delete(sid);
      try {
        await pool.request(w, (id) => ({
          type: 'live-open',
          id,
          sid,
          output,
          input,
          limits,
          encoder: liveEncoder,
          ...(pace ? { pace } : {}),
          ...(o.pcm ? { pcm: o.pcm } : {}),
        }));
      } catch (err) {
        release();
        throw err;
      }
      let ended = false;
      const guard = () => {
        if (ended) throw new AppError('bad_request', 'live session already finished');
      };
      return {
        async advance(bytes: number): Promise<void> {
          guard();
          await pool.request(w, (id) => ({ type: 'live-advance', id, sid, bytes }));
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

    transcribe(input, work, o) {
      const job = { input, work, modelPath: o.modelPath, language: o.language, maxProbeBytes: limits.maxProbeBytes };
      return pool.runFile<WhisperSegment[]>((id) => ({ type: 'transcribe', id, job }), undefined, o.signal);
    },

    close: () => pool.close(),
    stats: () => pool.stats(),
  };
}
