/**
 * One live recording on the node that owns it. It outlives the connections that feed it, and keeps
 * two promises about the bytes a client sends (docs/live-protocol.md):
 *
 * - **acknowledged**: appended to a raw log on this node's disk and fsynced (RawLog), reported as `ack`;
 * - **committed**: copied from the raw log to the shared object store as a numbered segment, every
 *   LIVE_COMMIT_INTERVAL_MS and at the end, reported as `committed`. A committed byte survives the loss
 *   of this node: any node can resume or finish the recording from the segments.
 *
 * The node holds the recording's lease and renews it (live.service.ts renews all of them at once); every
 * commit and every status change carries the lease epoch. When another node takes the recording over (a
 * client resumed there), this node's next renewal or commit is refused: it is fenced, closes its
 * connection with 4409 and lets go of everything without finishing anything.
 *
 * Each chunk also goes to the recording's LiveInput (live-input.ts), which decides how the file is made.
 * Input that already is the stored format is remuxed there, in this process, and the file is ready when
 * the client stops. Anything else is transcoded: a live transcoder in a media worker, opened when the
 * input says so, reads the raw log as it grows, so the finished file is ready moments after the end. If
 * it fails (worker crash, pool full, a node that took over), the recording carries on with the raw log
 * alone and is processed from its segments by a job at the end.
 */
import { open } from 'node:fs/promises';
import type { Recording } from '../db/schema.ts';
import type { ErrorCode } from '../errors.ts';
import { AppError, isAppError } from '../errors.ts';
import type { AudioInfo, LiveTranscoder } from '../media/types.ts';
import { AckLatency } from './ack-latency.ts';
import type { LiveInput } from './live-input.ts';
import { CloseCode } from './protocol.ts';
import { RawLog } from './raw-log.ts';
import type { AttachedClient, RecordingHandle, SavedResult } from './session.ts';
import type { Watermarks } from './watermarks.ts';

/** Pause reading from the client past this many bytes not yet written/transcoded; resume below LOW. */
export const HIGH_WATER_BYTES = 1024 * 1024;
export const LOW_WATER_BYTES = 256 * 1024;
/** Largest segment written at once (a client catching up after a resume sends fast). */
const MAX_SEGMENT_BYTES = 8 * 1024 * 1024;
/** Raw log bytes read at a time when a recording's input is replayed (a takeover, a failed disk). */
const REPLAY_BYTES = 256 * 1024;
/** Retries of a finalisation that failed for a server reason (storage or database down). */
const FINALISE_RETRY_MS = [1000, 2000, 5000, 10_000, 30_000, 60_000];

/** The lifecycle, as far as a live recording needs it. */
export interface LiveStore {
  putLiveSegment(recordingId: string, start: number, bytes: Uint8Array): Promise<void>;
  setResumable(recordingId: string, epoch: number, until: string | null): Promise<Recording | undefined>;
  complete(recording: Recording, epoch: number, oggPath: string, info: AudioInfo): Promise<Recording | undefined>;
  toProcessing(recordingId: string, epoch: number): Promise<Recording | undefined>;
  fail(recordingId: string, epoch: number, error: AppError, message: string): Promise<Recording | undefined>;
  waitForSettled(recordingId: string, ms: number): Promise<Recording | undefined>;
  current(recordingId: string): Promise<Recording | undefined>;
}

export interface LiveRecordingDeps {
  store: LiveStore;
  /** Moves committed watermarks, many recordings' in one transaction. */
  watermarks: Watermarks;
  /** Removes the recording's spool folder. */
  cleanup(recordingId: string): Promise<void>;
  onFinished(recording: LiveRecording): void;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
  /** What src/metrics/ counts: bytes appended, and seconds from a chunk's arrival to its ack. */
  metrics?: { received(bytes: number): void; ackLatency(seconds: number): void };
}

