/**
 * One live recording, which outlives the connections that feed it: a raw log (the durable truth), an
 * optional live transcoder (the fast path to a ready recording), and the timers that end it — the
 * resume grace period after a drop and the maximum duration.
 *
 * Bytes go to the raw log, and the transcoder (in a media worker) reads them from that file: once a
 * chunk is written to the log (not yet fsynced; the page cache is shared) the transcoder is told how
 * long the log now is. It must never be told about bytes that are not in the file yet, or it could
 * take the end of the file for the end of the stream. If the transcoder fails (worker crash, pool full)
 * the recording carries on with the raw log alone and is re-transcoded from it at the end; no audio is
 * lost either way.
 */
import type { ErrorCode } from '../errors.ts';
import { AppError } from '../errors.ts';
import type { AudioInfo, LiveTranscoder } from '../media/types.ts';
import { CloseCode } from './protocol.ts';
import { RawLog } from './raw-log.ts';
import type { AttachedClient, RecordingHandle, SavedResult } from './session.ts';

/** Pause reading from the client past this many bytes not yet written/transcoded; resume below LOW. */
export const HIGH_WATER_BYTES = 1024 * 1024;
export const LOW_WATER_BYTES = 256 * 1024;
/** How often the received byte count is copied to the database while recording (progress only). */
const PROGRESS_UPDATE_MS = 30_000;

/** The recordings service, as far as live recording needs it. */
export interface RecordingSink {
  attachAudio(recordingId: string, oggPath: string, info: AudioInfo): Promise<unknown>;
  processInput(recordingId: string, inputPath: string): Promise<unknown>;
  fail(recordingId: string, message: string): Promise<unknown>;
}

export interface LiveRecordingDeps {
  sink: RecordingSink;
  /** Current facts of the recording row after a fallback (duration, status, error). */
  load(recordingId: string): Promise<{ status: string; duration_sec: number | null; error: string | null } | undefined>;
  saveReceived(recordingId: string, bytes: number): Promise<unknown>;
  /** Runs re-transcodes from the raw log a few at a time so a burst of them cannot flood the media queue. */
  fallbackSlot<T>(task: () => Promise<T>): Promise<T>;
  /** Removes the spool folder once the recording is ready. */
  cleanup(recordingId: string): Promise<void>;
  onFinished(recording: LiveRecording): void;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export interface LiveRecordingOptions {
  id: string;
  userId: string;
  rawLogPath: string;
  oggPath: string;
  fsyncIntervalMs: number;
  resumeGraceMs: number;
  maxBytes: number;
  maxDurationMs: number;
  /** A transcoder promise (null: raw log only, e.g. after a crash). */
  transcoder: Promise<LiveTranscoder> | null;
}

export type RecordingState = 'attached' | 'detached' | 'finalising' | 'finished';

export class LiveRecording implements RecordingHandle {
  readonly id: string;
  readonly userId: string;
  #options: LiveRecordingOptions;
  #deps: LiveRecordingDeps;
  #log: RawLog;
  #state: RecordingState = 'detached';
  #client: AttachedClient | null = null;
  #transcoder: LiveTranscoder | null = null;
  #transcoderError: unknown;
  #transcodeChain: Promise<void>;
  #transcodePending = 0;
  /** Raw log length the transcoder has been told about (and accepted). */
  #advanced = 0;
  #paused = false;
  #graceTimer: NodeJS.Timeout | undefined;
  #durationTimer: NodeJS.Timeout;
  #finalising: Promise<SavedResult> | undefined;
  #lastProgressAt = Date.now();

