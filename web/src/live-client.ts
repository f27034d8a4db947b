/**
 * Reference client for Earshot's live recording protocol (docs/live-protocol.md). Standard `WebSocket`
 * only, so the same file runs in browsers and in Node 24 (bench/live.ts, tests).
 *
 * It keeps every byte the server has not acknowledged as durable; after a drop it reconnects, resumes
 * the recording and re-sends from the server's byte count, so no audio is lost or duplicated.
 *
 *   const client = new LiveRecordingClient({ url, token, metadata: { name, meeting_link, org_id } });
 *   await client.start();
 *   recorder.ondataavailable = (e) => client.send(e.data);   // Blob, ArrayBuffer or Uint8Array
 *   const saved = await client.stop();                        // { recordingId, duration, bytes }
 *
 * Every session ends with exactly one `ended` event saying why (see LiveEndReason); `send()` never
 * throws, it returns false once the session can take no more audio.
 */

/** The seed's three keys, all required by the server (docs/live-protocol.md §2). */
export interface LiveMetadata {
  name: string;
  /** "" or null when there is no meeting. */
  meeting_link: string | null;
  org_id: string;
  /**
   * What the bytes are (docs/live-protocol.md §3): absent for a container the server recognises (WebM,
   * Ogg, MP4); raw PCM (`pcm_s16le`, `pcm_f32le`, with `sample_rate` and `channels`); or raw Opus packets
   * (`opus`, framed as opus-stream.ts does). The client sends whatever bytes it is given either way.
   */
  format?: 'opus' | 'pcm_s16le' | 'pcm_f32le';
  sample_rate?: number;
  channels?: number;
}

/**
 * Why a session ended (the `ended` event, emitted exactly once, last):
 * - `stopped`: saved after stop() (`recording_saved`, close 1000).
 * - `shutdown`: saved by the server without a stop because it is shutting down (`recording_saved`, close 1001).
 * - `limit`: saved by the server at its size or duration limit (`recording_saved`, close 4413).
 * - `refused`: the server ended the session with an error (`error`, then a close code after which
 *   reconnecting cannot help, e.g. 1008, 4404, 4409, 4422, 4429), or the `token` function threw;
 *   nothing more can be sent.
 * - `lost`: the server could not be reached (again) within `reconnectForMs`, or the connection dropped with
 *   `resume: false` or before `recording_started`. A started recording is finalised by the server when
 *   its resume grace period ends, with everything it received.
 * - `aborted`: abort() was called.
 */
export type LiveEndReason = 'stopped' | 'shutdown' | 'limit' | 'refused' | 'lost' | 'aborted';

export type LiveClientEvent =
  | { type: 'started'; recordingId: string; filename: string }
  | { type: 'resumed'; recordingId: string; bytes: number }
  | { type: 'ack'; bytes: number }
  /** The server has this many bytes in shared storage; they survive the loss of any one node. */
  | { type: 'committed'; bytes: number }
  | { type: 'reconnecting'; attempt: number; delayMs: number; code: number }
  /** `recording_saved` arrived (by stop, shutdown or a limit); `ended` follows when the socket closes. */
  | { type: 'saved'; recordingId: string; duration: number | null; bytes: number }
  /** The session failed (reasons `refused` and `lost`); `ended` follows at once. */
  | { type: 'failed'; error: string; message: string; code: number }
  | {
      type: 'ended';
      reason: LiveEndReason;
      /** The saved recording for `stopped`, `shutdown` and `limit`; otherwise null. */
      saved: SavedRecording | null;
      /** The server's error code (`refused`, `limit`; `closed` when it gave none), `closed` (`lost`), else null. */
      error: string | null;
      message: string;
      /** The last close code (0 when no socket was involved, e.g. the token could not be obtained). */
      code: number;
    };

