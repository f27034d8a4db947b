/** Public shapes of the media engine. Other modules code against these; add fields, don't rename. */
import type { PcmFormat } from './input-format.ts';
import type { WhisperSegment } from './whisper.ts';

export type { WhisperSegment } from './whisper.ts';

export interface AudioInfo {
  /** Demuxer short name, e.g. "ogg", "wav", "matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2". */
  container: string;
  /** Codec short name of the (first) audio stream, e.g. "opus". */
  codec: string;
  /** For Opus this is the OpusHead "input sample rate" (what the audio was encoded from), not the 48 kHz decode rate. */
  sampleRate: number;
  channels: number;
  durationSec: number;
  /** Average bits per second of the audio payload (file size based when the container doesn't say). */
  bitrate: number;
  sizeBytes: number;
  /**
   * How an output file was made from its input: `remux` when the client's Opus packets were copied as
   * they are (src/media/remux/), `transcode` (or absent) when they were decoded and encoded again.
   */
  pipeline?: 'remux' | 'transcode';
}

export interface NormalizeOptions {
  /** Fraction (0..1) of the input duration processed; throttled to a few calls a second. */
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
  /**
   * A lower duration limit for this job than the engine's (which still applies): e.g. a live recording's
   * raw log re-transcoded after it stopped may not hold more audio than liveAudioLimitSec() of its wall
   * time. Past it the job fails with media_too_long.
   */
  maxDurationSec?: number;
  /** The input is raw PCM of this format (a live client declared it; it has no header to probe). */
  pcm?: PcmFormat;
}

/** Options of a live session. */
export interface LiveOptions {
  /**
   * When the recording started (Date.now() on this machine; for a resumed recording, its first start).
   * Set, the decoded audio may not run ahead of the time since then by more than liveAudioLimitSec()
   * allows, or the session fails with media_too_long. Unset, only the engine's duration limit applies:
   * set it for anything a client feeds.
   */
  startedAtMs?: number;
  /** Seconds of audio the session may be ahead of its wall time, on top of 10%. Default 30. */
  slackSec?: number;
  /** The input is raw PCM of this format. */
  pcm?: PcmFormat;
}

/**
 * One live session reading ONE continuous container stream from an input file that the caller appends
 * to. The worker reads the file itself; the caller only says how far it has been written.
 */
export interface LiveTranscoder {
  /**
   * The input file now holds `totalBytes` bytes, all already written to it (not necessarily fsynced).
   * Resolves when the worker's backlog is small again (use for backpressure).
   */
  advance(totalBytes: number): Promise<void>;
  /** End of input (the file is complete): flush, finalise the Ogg file, return its info. */
  finish(): Promise<AudioInfo>;
  /** Discard (output file may remain partial). */
  abort(): Promise<void>;
}

/** A local transcription in a media worker (src/media/whisper.ts). */
export interface TranscribeFileOptions {
  /** The whisper.cpp ggml model file. */
  modelPath: string;
  /** ISO 639-1 code, or null to detect. */
  language: string | null;
  signal?: AbortSignal;
}

export interface MediaEngine {
  probe(path: string): Promise<AudioInfo>;
  /** Any input -> Ogg/Opus 16 kHz mono 24 kbps; returns the OUTPUT info. */
  normalize(inputPath: string, outputPath: string, opts?: NormalizeOptions): Promise<AudioInfo>;
  /** A live transcoder from `inputPath` (appended to while it runs) to Ogg/Opus at `outputPath`. */
  openLive(outputPath: string, inputPath: string, opts?: LiveOptions): Promise<LiveTranscoder>;
  /**
   * Speech to text with FFmpeg's whisper filter, in a worker (one file job, like normalize); segments in
   * seconds. `work` is a scratch file path the worker may write (and removes).
   */
  transcribe(inputPath: string, work: string, opts: TranscribeFileOptions): Promise<WhisperSegment[]>;
  /** Stop workers; pending jobs fail with AppError internal. */
  close(): Promise<void>;
}

/** The part of pino's logger the engine uses. */
export interface MediaLogger {
  info(details: object, message?: string): void;
  warn(details: object, message?: string): void;
  error(details: object, message?: string): void;
}

export interface MediaEngineOptions {
  /** Worker processes (about one per core). */
  workers: number;
  /** Wall-clock limit per normalize/probe job; the worker is killed past it. */
  jobTimeoutMs: number;
  maxDurationSec: number;
  /** Upper bound on bytes the demuxer may read to identify the format and streams. Default 5 MB. */
  maxProbeBytes?: number;
  /** Jobs waiting for a free worker before normalize rejects with AppError busy. Default 100. */
  maxQueue?: number;
  /** Live sessions one worker may hold; past it openLive rejects with AppError busy. Default 256. */
  maxLivePerWorker?: number;
  /** libopus complexity (0..10) for normalize() (uploads, streams, live fallbacks). Default 10. */
  opusComplexity?: number;
  /** libopus complexity (0..10) for live sessions, which run for hours side by side. Default 3. */
  liveOpusComplexity?: number;
  logger?: MediaLogger;
  /** Called when a worker died (crash, killed on a timeout) and a replacement is forked: for metrics. */
  onWorkerRestart?: () => void;
}