  private constructor(options: LiveRecordingOptions, deps: LiveRecordingDeps, log: RawLog) {
    this.id = options.id;
    this.userId = options.userId;
    this.#options = options;
    this.#deps = deps;
    this.#log = log;
    // The transcoder opens while the client is told to start; audio written meanwhile waits for it.
    this.#transcodeChain = (options.transcoder ?? Promise.reject(new Error('no live transcoder'))).then(
      (transcoder) => {
        this.#transcoder = transcoder;
      },
      (error: unknown) => {
        if (options.transcoder) this.#transcoderFailed(error);
        else this.#transcoderError = error;
      },
    );
    this.#durationTimer = setTimeout(() => this.#limitReached('media_too_long'), options.maxDurationMs);
  }

  static async open(options: LiveRecordingOptions, deps: LiveRecordingDeps): Promise<LiveRecording> {
    let recording: LiveRecording | undefined;
    const log = await RawLog.open(options.rawLogPath, {
      fsyncIntervalMs: options.fsyncIntervalMs,
      onDurable: (bytes) => {
        if (recording) recording.#onDurable(bytes);
      },
      onError: (error) => {
        if (recording) recording.#onLogError(error);
      },
    });
    recording = new LiveRecording(options, deps, log);
    return recording;
  }

  get state(): RecordingState {
    return this.#state;
  }

  /** Bytes received so far: where a resuming client continues. */
  get bytes(): number {
    return this.#log.length;
  }

  get durableBytes(): number {
    return this.#log.durable;
  }

  get live(): boolean {
    return this.#state === 'attached' || this.#state === 'detached';
  }

  /** Attaches a connection; a connection already attached is taken over (RFC 6455 close 4409). */
  attach(client: AttachedClient): void {
    if (!this.live) throw new AppError('not_found', 'this recording is no longer live');
    const previous = this.#client;
    this.#clearGrace();
    this.#client = client;
    this.#state = 'attached';
    if (previous && previous !== client) {
      previous.end(null, {
        code: CloseCode.takenOver,
        reason: 'the recording was resumed on another connection',
        error: 'session_taken_over',
      });
    }
    this.#paused = false;
    this.#checkPressure();
  }

  detach(client: AttachedClient): void {
    if (this.#client !== client || this.#state !== 'attached') return;
    this.#client = null;
    this.#state = 'detached';
    this.startGrace();
  }

  /** Starts the resume grace period; when it ends, the recording is finalised with what it has. */
  startGrace(graceMs = this.#options.resumeGraceMs): void {
    this.#clearGrace();
    if (graceMs <= 0) {
      void this.finalise().catch(() => {});
      return;
    }
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      if (this.#state === 'detached') void this.finalise().catch(() => {});
    }, graceMs);
  }