export interface LiveClientOptions {
  /** `wss://host/api/ws/record` */
  url: string;
  /**
   * An access token, or a function giving a fresh one (called on every (re)connect). If the function
   * throws, that attempt counts as a failed connection (retried with back-off while resuming is possible:
   * a token refresh can fail just because the network is down); throw a LiveRecordingError to end the
   * session instead (reason `refused`, e.g. when the user has signed out).
   */
  token: string | (() => string | Promise<string>);
  metadata: LiveMetadata;
  /** Reconnect and resume after a drop (default true). Needs acks, which are then always on. */
  resume?: boolean;
  /**
   * Keep audio until the server has it in shared storage (`committed`), not just on the disk of the node
   * it reached (`ack`): then even the loss of that node loses nothing, because the recording resumes on
   * another one (default true).
   */
  commit?: boolean;
  /** Give up reconnecting after this long; keep it under the server's grace period (default 100 s). */
  reconnectForMs?: number;
  /**
   * While waiting to reconnect, try again at once when the browser reports it is back online (the
   * `online` event; default true). Elsewhere (Node) there is no such event: call reconnectNow().
   */
  reconnectOnOnline?: boolean;
  /** Stop handing bytes to the socket while this much is still unsent in it (default 1 MiB). */
  highWaterBytes?: number;
  onEvent?: (event: LiveClientEvent) => void;
  /** WebSocket implementation (default: the global one). */
  WebSocket?: typeof WebSocket;
}

export interface SavedRecording {
  recordingId: string;
  duration: number | null;
  bytes: number;
}

export class LiveRecordingError extends Error {
  readonly code: string;
  readonly closeCode: number;
  constructor(code: string, message: string, closeCode: number) {
    super(message);
    this.name = 'LiveRecordingError';
    this.code = code;
    this.closeCode = closeCode;
  }
}

/** Close codes after which reconnecting cannot help. */
const FINAL_CLOSE_CODES = new Set([1000, 1008, 1009, 4404, 4409, 4410, 4413, 4415, 4422, 4429]);
/** The server's close code and errors for "a limit of one recording was reached" (what it had is saved). */
const LIMIT_CLOSE_CODE = 4413;
const LIMIT_ERRORS = new Set(['recording_too_large', 'media_too_long']);

/** The page's `window` events (`online`), where there are any: not in Node. */
const windowEvents = (): EventTarget | null => {
  const target = globalThis as unknown as Partial<EventTarget>;
  return typeof target.addEventListener === 'function' ? (target as EventTarget) : null;
};

type Pending<T> = { resolve: (value: T) => void; reject: (error: Error) => void };

