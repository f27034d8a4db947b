/**
 * Reference client for Earshot's live recording protocol (docs/live-protocol.md). Standard `WebSocket`
 * only, so the same file runs in browsers and in Node (global WebSocket from Node 22; on Node 20 pass
 * the `WebSocket` option, e.g. the `ws` package's).
 *
 * It keeps every byte the server has not acknowledged as durable (in an UnackedStore: memory by default,
 * IndexedDB to survive a page reload); after a drop it reconnects, resumes the recording and re-sends
 * from the server's byte count, so no audio is lost or duplicated.
 *
 *   const client = new LiveRecordingClient({ url, token, metadata: { name, meeting_link, org_id } });
 *   client.on('ack', (event) => show(event.bytes));
 *   await client.start();
 *   recorder.ondataavailable = (e) => client.send(e.data);   // Blob, ArrayBuffer or Uint8Array
 *   const saved = await client.stop();                        // { recordingId, duration, bytes }
 *
 * Every session ends with exactly one `ended` event saying why (see LiveEndReason); `send()` never
 * throws, it returns false once the session can take no more audio.
 */
import {
  CloseCode,
  FINAL_CLOSE_CODES,
  LIMIT_ERRORS,
  type LiveEndReason,
  type ResumeMessage,
  type ServerMessage,
  type StartMessage,
} from './protocol.ts';
import { MemoryUnackedStore, type UnackedStore } from './unacked-store.ts';

export type { LiveEndReason } from './protocol.ts';

/**
 * The recording's metadata (docs/live-protocol.md §2): the seed's three keys, all required by the server
 * (`name`, `meeting_link` — "" or null when there is no meeting — and `org_id`), and what the bytes are
 * (§3): no `format` for a container the server recognises (WebM, Ogg, MP4); raw PCM (`pcm_s16le`,
 * `pcm_f32le`, with `sample_rate` and `channels`); or raw Opus packets (`opus`, framed as opus-stream.ts
 * does). The client sends whatever bytes it is given either way.
 */
export type LiveMetadata = Omit<StartMessage, 'ack' | 'commit'>;

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
  /**
   * The UnackedStore refused a write (e.g. the browser's storage quota): the audio is still kept in
   * memory and sent, but would not survive a page reload. Reported once per session.
   */
  | { type: 'store_failed'; message: string }
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

export type LiveClientEventType = LiveClientEvent['type'];
/** The event of one type, e.g. `LiveClientEventOf<'ack'>` is `{ type: 'ack'; bytes: number }`. */
export type LiveClientEventOf<T extends LiveClientEventType> = Extract<LiveClientEvent, { type: T }>;

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
  /** What to record: required to start a recording, not used with `resumeRecordingId`. */
  metadata?: LiveMetadata;
  /**
   * Continue this unfinished recording instead of starting one: the audio `store` kept for it is re-sent
   * from the server's byte count (e.g. after a page reload, with IndexedDbUnackedStore). start() then
   * resolves on `recording_resumed`.
   */
  resumeRecordingId?: string;
  /** Where audio not yet acknowledged is kept (default: a MemoryUnackedStore of this client). */
  store?: UnackedStore;
  /** Aborting it is abort(). */
  signal?: AbortSignal;
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
  /** Every event, in order (as on() listeners for each type get them). */
  onEvent?: (event: LiveClientEvent) => void;
  /** WebSocket implementation (default: the global one; Node 20 has none, pass the `ws` package's). */
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

/** Refusals after which the recording cannot be resumed by anyone: its kept audio is of no more use. */
const UNRESUMABLE_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.notFound, CloseCode.finished]);

/** The page's `window` events (`online`), where there are any: not in Node. */
const windowEvents = (): EventTarget | null => {
  const target = globalThis as unknown as Partial<EventTarget>;
  return typeof target.addEventListener === 'function' ? (target as EventTarget) : null;
};

type Pending<T> = { resolve: (value: T) => void; reject: (error: Error) => void };
type Listener = (event: LiveClientEvent) => void;

