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
 */

export interface LiveMetadata {
  name: string;
  meeting_link?: string | null;
  org_id?: string | null;
}

export type LiveClientEvent =
  | { type: 'started'; recordingId: string; filename: string }
  | { type: 'resumed'; recordingId: string; bytes: number }
  | { type: 'ack'; bytes: number }
  | { type: 'reconnecting'; attempt: number; delayMs: number; code: number }
  | { type: 'saved'; recordingId: string; duration: number | null; bytes: number }
  | { type: 'failed'; error: string; message: string; code: number };

export interface LiveClientOptions {
  /** `wss://host/api/ws/record` */
  url: string;
  /** An access token, or a function giving a fresh one (called on every (re)connect). */
  token: string | (() => string | Promise<string>);
  metadata: LiveMetadata;
  /** Reconnect and resume after a drop (default true). Needs acks, which are then always on. */
  resume?: boolean;
  /** Give up reconnecting after this long; keep it under the server's grace period (default 100 s). */
  reconnectForMs?: number;
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
const FINAL_CLOSE_CODES = new Set([1000, 1008, 1009, 4404, 4409, 4413, 4422, 4429]);

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
  #ready = false;
  #stopping = false;
  #finished = false;
  #blobs: Promise<void> = Promise.resolve();
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  #dropStartedAt = 0;
  #attempt = 0;
  #started: Pending<{ recordingId: string; filename: string }> | null = null;
  #stopped: Pending<SavedRecording> | null = null;
  #saved: SavedRecording | null = null;
  #stopSentOn: WebSocket | null = null;
  #lastError: { error: string; message: string } | null = null;

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
  /** Bytes the server confirmed as durable. */
  get ackedBytes(): number {
    return this.#acked;
  }
  /** Bytes held in memory until acknowledged. */
  get bufferedBytes(): number {
    return this.#total - this.#base;
  }

  /** Opens the socket and runs the handshake; resolves on `recording_started`. */
  start(): Promise<{ recordingId: string; filename: string }> {
    return new Promise((resolve, reject) => {
      this.#started = { resolve, reject };
      void this.#connect();
    });
  }

  /** Queues audio exactly as the recorder produced it. Blobs are read in order. */
  send(chunk: Blob | ArrayBuffer | ArrayBufferView): void {
    if (this.#stopping || this.#finished) throw new Error('the recording was stopped');
    if (typeof Blob !== 'undefined' && chunk instanceof Blob) {
      this.#blobs = this.#blobs.then(async () => this.#enqueue(new Uint8Array(await chunk.arrayBuffer())));
      return;
    }
    const bytes = ArrayBuffer.isView(chunk)
      ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      : new Uint8Array(chunk as ArrayBuffer);
    this.#blobs = this.#blobs.then(() => this.#enqueue(bytes));
  }

  /** Sends everything, then `{"action":"stop"}`; resolves with the saved recording. */
  async stop(): Promise<SavedRecording> {
    if (this.#saved) return this.#saved;
    await this.#blobs;
    this.#stopping = true;
    return new Promise((resolve, reject) => {
      this.#stopped = { resolve, reject };
      this.#flush();
    });
  }

  /** Closes without stopping (the server keeps the recording for resume, then finalises it). */
  abort(): void {
    this.#finished = true;
    this.#ws?.close(4000, 'client aborted');
  }

  #enqueue(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    // Copy: the caller may reuse its buffer, and we keep this until it is acknowledged.
    this.#chunks.push(bytes.slice());
    this.#total += bytes.byteLength;
    this.#flush();
  }

  async #connect(): Promise<void> {
    const Impl = this.#options.WebSocket ?? WebSocket;
    let token: string;
    try {
      token = typeof this.#options.token === 'function' ? await this.#options.token() : this.#options.token;
    } catch (error) {
      this.#fail('invalid_token', `could not get an access token: ${(error as Error).message}`, 0);
      return;
    }
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
    switch (message.status) {
      case 'authenticated': {
        const resume = this.#recordingId !== null;
        ws.send(
          JSON.stringify(resume ? { resume: this.#recordingId, ack: true } : { ...this.#options.metadata, ack: true }),
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
        this.#acknowledge(Math.min(message.bytes, this.#total));
        this.#sent = message.bytes;
        this.#ready = true;
        this.#emit({ type: 'resumed', recordingId: message.recording_id, bytes: message.bytes });
        this.#flush();
        return;
      case 'ack':
        this.#acknowledge(message.bytes);
        this.#emit({ type: 'ack', bytes: message.bytes });
        return;
      case 'recording_saved':
        this.#finished = true;
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
    if (this.#saved || (this.#finished && !this.#stopping)) return;
    const canResume = this.#options.resume !== false && this.#recordingId !== null;
    const deadline = this.#options.reconnectForMs ?? 100_000;
    if (!this.#dropStartedAt) this.#dropStartedAt = Date.now();
    if (!canResume || FINAL_CLOSE_CODES.has(code) || Date.now() - this.#dropStartedAt > deadline) {
      const error = this.#lastError ?? { error: 'closed', message: reason || `connection closed (${code})` };
      this.#fail(error.error, error.message, code);
      return;
    }
    this.#attempt += 1;
    const delayMs = Math.min(5000, 250 * 2 ** (this.#attempt - 1));
    this.#emit({ type: 'reconnecting', attempt: this.#attempt, delayMs, code });
    this.#lastError = null;
    setTimeout(() => void this.#connect(), delayMs);
  }

  #fail(error: string, message: string, code: number): void {
    this.#finished = true;
    this.#emit({ type: 'failed', error, message, code });
    const failure = new LiveRecordingError(error, message, code);
    this.#started?.reject(failure);
    this.#stopped?.reject(failure);
    this.#started = this.#stopped = null;
  }

  #acknowledge(bytes: number): void {
    if (bytes <= this.#acked) return;
    this.#acked = bytes;
    // Drop whole chunks the server has made durable (a partly acknowledged chunk stays whole).
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