export class LiveRecordingClient {
  #options: LiveClientOptions;
  #ws: WebSocket | null = null;
  #recordingId: string | null = null;
  /** Chunks not yet acknowledged; `#base` is the absolute offset of the first one's first byte. */
  #chunks: Uint8Array<ArrayBuffer>[] = [];
  #base = 0;
  #total = 0;
  #sent = 0;
  #acked = 0;
  #committed = 0;
  #ready = false;
  /** stop() was called: send() takes no more audio. */
  #stopRequested = false;
  /** Everything queued before stop() has been handed over: `{"action":"stop"}` may follow the last byte. */
  #stopping = false;
  /** The session is over (the `ended` event has been emitted, or is about to be). */
  #ended = false;
  #endedWith: Error | null = null;
  #blobs: Promise<void> = Promise.resolve();
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #dropStartedAt = 0;
  #attempt = 0;
  #started: Pending<{ recordingId: string; filename: string }> | null = null;
  #stopped: Pending<SavedRecording> | null = null;
  #saved: SavedRecording | null = null;
  #stopSentOn: WebSocket | null = null;
  #stopResult: Promise<SavedRecording> | null = null;
  #lastError: { error: string; message: string } | null = null;
  #onOnline = (): void => {
    this.reconnectNow();
  };

  constructor(options: LiveClientOptions) {
    this.#options = options;
  }

  get recordingId(): string | null {
    return this.#recordingId;
  }
  /** Bytes handed to send() so far. */
  get totalBytes(): number {
    return this.#total;
  }
  /** Bytes the server confirmed as durable on the node that received them. */
  get ackedBytes(): number {
    return this.#acked;
  }
  /** Bytes the server confirmed as in shared storage (with `commit`). */
  get committedBytes(): number {
    return this.#committed;
  }
  /** Bytes held in memory until acknowledged. */
  get bufferedBytes(): number {
    return this.#total - this.#base;
  }
  /** True once the session is over (after the `ended` event). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Opens the socket and runs the handshake; resolves on `recording_started`. */
  start(): Promise<{ recordingId: string; filename: string }> {
    return new Promise((resolve, reject) => {
      if (this.#ended || this.#started || this.#ws || this.#recordingId) {
        reject(new Error('start() can be called once'));
        return;
      }
      this.#started = { resolve, reject };
      if (this.#options.reconnectOnOnline !== false) windowEvents()?.addEventListener('online', this.#onOnline);
      void this.#connect();
    });
  }

  /**
   * Queues audio exactly as the recorder produced it (Blobs are read in order) and returns true. Returns
   * false, and drops the chunk, once the session can take no more audio: after stop() or abort(), once
   * the server has saved the recording (`saved`), or after it has ended (`ended`). It never throws.
   */
  send(chunk: Blob | ArrayBuffer | ArrayBufferView): boolean {
    if (this.#stopRequested || this.#ended || this.#saved) return false;
    if (typeof Blob !== 'undefined' && chunk instanceof Blob) {
      this.#blobs = this.#blobs.then(async () => {
        const bytes = new Uint8Array(await chunk.arrayBuffer());
        if (!this.#ended) this.#enqueue(bytes);
      });
      return true;
    }
    const bytes = ArrayBuffer.isView(chunk)
      ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      : new Uint8Array(chunk as ArrayBuffer);
    // Copy now: the caller may reuse its buffer, and we keep this until it is acknowledged.
    const copy = bytes.slice();
    this.#blobs = this.#blobs.then(() => {
      if (!this.#ended) this.#enqueue(copy);
    });
    return true;
  }

  /**
   * Sends everything queued, then `{"action":"stop"}`; resolves with the saved recording. Rejects with a
   * LiveRecordingError if the session ends otherwise (also when it already has).
   */
  stop(): Promise<SavedRecording> {
    this.#stopResult ??= this.#stop();
    return this.#stopResult;
  }

  async #stop(): Promise<SavedRecording> {
    if (this.#saved) return this.#saved;
    if (this.#endedWith) throw this.#endedWith;
    this.#stopRequested = true;
    await this.#blobs;
    if (this.#saved) return this.#saved;
    if (this.#endedWith) throw this.#endedWith;
    this.#stopping = true;
    return new Promise((resolve, reject) => {
      this.#stopped = { resolve, reject };
      this.#flush();
    });
  }

  /**
   * While waiting to reconnect after a drop, tries again now instead of waiting out the back-off (call it
   * when the network is known to be back). Returns false when there is nothing to reconnect.
   */
  reconnectNow(): boolean {
    if (!this.#reconnectTimer || this.#ended) return false;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    void this.#connect();
    return true;
  }

  /**
   * Closes without stopping (close 4000): the server keeps the recording resumable for its grace period,
   * then finalises it. Ends the session with reason `aborted` (unless it has already ended).
   */
  abort(): void {
    if (this.#ended) return;
    const ws = this.#ws;
    const code = ws ? 4000 : 0;
    this.#end('aborted', null, 'aborted', 'the client aborted the recording', code);
    ws?.close(4000, 'client aborted');
  }

  #enqueue(bytes: Uint8Array<ArrayBuffer>): void {
    if (bytes.byteLength === 0) return;
    this.#chunks.push(bytes);
    this.#total += bytes.byteLength;
    this.#flush();
  }

  async #connect(): Promise<void> {
    const Impl = this.#options.WebSocket ?? WebSocket;
    let token: string;
    try {
      token = typeof this.#options.token === 'function' ? await this.#options.token() : this.#options.token;
    } catch (error) {
      if (this.#ended) return;
      const message = `could not get an access token: ${error instanceof Error ? error.message : String(error)}`;
      if (error instanceof LiveRecordingError) this.#fail('refused', error.code, message, error.closeCode);
      else this.#retryOrEnd(0, message);
      return;
    }
    if (this.#ended) return;
    const ws = new Impl(this.#options.url);
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    this.#ready = false;
    ws.onopen = () => ws.send(JSON.stringify({ token }));
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') this.#onMessage(ws, JSON.parse(event.data));
    };
    ws.onclose = (event) => this.#onClose(ws, event.code, event.reason);
  }

  #onMessage(ws: WebSocket, message: Record<string, any>): void {
    if (ws !== this.#ws || this.#ended) return;
    switch (message.status) {
      case 'authenticated': {
        const resume = this.#recordingId !== null;
        const promises = { ack: true, ...(this.#keepUntilCommitted ? { commit: true } : {}) };
        ws.send(
          JSON.stringify(
            resume ? { resume: this.#recordingId, ...promises } : { ...this.#options.metadata, ...promises },
          ),
        );
        return;
      }
      case 'recording_started':
        this.#recordingId = message.recording_id;
        this.#ready = true;
        this.#emit({ type: 'started', recordingId: message.recording_id, filename: message.filename });
        this.#started?.resolve({ recordingId: message.recording_id, filename: message.filename });
        this.#started = null;
        this.#flush();
        return;
      case 'recording_resumed':
        this.#attempt = 0;
        this.#dropStartedAt = 0;
        if (message.bytes < this.#base) {
          // The server continues from before audio we let go of (it was acknowledged by a node that is
          // gone, and not committed): resending cannot close that gap.
          this.#fail(
            'refused',
            'audio_lost',
            `the server resumed at byte ${message.bytes}, but audio before byte ${this.#base} is no longer kept`,
            0,
          );
          return;
        }
        this.#release(Math.min(message.bytes, this.#total));
        this.#sent = message.bytes;
        this.#ready = true;
        this.#emit({ type: 'resumed', recordingId: message.recording_id, bytes: message.bytes });
        this.#flush();
        return;
      case 'ack':
        this.#acked = Math.max(this.#acked, message.bytes);
        if (!this.#keepUntilCommitted) this.#release(message.bytes);
        this.#emit({ type: 'ack', bytes: message.bytes });
        return;
      case 'committed':
        this.#committed = Math.max(this.#committed, message.bytes);
        this.#release(message.bytes);
        this.#emit({ type: 'committed', bytes: message.bytes });
        return;
      case 'recording_saved':
        // Saved (by our stop, a shutdown or a limit): no more audio. Why is known once the socket closes.
        this.#ready = false;
        this.#saved = { recordingId: message.recording_id, duration: message.duration, bytes: message.bytes };
        this.#emit({ type: 'saved', ...this.#saved });
        this.#stopped?.resolve(this.#saved);
        this.#stopped = null;
        return;
      case 'error':
        this.#lastError = { error: message.error, message: message.message };
        return;
    }
  }

  #onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.#ws) return;
    this.#ws = null;
    this.#ready = false;
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    if (this.#ended) return;
    if (this.#saved) {
      const limit = code === LIMIT_CLOSE_CODE || LIMIT_ERRORS.has(this.#lastError?.error ?? '');
      const why: LiveEndReason = limit ? 'limit' : this.#stopping ? 'stopped' : 'shutdown';
      const error = limit ? (this.#lastError?.error ?? 'recording_too_large') : null;
      const message = this.#lastError?.message ?? (why === 'shutdown' ? 'the server is shutting down' : 'saved');
      this.#end(why, this.#saved, error, message, code);
      return;
    }
    this.#retryOrEnd(code, reason);
  }

  /** After a failed or lost connection: reconnect with back-off, or end the session. */
  #retryOrEnd(code: number, reason: string): void {
    const error = this.#lastError ?? { error: 'closed', message: reason || `connection closed (${code})` };
    // After our stop, "unavailable" means the server has everything and finishes the recording itself.
    if (FINAL_CLOSE_CODES.has(code) || (this.#stopping && error.error === 'unavailable')) {
      this.#fail('refused', error.error, error.message, code);
      return;
    }
    const canResume = this.#options.resume !== false && this.#recordingId !== null;
    const deadline = this.#options.reconnectForMs ?? 100_000;
    if (!this.#dropStartedAt) this.#dropStartedAt = Date.now();
    if (!canResume || Date.now() - this.#dropStartedAt > deadline) {
      this.#fail(this.#lastError ? 'refused' : 'lost', error.error, error.message, code);
      return;
    }
    this.#attempt += 1;
    const delayMs = Math.min(5000, 250 * 2 ** (this.#attempt - 1));
    this.#emit({ type: 'reconnecting', attempt: this.#attempt, delayMs, code });
    this.#lastError = null;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      void this.#connect();
    }, delayMs);
  }

  #fail(reason: 'refused' | 'lost', error: string, message: string, code: number): void {
    this.#emit({ type: 'failed', error, message, code });
    this.#end(reason, null, error, message, code);
  }

  #end(reason: LiveEndReason, saved: SavedRecording | null, error: string | null, message: string, code: number): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#ready = false;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#reconnectTimer = this.#flushTimer = null;
    windowEvents()?.removeEventListener('online', this.#onOnline);
    if (!saved) {
      this.#endedWith = new LiveRecordingError(error ?? reason, message, code);
      this.#started?.reject(this.#endedWith);
      this.#stopped?.reject(this.#endedWith);
      this.#started = this.#stopped = null;
    }
    // Nothing more will be sent: let go of the audio kept for resending.
    this.#chunks = [];
    this.#base = this.#total;
    this.#emit({ type: 'ended', reason, saved, error, message, code });
  }

  /** Resumable sessions keep audio until committed, unless told not to. */
  get #keepUntilCommitted(): boolean {
    return this.#options.resume !== false && this.#options.commit !== false;
  }

  /** Lets go of audio the server keeps for us up to `bytes` (acknowledged, or committed). */
  #release(bytes: number): void {
    // Drop whole chunks the server has (a partly confirmed chunk stays whole).
    while (this.#chunks.length > 0 && this.#base + (this.#chunks[0] as Uint8Array<ArrayBuffer>).byteLength <= bytes) {
      this.#base += (this.#chunks.shift() as Uint8Array<ArrayBuffer>).byteLength;
    }
  }

  /** Hands unsent bytes to the socket while its buffer is below the high-water mark. */
  #flush(): void {
    const ws = this.#ws;
    if (!ws || !this.#ready || ws.readyState !== 1) return;
    const highWater = this.#options.highWaterBytes ?? 1024 * 1024;
    let offset = this.#base;
    for (const chunk of this.#chunks) {
      const end = offset + chunk.byteLength;
      if (end > this.#sent) {
        if (ws.bufferedAmount > highWater) {
          // The standard WebSocket has no 'drain' event: look again shortly.
          this.#flushTimer ??= setTimeout(() => {
            this.#flushTimer = null;
            this.#flush();
          }, 20);
          return;
        }
        ws.send(chunk.subarray(Math.max(0, this.#sent - offset)));
        this.#sent = end;
      }
      offset = end;
    }
    if (this.#stopping && this.#sent >= this.#total && this.#stopSentOn !== ws) {
      this.#stopSentOn = ws;
      ws.send(JSON.stringify({ action: 'stop' }));
    }
  }

  #emit(event: LiveClientEvent): void {
    this.#options.onEvent?.(event);
  }
}