export class LiveRecordingClient {
  #options: LiveClientOptions;
  #store: UnackedStore;
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
  /** The store's writes, in order (each waits for the one before). */
  #storeWrites: Promise<void> = Promise.resolve();
  #storeFailed = false;
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #dropStartedAt = 0;
  #attempt = 0;
  #started: Pending<{ recordingId: string; filename: string | null }> | null = null;
  #stopped: Pending<SavedRecording> | null = null;
  #saved: SavedRecording | null = null;
  #stopSentOn: WebSocket | null = null;
  #stopResult: Promise<SavedRecording> | null = null;
  #lastError: { error: string; message: string } | null = null;
  #listeners = new Map<LiveClientEventType, Set<Listener>>();
  #onOnline = (): void => {
    this.reconnectNow();
  };
  #onAbort = (): void => {
    this.abort();
  };

  constructor(options: LiveClientOptions) {
    this.#options = options;
    this.#store = options.store ?? new MemoryUnackedStore();
  }

  get recordingId(): string | null {
    return this.#recordingId;
  }
  /** Bytes of the recording so far (handed to send(), plus what a resumed recording had). */
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
  /** Bytes held until acknowledged. */
  get bufferedBytes(): number {
    return this.#total - this.#base;
  }
  /** True once the session is over (after the `ended` event). */
  get ended(): boolean {
    return this.#ended;
  }
  /** Settles once every store write so far is done (the audio handed over is then in the store). */
  get stored(): Promise<void> {
    return this.#storeWrites;
  }

  /** Calls `listener` with every event of this type, its payload narrowed to it; returns what off() does. */
  on<T extends LiveClientEventType>(type: T, listener: (event: LiveClientEventOf<T>) => void): () => void {
    const listeners = this.#listeners.get(type) ?? new Set();
    listeners.add(listener as Listener);
    this.#listeners.set(type, listeners);
    return () => this.off(type, listener);
  }

  off<T extends LiveClientEventType>(type: T, listener: (event: LiveClientEventOf<T>) => void): void {
    this.#listeners.get(type)?.delete(listener as Listener);
  }

  /**
   * Opens the socket and runs the handshake; resolves on `recording_started` (filename set), or with
   * `resumeRecordingId` on `recording_resumed` (filename null).
   */
  start(): Promise<{ recordingId: string; filename: string | null }> {
    return new Promise((resolve, reject) => {
      if (this.#ended || this.#started || this.#ws || this.#recordingId) {
        reject(new Error('start() can be called once'));
        return;
      }
      if (!this.#options.metadata && !this.#options.resumeRecordingId) {
        reject(new Error('start() needs `metadata`, or `resumeRecordingId` to continue a recording'));
        return;
      }
      this.#started = { resolve, reject };
      if (this.#options.reconnectOnOnline !== false) windowEvents()?.addEventListener('online', this.#onOnline);
      const signal = this.#options.signal;
      if (signal?.aborted) {
        this.abort();
        return;
      }
      signal?.addEventListener('abort', this.#onAbort, { once: true });
      void (this.#options.resumeRecordingId ? this.#loadKept(this.#options.resumeRecordingId) : this.#connect());
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
   * then finalises it, and the store keeps its unacknowledged audio. Ends the session with reason
   * `aborted` (unless it has already ended).
   */
  abort(): void {
    if (this.#ended) return;
    const ws = this.#ws;
    const code = ws ? CloseCode.clientAborted : 0;
    this.#end('aborted', null, 'aborted', 'the client aborted the recording', code);
    ws?.close(CloseCode.clientAborted, 'client aborted');
  }

  /** Resuming a recording of an earlier client: take over the audio the store kept for it, then connect. */
  async #loadKept(recordingId: string): Promise<void> {
    try {
      const session = (await this.#store.sessions()).find((kept) => kept.recordingId === recordingId);
      const chunks = await this.#store.read(recordingId, 0);
      this.#chunks = chunks.map((chunk) => chunk.bytes);
      this.#base = chunks[0]?.offset ?? session?.end ?? 0;
      this.#total = session?.end ?? this.#base;
    } catch (error) {
      this.#reportStoreFailure(error);
    }
    if (this.#ended) return;
    this.#recordingId = recordingId;
    await this.#connect();
  }

  #enqueue(bytes: Uint8Array<ArrayBuffer>): void {
    if (bytes.byteLength === 0) return;
    const offset = this.#total;
    this.#chunks.push(bytes);
    this.#total += bytes.byteLength;
    // Before `recording_started` there is no id to keep it under: it is stored once there is.
    if (this.#recordingId) this.#keep(this.#recordingId, offset, bytes);
    this.#flush();
  }

  #keep(recordingId: string, offset: number, bytes: Uint8Array<ArrayBuffer>): void {
    this.#writeStore((store) => store.append(recordingId, offset, bytes));
  }

  #writeStore(write: (store: UnackedStore) => Promise<void>): void {
    this.#storeWrites = this.#storeWrites
      .then(() => write(this.#store))
      .catch((error) => this.#reportStoreFailure(error));
  }

  #reportStoreFailure(error: unknown): void {
    if (this.#storeFailed) return;
    this.#storeFailed = true;
    this.#emit({ type: 'store_failed', message: error instanceof Error ? error.message : String(error) });
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
      if (typeof event.data === 'string') this.#onMessage(ws, JSON.parse(event.data) as ServerMessage);
    };
    ws.onclose = (event) => this.#onClose(ws, event.code, event.reason);
  }

  #onMessage(ws: WebSocket, message: ServerMessage): void {
    if (ws !== this.#ws || this.#ended) return;
    switch (message.status) {
      case 'authenticated': {
        const promises = { ack: true, ...(this.#keepUntilCommitted ? { commit: true } : {}) };
        const request: StartMessage | ResumeMessage = this.#recordingId
          ? { resume: this.#recordingId, ...promises }
          : { ...(this.#options.metadata as LiveMetadata), ...promises };
        ws.send(JSON.stringify(request));
        return;
      }
      case 'recording_started': {
        const recordingId = message.recording_id;
        this.#recordingId = recordingId;
        let offset = this.#base;
        for (const chunk of this.#chunks) {
          this.#keep(recordingId, offset, chunk);
          offset += chunk.byteLength;
        }
        this.#ready = true;
        this.#emit({ type: 'started', recordingId, filename: message.filename });
        this.#started?.resolve({ recordingId, filename: message.filename });
        this.#started = null;
        this.#flush();
        return;
      }
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
        if (message.bytes > this.#total) this.#continueAfter(message.bytes);
        this.#release(message.bytes);
        this.#sent = message.bytes;
        this.#ready = true;
        this.#emit({ type: 'resumed', recordingId: message.recording_id, bytes: message.bytes });
        this.#started?.resolve({ recordingId: message.recording_id, filename: null });
        this.#started = null;
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
      case 'recording_saved': {
        // Saved (by our stop, a shutdown or a limit): no more audio. Why is known once the socket closes.
        this.#ready = false;
        const saved = { recordingId: message.recording_id, duration: message.duration, bytes: message.bytes };
        this.#saved = saved;
        // Nothing is left to resend: stop() resolves once the store has let go of the recording.
        this.#writeStore((store) => store.clear(saved.recordingId));
        this.#emit({ type: 'saved', ...saved });
        const stopped = this.#stopped;
        this.#stopped = null;
        void this.#storeWrites.then(() => stopped?.resolve(saved));
        return;
      }
      case 'error':
        this.#lastError = { error: message.error, message: message.message };
        return;
    }
  }

  /**
   * A recording resumed from a store has more on the server than the store kept (an earlier client sent
   * it, and it was acknowledged, before the store had it): new audio continues after the server's bytes.
   */
  #continueAfter(bytes: number): void {
    this.#chunks = [];
    this.#base = this.#total = bytes;
    const recordingId = this.#recordingId as string;
    this.#writeStore((store) => store.clear(recordingId));
  }

  #onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.#ws) return;
    this.#ws = null;
    this.#ready = false;
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    if (this.#ended) return;
    if (this.#saved) {
      const limit = code === CloseCode.limitReached || LIMIT_ERRORS.has(this.#lastError?.error ?? '');
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
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    if (!saved) {
      this.#endedWith = new LiveRecordingError(error ?? reason, message, code);
      this.#started?.reject(this.#endedWith);
      this.#stopped?.reject(this.#endedWith);
      this.#started = this.#stopped = null;
    }
    // The store keeps the audio of a recording that can still be resumed (aborted, lost, refused for now);
    // once it can never be resumed, nothing is left to resend (a saved one was let go of on `saved`).
    const recordingId = this.#recordingId;
    if (recordingId && UNRESUMABLE_CLOSE_CODES.has(code)) {
      this.#writeStore((store) => store.clear(recordingId));
    }
    // Nothing more will be sent by this client: let go of its copy of the audio.
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
    const before = this.#base;
    // Drop whole chunks the server has (a partly confirmed chunk stays whole).
    while (this.#chunks.length > 0 && this.#base + (this.#chunks[0] as Uint8Array<ArrayBuffer>).byteLength <= bytes) {
      this.#base += (this.#chunks.shift() as Uint8Array<ArrayBuffer>).byteLength;
    }
    const recordingId = this.#recordingId;
    if (recordingId && this.#base > before) {
      const upTo = this.#base;
      this.#writeStore((store) => store.drop(recordingId, upTo));
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
    for (const listener of this.#listeners.get(event.type) ?? []) listener(event);
  }
}
