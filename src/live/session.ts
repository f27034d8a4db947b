/**
 * One live connection as a state machine, with no socket in it: the route feeds it frames and close
 * events, and it talks back through a `Transport`. Unit tests drive it with a fake transport.
 *
 *   awaiting_token ─{token}→ authenticating ─→ awaiting_metadata ─{metadata|resume}→ starting ─→ recording
 *   recording ─{action:stop}→ ending ─→ closed (recording_saved, 1000)
 *   recording ─client close 1000/1005→ closed (recording finalised, nothing can be sent)
 *   recording ─drop / idle timeout→ closed (recording detached, resumable for the grace period)
 *   any handshake state ─bad message / timeout→ closed (error message, 1008)
 */
import type { Principal } from '../auth/principal.ts';
import { AppError, ERRORS, type ErrorCode } from '../errors.ts';
import {
  CloseCode,
  closeReason,
  describeError,
  FINAL_CLIENT_CLOSE_CODES,
  isResume,
  parseAction,
  parseAuth,
  parseStartOrResume,
  type ResumeMessage,
  type ServerMessage,
  type StartMessage,
} from './protocol.ts';

export interface Transport {
  send(message: ServerMessage): void;
  /** Sends a close frame (RFC 6455 §5.5.1). */
  close(code: number, reason: string): void;
  /** Stop / restart reading from the socket (backpressure). */
  pause(): void;
  resume(): void;
}

export interface SavedResult {
  recordingId: string;
  /**
   * ready: the file is made. processing: the audio is stored and a job is making the file. failed: for
   * good (`errorCode`). pending: storage or the database is down; the audio is safe on this node and
   * finishing is retried.
   */
  status: 'ready' | 'processing' | 'failed' | 'pending';
  durationSec: number | null;
  bytes: number;
  error: string | null;
  errorCode: ErrorCode | null;
}

/** What a session may do with the recording it is attached to (implemented by LiveRecording). */
export interface RecordingHandle {
  readonly id: string;
  append(chunk: Buffer): void;
  finalise(): Promise<SavedResult>;
  /** The connection went away without a stop: keep the recording for resume. */
  detach(client: AttachedClient): void;
}

/** What the recording may do with the session attached to it. */
export interface AttachedClient {
  ack(bytes: number): void;
  committed(bytes: number): void;
  pause(): void;
  resume(): void;
  /** The recording ends for a server reason (limit, shutdown, takeover): report and close. */
  end(saved: Promise<SavedResult> | null, close: { code: number; reason: string; error?: ErrorCode }): void;
}

export interface SessionDeps {
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  maxTextFrameBytes: number;
  /** Checks the first message's token: a person's access token or an API key. */
  authenticate(token: string): Promise<Principal>;
  start(
    principal: Principal,
    message: StartMessage,
    client: AttachedClient,
  ): Promise<{ handle: RecordingHandle; filename: string }>;
  resume(
    principal: Principal,
    message: ResumeMessage,
    client: AttachedClient,
  ): Promise<{ handle: RecordingHandle; bytes: number; durable: number; committed: number }>;
  onError?(error: unknown, context: string): void;
  /** Called once when the session reaches `closed`. */
  onClosed?(): void;
}

export type SessionState =
  | 'awaiting_token'
  | 'authenticating'
  | 'awaiting_metadata'
  | 'starting'
  | 'recording'
  | 'ending'
  | 'closed';

export class LiveSession implements AttachedClient {
  #state: SessionState = 'awaiting_token';
  #transport: Transport;
  #deps: SessionDeps;
  #principal: Principal | undefined;
  #recording: RecordingHandle | undefined;
  #ack = false;
  #commit = false;
  #queue: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  /** Close code from the client if it closed while an async step was running. */
  #clientClose: number | undefined;

  constructor(transport: Transport, deps: SessionDeps) {
    this.#transport = transport;
    this.#deps = deps;
    this.#arm(deps.handshakeTimeoutMs, () => this.#handshakeTimeout());
  }

  get state(): SessionState {
    return this.#state;
  }

  get recordingId(): string | undefined {
    return this.#recording?.id;
  }