export interface LiveRecordingOptions {
  id: string;
  userId: string;
  /** The lease epoch this node holds the recording at. */
  epoch: number;
  rawLogPath: string;
  /** Where a live transcoder writes the file. */
  oggPath: string;
  /** Where the input writes the remuxed file (or the Ogg of raw Opus packets to transcode). */
  remuxPath: string;
  /** A fresh input checker (the raw log is replayed through it when it is rebuilt). */
  newInput: () => LiveInput;
  /** A stream not recognised this long after its first byte is refused (fail fast). */
  recogniseTimeoutMs: number;
  fsyncIntervalMs: number;
  commitIntervalMs: number;
  resumeGraceMs: number;
  maxBytes: number;
  maxDurationMs: number;
  /**
   * How long a stop waits for a processing job (when the live transcode was lost) before answering that
   * the recording is saved and still processing.
   */
  processingWaitMs: () => number;
  /** Bytes already in the object store (a recording taken over or recovered). */
  committed: number;
  /**
   * Opens a live transcoder reading `input`, when the input must be transcoded (null: raw log only, e.g.
   * after a crash or a takeover; a job transcodes the recording after it ends).
   */
  openTranscoder: ((input: string) => Promise<LiveTranscoder>) | null;
}

export type RecordingState = 'attached' | 'detached' | 'finalising' | 'finished' | 'fenced';

export class LiveRecording implements RecordingHandle {
  readonly id: string;
  readonly userId: string;
  readonly epoch: number;
  #options: LiveRecordingOptions;
  #deps: LiveRecordingDeps;
  #log: RawLog;
  #state: RecordingState = 'detached';
  #client: AttachedClient | null = null;
  #input: LiveInput;
  /** The client's audio was refused (by the input checks or the transcoder): the recording fails. */
  #refusal: AppError | undefined;
  #transcoderStarted = false;
  #transcoder: LiveTranscoder | null = null;
  #transcoderError: unknown;
  #transcodeChain: Promise<void> = Promise.resolve();
  #transcodePending = 0;
  /** Raw log length the transcoder has been told about (and accepted). */
  #advanced = 0;
  #paused = false;
  #committed: number;
  #committing: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];
  #graceTimer: NodeJS.Timeout | undefined;
  #finalising: Promise<SavedResult> | undefined;
  /** The live transcode's result, once finished (kept across finalisation retries). */
  #transcoded: AudioInfo | undefined;
  #acks: AckLatency;
  /** Storing the remuxed file failed: a retried finalisation leaves it to a job. */
  #remuxLost = false;