  append(chunk: Buffer): void {
    if (this.#state !== 'attached') return;
    if (this.#log.failed) return;
    if (this.#log.length + chunk.length > this.#options.maxBytes) {
      this.#limitReached('recording_too_large');
      return;
    }
    const written = this.#log.append(chunk);
    void written.then(() => this.#checkPressure());
    if (this.#transcoderError === undefined) {
      this.#transcodePending += chunk.length;
      this.#transcodeChain = this.#transcodeChain.then(async () => {
        await written;
        // Everything written by now, this chunk included; a step behind a burst may already be covered
        // by an earlier one, which then saves the round trip to the worker.
        const total = this.#log.written;
        if (this.#transcoderError === undefined && this.#transcoder && total > this.#advanced) {
          try {
            await this.#transcoder.advance(total);
            this.#advanced = total;
          } catch (error) {
            this.#transcoderFailed(error);
          }
        }
        this.#transcodePending -= chunk.length;
        this.#checkPressure();
      });
    }
    this.#checkPressure();
  }

  /** Ends the recording for a server reason: save everything, then tell the client and close. */
  end(close: { code: number; reason: string; error?: ErrorCode }): Promise<SavedResult> {
    const client = this.#client;
    const saved = this.finalise();
    client?.end(saved, close);
    return saved;
  }

  finalise(): Promise<SavedResult> {
    this.#finalising ??= this.#finalise();
    return this.#finalising;
  }

  async #finalise(): Promise<SavedResult> {
    this.#state = 'finalising';
    this.#clearGrace();
    clearTimeout(this.#durationTimer);
    try {
      return await this.#save();
    } finally {
      this.#state = 'finished';
      this.#client = null;
      this.#deps.onFinished(this);
    }
  }

  async #save(): Promise<SavedResult> {
    let bytes: number;
    try {
      bytes = await this.#log.close();
    } catch (error) {
      // The disk failed under us; whatever reached the file is still worth saving.
      this.#deps.log.error({ err: error, recordingId: this.id }, 'raw log flush failed');
      bytes = this.#log.durable;
    }
    await this.#deps.saveReceived(this.id, bytes);
    if (bytes === 0) {
      await this.#transcodeChain;
      await this.#transcoder?.abort().catch(() => {});
      const message = 'no audio was received';
      await this.#deps.sink.fail(this.id, message);
      return { recordingId: this.id, status: 'failed', durationSec: null, bytes, error: message };
    }
    await this.#transcodeChain;
    if (this.#transcoderError === undefined && this.#transcoder) {
      try {
        const info = await this.#transcoder.finish();
        await this.#deps.sink.attachAudio(this.id, this.#options.oggPath, info);
        await this.#deps.cleanup(this.id).catch(() => {});
        return { recordingId: this.id, status: 'ready', durationSec: info.durationSec, bytes, error: null };
      } catch (error) {
        this.#transcoderFailed(error);
      }
    }
    // Fallback: re-transcode the whole raw log like an upload. processInput records failures itself.
    await this.#deps.fallbackSlot(() => this.#deps.sink.processInput(this.id, this.#log.path));
    const row = await this.#deps.load(this.id);
    const ready = row?.status === 'ready';
    if (ready) await this.#deps.cleanup(this.id).catch(() => {});
    return {
      recordingId: this.id,
      status: ready ? 'ready' : 'failed',
      durationSec: row?.duration_sec ?? null,
      bytes,
      error: ready ? null : (row?.error ?? 'the recording could not be processed'),
    };
  }

  #limitReached(code: 'media_too_long' | 'recording_too_large'): void {
    if (!this.live) return;
    const reason =
      code === 'media_too_long'
        ? `maximum recording duration of ${Math.round(this.#options.maxDurationMs / 1000)} s reached; audio saved`
        : `maximum recording size of ${this.#options.maxBytes} bytes reached; audio saved`;
    void this.end({ code: CloseCode.limitReached, reason, error: code }).catch(() => {});
  }

  #onDurable(bytes: number): void {
    this.#client?.ack(bytes);
    if (Date.now() - this.#lastProgressAt >= PROGRESS_UPDATE_MS && this.live) {
      this.#lastProgressAt = Date.now();
      this.#deps.saveReceived(this.id, bytes).catch(() => {});
    }
  }

  #onLogError(error: Error): void {
    this.#deps.log.error({ err: error, recordingId: this.id }, 'raw log write failed');
    if (this.live) {
      void this.end({ code: CloseCode.internalError, reason: 'the server could not store the audio' }).catch(() => {});
    }
  }

  #transcoderFailed(error: unknown): void {
    if (this.#transcoderError !== undefined) return;
    this.#transcoderError = error;
    this.#deps.log.warn(
      { err: error, recordingId: this.id },
      'live transcoding failed; the recording will be re-transcoded from its raw log',
    );
    void this.#transcoder?.abort().catch(() => {});
  }

  /** Backpressure: pause the socket while the log or the transcoder is behind (ws pause/resume). */
  #checkPressure(): void {
    const pending = this.#log.pending + (this.#transcoderError === undefined ? this.#transcodePending : 0);
    if (!this.#paused && pending > HIGH_WATER_BYTES) {
      this.#paused = true;
      this.#client?.pause();
    } else if (this.#paused && pending < LOW_WATER_BYTES) {
      this.#paused = false;
      this.#client?.resume();
    }
  }

  #clearGrace(): void {
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
  }
}