  /** A frame from the client. Handled strictly in order, one async step at a time. */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#state === 'closed' || this.#state === 'ending') return;
    if (!isBinary && data.length > this.#deps.maxTextFrameBytes) {
      this.#fail(
        new AppError('payload_too_large', `text messages are limited to ${this.#deps.maxTextFrameBytes} bytes`),
      );
      return;
    }
    this.#queue = this.#queue.then(() => this.#handle(data, isBinary)).catch((error: unknown) => this.#fail(error));
  }

  /** The socket closed (RFC 6455 §7.1.5 code; 1005 no code, 1006 no close frame). */
  onClose(code: number): void {
    const previous = this.#state;
    if (previous === 'closed') return;
    this.#clientClose = code;
    if (previous === 'ending' || previous === 'starting' || previous === 'authenticating') {
      // The running step sees #clientClose and finishes the job; an ending recording keeps finalising.
      if (previous === 'ending') this.#setClosed();
      return;
    }
    this.#setClosed();
    if (previous === 'recording' && this.#recording) this.#release(code);
  }

  // ---- AttachedClient ----

  ack(bytes: number): void {
    if (this.#ack && this.#state === 'recording') this.#transport.send({ status: 'ack', bytes });
  }

  committed(bytes: number): void {
    if (this.#commit && this.#state === 'recording') this.#transport.send({ status: 'committed', bytes });
  }

  pause(): void {
    this.#transport.pause();
  }

  resume(): void {
    this.#transport.resume();
  }

  end(saved: Promise<SavedResult> | null, close: { code: number; reason: string; error?: ErrorCode }): void {
    if (this.#state === 'closed' || this.#state === 'ending') return;
    this.#state = 'ending';
    this.#clearTimer();
    if (close.error) this.#transport.send({ status: 'error', error: close.error, message: close.reason });
    void (async () => {
      let code = close.code;
      let reason = closeReason(close.reason);
      if (saved) {
        try {
          const result = await saved;
          // A refusal already said why (close.error); saying it twice helps nobody.
          if (!(result.status === 'failed' && result.errorCode === close.error)) this.#sendSaved(result);
          // Not saved after all (storage down, media refused): the close says so, not the planned code.
          if (result.status === 'failed' || result.status === 'pending') ({ code, reason } = closeFor(result));
        } catch (error) {
          this.#deps.onError?.(error, 'finalising a live recording');
        }
      }
      this.#transport.close(code, reason);
      this.#setClosed();
    })();
  }

  /** Server shutdown: sessions still in the handshake just close (recordings end via their recording). */
  goingAway(): void {
    if (this.#state === 'closed' || this.#state === 'recording' || this.#state === 'ending') return;
    this.#transport.close(CloseCode.goingAway, 'server shutting down');
    if (this.#state !== 'starting') this.#setClosed();
    else this.#clientClose = 1001;
  }

  // ---- message handling ----

  async #handle(data: Buffer, isBinary: boolean): Promise<void> {
    switch (this.#state) {
      case 'awaiting_token':
        return this.#onToken(data, isBinary);
      case 'awaiting_metadata':
        return this.#onMetadata(data, isBinary);
      case 'recording':
        return isBinary ? this.#onAudio(data) : this.#onAction(data.toString('utf8'));
      default:
        return; // closed or ending: late frames are ignored
    }
  }

  async #onToken(data: Buffer, isBinary: boolean): Promise<void> {
    if (isBinary)
      throw new AppError('invalid_token', 'the first message must be {"token": "<access token>"}, not audio');
    const { token } = parseAuth(data.toString('utf8'));
    this.#state = 'authenticating';
    this.#principal = await this.#deps.authenticate(token);
    if (this.#clientClose !== undefined) return this.#setClosed();
    this.#state = 'awaiting_metadata';
    this.#transport.send({ status: 'authenticated' });
    this.#arm(this.#deps.handshakeTimeoutMs, () => this.#handshakeTimeout());
  }

  async #onMetadata(data: Buffer, isBinary: boolean): Promise<void> {
    if (isBinary) {
      throw new AppError('bad_request', 'send the recording metadata {"name", "meeting_link", "org_id"} before audio');
    }
    const message = parseStartOrResume(data.toString('utf8'));
    const principal = this.#principal as Principal;
    this.#state = 'starting';
    this.#clearTimer();
    this.#ack = message.ack;
    this.#commit = message.commit;
    if (isResume(message)) {
      const { handle, bytes, durable, committed } = await this.#deps.resume(principal, message, this);
      if (this.#attach(handle)) {
        this.#transport.send({ status: 'recording_resumed', recording_id: handle.id, bytes, committed });
        this.ack(durable);
      }
    } else {
      const { handle, filename } = await this.#deps.start(principal, message, this);
      if (this.#attach(handle)) {
        this.#transport.send({ status: 'recording_started', filename, recording_id: handle.id });
      }
    }
  }

  /** Takes the recording; false if the client left (or a takeover ended us) while it was being set up. */
  #attach(handle: RecordingHandle): boolean {
    this.#recording = handle;
    if (this.#state === 'starting' && this.#clientClose === undefined) {
      this.#state = 'recording';
      this.#arm(this.#deps.idleTimeoutMs, () => this.#idleTimeout());
      return true;
    }
    // Closed meanwhile (by the client or a shutdown): the recording must not be orphaned.
    this.#setClosed();
    this.#release(this.#clientClose ?? 1006);
    return false;
  }

  #onAudio(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#arm(this.#deps.idleTimeoutMs, () => this.#idleTimeout());
    this.#recording?.append(chunk);
  }

  async #onAction(text: string): Promise<void> {
    const action = parseAction(text);
    if (action?.action === 'ping') {
      this.#arm(this.#deps.idleTimeoutMs, () => this.#idleTimeout());
      this.#transport.send({ status: 'pong' });
      return;
    }
    if (action?.action === 'stop') {
      this.#state = 'ending';
      this.#clearTimer();
      const saved = await (this.#recording as RecordingHandle).finalise();
      this.#sendSaved(saved);
      const close = closeFor(saved);
      this.#transport.close(close.code, close.reason);
      this.#setClosed();
      return;
    }
    // Unknown messages are answered, never fatal: newer clients may send things this server ignores.
    this.#transport.send({
      status: 'error',
      error: 'bad_request',
      message: 'while recording, text messages are {"action": "stop"} or {"action": "ping"}',
    });
  }

  #sendSaved(saved: SavedResult): void {
    if (saved.status === 'ready' || saved.status === 'processing') {
      this.#transport.send({
        status: 'recording_saved',
        recording_id: saved.recordingId,
        duration: saved.durationSec,
        bytes: saved.bytes,
        ...(saved.status === 'processing' ? { processing: true as const } : {}),
      });
    } else {
      this.#transport.send({
        status: 'error',
        error: saved.errorCode ?? 'internal',
        message: saved.error ?? 'the recording could not be processed',
      });
    }
  }

  // ---- endings ----

  #release(closeCode: number): void {
    const recording = this.#recording as RecordingHandle;
    if (FINAL_CLIENT_CLOSE_CODES.has(closeCode)) {
      recording.finalise().catch((error: unknown) => this.#deps.onError?.(error, 'finalising a live recording'));
    } else {
      recording.detach(this);
    }
  }

  #handshakeTimeout(): void {
    if (this.#state !== 'awaiting_token' && this.#state !== 'awaiting_metadata') return;
    const what = this.#state === 'awaiting_token' ? 'access token' : 'recording metadata';
    const seconds = this.#deps.handshakeTimeoutMs / 1000;
    this.#fail(new AppError('handshake_timeout', `no ${what} within ${seconds} s`));
  }

  #idleTimeout(): void {
    if (this.#state !== 'recording') return;
    const seconds = this.#deps.idleTimeoutMs / 1000;
    this.#fail(new AppError('idle_timeout', `no audio or ping for ${seconds} s; resume to continue`));
  }

  #fail(error: unknown): void {
    if (this.#state === 'closed') return;
    const described = describeError(error);
    if (described.code === 'internal') this.#deps.onError?.(error, 'live session');
    const wasRecording = this.#state === 'recording';
    this.#transport.send({ status: 'error', error: described.code, message: described.message });
    this.#transport.close(described.closeCode, closeReason(described.message));
    this.#setClosed();
    // A failing connection never loses the recording: it stays resumable for the grace period.
    if (wasRecording && this.#recording) this.#recording.detach(this);
  }

  #arm(ms: number, fire: () => void): void {
    this.#clearTimer();
    this.#timer = setTimeout(fire, ms);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #setClosed(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#clearTimer();
    this.#deps.onClosed?.();
  }
}

/** How a stop ends the connection: 1000 once saved, else the code of what went wrong (errors table). */
function closeFor(saved: SavedResult): { code: number; reason: string } {
  if (saved.status === 'ready' || saved.status === 'processing') return { code: CloseCode.normal, reason: '' };
  const code = saved.errorCode ?? 'internal';
  return { code: ERRORS[code].ws, reason: closeReason(saved.error ?? '') };
}