  private constructor(options: LiveRecordingOptions, deps: LiveRecordingDeps, log: RawLog) {
    this.id = options.id;
    this.userId = options.userId;
    this.epoch = options.epoch;
    this.#options = options;
    this.#deps = deps;
    this.#log = log;
    this.#committed = options.committed;
    this.#acks = new AckLatency((seconds) => deps.metrics?.ackLatency(seconds));
    this.#input = options.newInput();
    this.#timers.push(
      setTimeout(() => this.#limitReached('media_too_long'), options.maxDurationMs),
      setInterval(() => void this.#commit().catch(() => {}), options.commitIntervalMs),
    );
  }

  static async open(options: LiveRecordingOptions, deps: LiveRecordingDeps): Promise<LiveRecording> {
    let recording: LiveRecording | undefined;
    const log = await RawLog.open(options.rawLogPath, {
      fsyncIntervalMs: options.fsyncIntervalMs,
      onDurable: (bytes) => recording?.onDurable(bytes),
      onError: (error) => recording?.onLogError(error),
    });
    recording = new LiveRecording(options, deps, log);
    try {
      await recording.#replay();
    } catch (error) {
      await log.close().catch(() => {});
      throw error;
    }
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

  get committedBytes(): number {
    return this.#committed;
  }

  get live(): boolean {
    return this.#state === 'attached' || this.#state === 'detached';
  }

  /** Attaches a connection; a connection already attached is taken over (close 4409). */
  async attach(client: AttachedClient): Promise<void> {
    if (!this.live) throw new AppError('not_found', 'this recording is no longer live');
    if (this.#log.failed) {
      // The disk failed under the last connection: continue after the last byte that reached it.
      const durable = this.#log.durable;
      await this.#log.close().catch(() => {});
      this.#log = await RawLog.open(this.#options.rawLogPath, {
        fsyncIntervalMs: this.#options.fsyncIntervalMs,
        truncateTo: durable,
        onDurable: (bytes) => this.onDurable(bytes),
        onError: (error) => this.onLogError(error),
      });
      // The input read bytes that did not reach the disk: it reads the log again, as it is now.
      await this.#input.close();
      this.#input = this.#options.newInput();
      await this.#replay();
    }
    const previous = this.#client;
    this.#clearGrace();
    this.#client = client;
    this.#state = 'attached';
    if (previous && previous !== client) {
      previous.end(null, {
        code: CloseCode.conflict,
        reason: 'the recording was resumed on another connection',
        error: 'session_taken_over',
      });
    }
    this.#paused = false;
    this.#checkPressure();
    await this.#deps.store.setResumable(this.id, this.epoch, null).catch(() => {});
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
    // Another node finishing it if this one dies needs to know until when a client may come back.
    const until = new Date(Date.now() + graceMs).toISOString();
    void this.#deps.store.setResumable(this.id, this.epoch, until).catch(() => {});
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      if (this.#state === 'detached') void this.finalise().catch(() => {});
    }, graceMs);
  }

  append(chunk: Buffer): void {
    if (this.#state !== 'attached' || this.#log.failed) return;
    if (this.#log.length + chunk.length > this.#options.maxBytes) {
      this.#limitReached('recording_too_large');
      return;
    }
    if (this.#log.length === 0) this.#armRecognition();
    const written = this.#log.append(chunk);
    this.#acks.received(this.#log.length);
    this.#deps.metrics?.received(chunk.length);
    void written.then(() => this.#checkPressure());
    this.#read(chunk);
    if (this.#transcoderStarted) this.#advance(written, chunk.length);
    this.#checkPressure();
  }

  /** The input checks read the chunk; the transcoder starts when they say the input needs one. */
  #read(chunk: Buffer): void {
    if (this.#refusal) return;
    try {
      this.#input.push(chunk);
    } catch (error) {
      const refused = refusalOf(error);
      if (!refused) throw error;
      this.#refuse(refused);
      return;
    }
    if (this.#input.pipeline === 'transcode') this.#startTranscoder();
  }

  /** Reads the raw log into a new input from its first byte (a recording taken over, a failed disk). */
  async #replay(): Promise<void> {
    const end = this.#log.length;
    for (let at = 0; at < end && !this.#refusal; at += REPLAY_BYTES) {
      this.#read(await readBytes(this.#options.rawLogPath, at, Math.min(end, at + REPLAY_BYTES)));
    }
    if (this.#transcoderStarted) this.#advance(Promise.resolve(), 0);
  }

  /** A stream not recognised within the timeout after its first byte is refused, whatever its bitrate. */
  #armRecognition(): void {
    const ms = this.#options.recogniseTimeoutMs;
    this.#timers.push(
      setTimeout(() => {
        if (this.#input.recognised || !this.live) return;
        this.#refuse(
          new AppError('invalid_media', `the live stream was not recognised within ${ms / 1000} s of its first byte`),
        );
      }, ms),
    );
  }

  #startTranscoder(): void {
    if (this.#transcoderStarted) return;
    this.#transcoderStarted = true;
    const open = this.#options.openTranscoder;
    if (!open || this.#transcoderError !== undefined) {
      this.#transcoderError ??= new Error('no live transcoder');
      return;
    }
    const input = this.#input.transcodeSource === 'raw-log' ? this.#options.rawLogPath : this.#options.remuxPath;
    const opening = open(input);
    opening.catch(() => {}); // handled in the chain
    // Audio written while it opens waits for it in the chain.
    this.#transcodeChain = this.#transcodeChain.then(() =>
      opening.then(
        (transcoder) => {
          this.#transcoder = transcoder;
        },
        (error: unknown) => this.#transcoderFailed(error),
      ),
    );
  }

  /**
   * Tells the transcoder how far its input now goes, once `written` (this chunk's raw-log write) is done;
   * `bytes` count towards backpressure until then.
   */
  #advance(written: Promise<void>, bytes: number): void {
    if (this.#transcoderError !== undefined) return;
    this.#transcodePending += bytes;
    this.#transcodeChain = this.#transcodeChain.then(async () => {
      await written;
      try {
        // Everything written by now, this chunk included; a step behind a burst may already be covered
        // by an earlier one, which then saves the round trip to the worker.
        const total = this.#input.transcodeSource === 'raw-log' ? this.#log.written : await this.#input.flushed();
        if (this.#transcoderError === undefined && this.#transcoder && total > this.#advanced) {
          await this.#transcoder.advance(total);
          this.#advanced = total;
        }
      } catch (error) {
        this.#transcoderFailed(error);
      }
      this.#transcodePending -= bytes;
      this.#checkPressure();
    });
  }

  /** Ends the recording for a server reason: save everything, then tell the client and close. */
  end(close: { code: number; reason: string; error?: ErrorCode }): Promise<SavedResult> {
    const client = this.#client;
    const saved = this.finalise();
    client?.end(saved, close);
    return saved;
  }

  /**
   * Finishes the recording. Resolves with `ready` or `failed`, or with `pending` when storage or the
   * database is unavailable: the audio is safe on this node and finishing is retried in the background.
   */
  finalise(): Promise<SavedResult> {
    if (this.#finalising) return this.#finalising;
    if (this.#state === 'fenced') {
      return Promise.resolve(
        this.#result('failed', null, 'session_taken_over', 'the recording was taken over elsewhere'),
      );
    }
    this.#state = 'finalising';
    this.#clearGrace();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#finalising = new Promise<SavedResult>((resolve) => {
      void this.#finaliseWithRetries(resolve);
    });
    return this.#finalising;
  }

  async #finaliseWithRetries(answer: (result: SavedResult) => void): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.#save();
        answer(result);
        this.#finish();
        return;
      } catch (error) {
        if (this.#state === 'fenced') {
          answer(this.#result('failed', null, 'session_taken_over', 'the recording was taken over elsewhere'));
          return;
        }
        const delay = FINALISE_RETRY_MS[Math.min(attempt, FINALISE_RETRY_MS.length - 1)]!;
        this.#deps.log.error(
          { err: error, recordingId: this.id, retryInMs: delay },
          'finishing a live recording failed',
        );
        if (attempt === 0) {
          answer(
            this.#result(
              'pending',
              null,
              'unavailable',
              'the recording is safe on the server and will be finished automatically',
            ),
          );
        }
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  /** Flush, commit everything, then finish from the live transcode or hand over to a processing job. */
  async #save(): Promise<SavedResult> {
    const bytes = await this.#flushLog();
    this.#client?.ack(bytes);
    this.#acks.acknowledged(bytes);
    await this.#commit({ all: true });
    if (this.#state === 'fenced') throw new AppError('session_taken_over', 'the recording was taken over elsewhere');
    if (bytes === 0 && this.#committed === 0) {
      await this.#transcodeChain;
      await this.#transcoder?.abort().catch(() => {});
      const message = 'no audio was received';
      await this.#fenced(this.#deps.store.fail(this.id, this.epoch, new AppError('invalid_media', message), message));
      await this.#deps.cleanup(this.id).catch(() => {});
      return this.#result('failed', null, 'invalid_media', message);
    }
    this.#endInput();
    await this.#transcodeChain;
    const refused = this.#refusal;
    if (refused) {
      // The client's audio itself was refused (not audio, too long, ahead of real time): processing it
      // again would give the same answer. What was received is kept for the retention period.
      await this.#fenced(this.#deps.store.fail(this.id, this.epoch, refused, refused.message));
      return this.#result('failed', null, refused.code, refused.message);
    }
    if (this.#input.pipeline === 'remux' && !this.#remuxLost) {
      const ready = await this.#storeRemuxed();
      if (ready) return this.#result('ready', ready.duration_sec);
    }
    if (this.#transcoderError === undefined && this.#transcoder && !this.#transcoded) {
      try {
        this.#transcoded = await this.#transcoder.finish();
      } catch (error) {
        this.#transcoderFailed(error);
      }
    }
    if (this.#transcoded) {
      const ready = await this.#storeLiveFile(this.#options.oggPath, this.#transcoded, (error) => {
        this.#transcoded = undefined;
        this.#transcoderFailed(error);
      });
      if (ready) return this.#result('ready', ready.duration_sec);
    }
    // No live transcode: a processing job (on any node) makes the file from the committed segments.
    await this.#fenced(this.#deps.store.toProcessing(this.id, this.epoch));
    const settled = await this.#deps.store.waitForSettled(this.id, this.#options.processingWaitMs());
    if (!settled) return this.#result('processing', null);
    if (settled.status === 'ready') return this.#result('ready', settled.duration_sec);
    return this.#result('failed', null, (settled.error_code as ErrorCode | null) ?? 'internal', settled.error ?? '');
  }

  /**
   * The end of the stream for the input: its last decision (a last bitrate window may still turn it to
   * transcode) or a refusal; a transcoder reading the input's Ogg file is told where that file ends.
   */
  #endInput(): void {
    if (this.#refusal) return;
    try {
      this.#input.end();
    } catch (error) {
      const refused = refusalOf(error);
      if (!refused) throw error;
      this.#refusal = refused;
      return;
    }
    if (this.#transcoderStarted && this.#input.transcodeSource === 'remux-file') this.#advance(Promise.resolve(), 0);
  }

  /** Stores the remuxed file. Undefined when that failed: a job then makes the file from the segments. */
  async #storeRemuxed(): Promise<Recording | undefined> {
    const lost = (error: unknown) => {
      this.#remuxLost = true;
      this.#deps.log.warn({ err: error, recordingId: this.id }, 'the remuxed file was lost; a job will make it');
    };
    try {
      await this.#input.flushed();
    } catch (error) {
      lost(error);
      return undefined;
    }
    return this.#storeLiveFile(this.#options.remuxPath, this.#input.info(), lost);
  }

  /**
   * Stores a file made while recording as the recording's. Undefined when that failed (`lost` is told
   * why): a job then makes the file again from the committed segments.
   */
  async #storeLiveFile(path: string, info: AudioInfo, lost: (error: unknown) => void): Promise<Recording | undefined> {
    const row = await this.#fenced(this.#deps.store.current(this.id));
    try {
      return await this.#fenced(this.#deps.store.complete(row, this.epoch, path, info));
    } catch (error) {
      if (this.#state === 'fenced') throw error;
      lost(error);
      return undefined;
    }
  }

  #result(status: SavedResult['status'], durationSec: number | null, code?: ErrorCode, error?: string): SavedResult {
    return {
      recordingId: this.id,
      status,
      durationSec,
      bytes: Math.max(this.#log.durable, this.#committed),
      error: error ?? null,
      errorCode: code ?? null,
    };
  }

  /** A lifecycle write that matched no row means another node holds the recording now (or it was deleted). */
  async #fenced<T>(write: Promise<T | undefined>): Promise<T> {
    const result = await write;
    if (result === undefined) {
      this.#onFenced();
      throw new AppError('session_taken_over', 'the recording was taken over by another node or deleted');
    }
    return result;
  }

  async #flushLog(): Promise<number> {
    try {
      return await this.#log.close();
    } catch (error) {
      // The disk failed under us; whatever reached it durably is still worth saving.
      this.#deps.log.error({ err: error, recordingId: this.id }, 'raw log flush failed');
      return this.#log.durable;
    }
  }

  /** Copies durable raw-log bytes not yet in the store into segments (one commit at a time). */
  async #commit(options: { all?: boolean } = {}): Promise<void> {
    if (this.#committing) {
      await this.#committing.catch(() => {});
      if (!options.all) return;
    }
    // Set before awaiting, cleared after: a round with nothing to commit finishes synchronously, and
    // clearing from inside it would run before this assignment and leave it set for good.
    const committing = this.#commitSegments();
    this.#committing = committing;
    try {
      await committing;
    } catch (error) {
      // The store is unreachable: the audio stays acknowledged on this disk; the next tick tries again.
      this.#deps.log.warn({ err: error, recordingId: this.id }, 'committing live audio failed');
      if (options.all) throw error;
    } finally {
      if (this.#committing === committing) this.#committing = undefined;
    }
  }

  /**
   * One round: what was durable when it began, in segments of at most MAX_SEGMENT_BYTES. Bytes that
   * arrive meanwhile wait for the next round; chasing them would turn a slow store into a PUT per
   * chunk (measured: 4.6× the object writes at 200 sessions, bench/cluster.ts).
   */
  async #commitSegments(): Promise<void> {
    const target = this.#log.durable;
    while (target > this.#committed && this.#state !== 'fenced') {
      const start = this.#committed;
      const end = Math.min(target, start + MAX_SEGMENT_BYTES);
      const bytes = await readBytes(this.#options.rawLogPath, start, end);
      await this.#deps.store.putLiveSegment(this.id, start, bytes);
      if (!(await this.#deps.watermarks.advance(this.id, this.epoch, end))) {
        this.#onFenced();
        return;
      }
      this.#committed = end;
      this.#client?.committed(end);
    }
  }

  /** A lease renewal found the recording held by another node now (or deleted). */
  leaseLost(): void {
    this.#onFenced();
  }

  /** Another node owns the recording now (or it was deleted): let go of everything, finish nothing. */
  #onFenced(): void {
    if (this.#state === 'fenced' || this.#state === 'finished') return;
    this.#deps.log.info({ recordingId: this.id, epoch: this.epoch }, 'live recording taken over elsewhere; letting go');
    const client = this.#client;
    this.#state = 'fenced';
    this.#client = null;
    this.#clearGrace();
    for (const timer of this.#timers) clearTimeout(timer);
    client?.end(null, {
      code: CloseCode.conflict,
      reason: 'the recording was resumed on another connection',
      error: 'session_taken_over',
    });
    void this.#transcoder?.abort().catch(() => {});
    void this.#log.close().catch(() => {});
    void this.#input.close();
    this.#deps.onFinished(this);
    void this.#deps.cleanup(this.id).catch(() => {});
  }

  #finish(): void {
    if (this.#state === 'fenced') return;
    this.#state = 'finished';
    this.#client = null;
    void this.#input.close();
    this.#deps.onFinished(this);
  }

  #limitReached(code: 'media_too_long' | 'recording_too_large'): void {
    if (!this.live) return;
    const reason =
      code === 'media_too_long'
        ? `maximum recording duration of ${Math.round(this.#options.maxDurationMs / 1000)} s reached; audio saved`
        : `maximum recording size of ${this.#options.maxBytes} bytes reached; audio saved`;
    void this.end({ code: CloseCode.limitReached, reason, error: code }).catch(() => {});
  }

  /** The raw log reached the disk up to `bytes`: acknowledge them. */
  private onDurable(bytes: number): void {
    this.#client?.ack(bytes);
    this.#acks.acknowledged(bytes);
  }

  /**
   * The disk refused a write (full, or failing). What was acknowledged is safe; the connection is told
   * why and closed with 1011, and the recording stays resumable: a client that kept its unacknowledged
   * audio can resume once the disk has room again.
   */
  private onLogError(error: Error): void {
    const full = isAppError(error)
      ? error.code === 'insufficient_storage'
      : /ENOSPC|EDQUOT/.test(String((error as NodeJS.ErrnoException).code));
    this.#deps.log.error({ err: error, recordingId: this.id }, 'raw log write failed');
    this.#transcoderFailed(error);
    const client = this.#client;
    if (!client || this.#state !== 'attached') return;
    client.end(null, {
      code: CloseCode.internalError,
      reason: full ? 'the server disk is full; resume later' : 'the server could not store the audio; resume later',
      error: full ? 'insufficient_storage' : 'internal',
    });
    this.detach(client);
  }

  #transcoderFailed(error: unknown): void {
    if (this.#transcoderError !== undefined) return;
    this.#transcoderError = error;
    const refused = refusalOf(error);
    if (refused) {
      this.#refuse(refused);
      return;
    }
    if (this.#options.openTranscoder) {
      this.#deps.log.warn(
        { err: error, recordingId: this.id },
        'live transcoding failed; the recording will be processed from its segments',
      );
    }
    void this.#transcoder?.abort().catch(() => {});
  }

  /**
   * The client's audio is refused (not audio, too long, ahead of real time): the recording fails with
   * what was received kept. Fail fast: a live session ends now, with the reason, not at the client's stop.
   */
  #refuse(refused: AppError): void {
    if (this.#refusal) return;
    this.#refusal = refused;
    this.#transcoderError ??= refused;
    void this.#transcoder?.abort().catch(() => {});
    if (this.live) {
      void this.end({ code: refused.wsCloseCode, reason: refused.message, error: refused.code }).catch(() => {});
    }
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

/** A media verdict on the client's audio (a 4xx code), as opposed to a server fault. */
function refusalOf(error: unknown): AppError | undefined {
  return isAppError(error) && error.httpStatus >= 400 && error.httpStatus < 500 ? error : undefined;
}

/** Bytes [start, end) of a file. */
async function readBytes(file: string, start: number, end: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(end - start);
    let read = 0;
    while (read < buffer.length) {
      const { bytesRead } = await handle.read(buffer, read, buffer.length - read, start + read);
      if (bytesRead === 0) throw new Error(`raw log ${file} is shorter than its durable length`);
      read += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}
