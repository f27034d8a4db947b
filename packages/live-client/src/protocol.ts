/**
 * The live recording protocol at /api/ws/record as it is on the wire: message shapes, close codes and
 * limits, defined once. The server (src/live/protocol.ts, src/errors.ts) imports them from here, so a
 * client built on this package and the server cannot disagree on a number. docs/live-protocol.md
 * describes the same things in prose.
 *
 * The seed's handshake: `{token}` → `authenticated`, `{name, meeting_link, org_id}` → `recording_started`,
 * then binary audio frames. Everything else (acks, stop, ping, resume) is opt-in.
 */

export const LIVE_PATH = '/api/ws/record';

/** RFC 6455 §7.4.1 codes the server uses, plus Earshot's own (4000–4999, RFC 6455 §7.4.2). */
export const CloseCode = {
  /** Recording saved after `{"action":"stop"}`. */
  normal: 1000,
  /** Server shutting down; everything received was saved first (`recording_saved` precedes it). */
  goingAway: 1001,
  /** The client closed without a status (a browser's `close()`): like 1000, "I am done". */
  noStatus: 1005,
  /** Handshake failure: bad/missing/expired token, bad JSON, binary too early, bad metadata, timeout. */
  policyViolation: 1008,
  /** A frame over the size limit (1 MiB binary, 4 KiB text). */
  messageTooBig: 1009,
  /** Unexpected server failure (also a full disk, or a transcription failure). */
  internalError: 1011,
  /** Server overloaded or a dependency unreachable; retry later. */
  tryAgainLater: 1013,
  /** The client closed without stopping (the reference client's abort()): the recording stays resumable. */
  clientAborted: 4000,
  /** `resume` of a recording that is unknown or not yours. */
  notFound: 4404,
  /** No audio for the idle timeout (a `ping` keeps the session alive), or the audio took too long to read; resumable. */
  timeout: 4408,
  /** Another connection (on this node or another) resumed this recording, or its state conflicts; do not reconnect. */
  conflict: 4409,
  /** `resume` of a recording that was already finished (its grace period ended, or it was stopped). */
  finished: 4410,
  /** Maximum duration or size of one recording reached; what was received is saved. */
  limitReached: 4413,
  /** The audio is in a format the server does not take. */
  unsupportedMedia: 4415,
  /** The audio could not be decoded. */
  invalidMedia: 4422,
  /** Too many live sessions for this user (or too many requests). */
  tooManySessions: 4429,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which reconnecting cannot help: the recording is saved, finished or refused. */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.normal,
  CloseCode.policyViolation,
  CloseCode.messageTooBig,
  CloseCode.notFound,
  CloseCode.conflict,
  CloseCode.finished,
  CloseCode.limitReached,
  CloseCode.unsupportedMedia,
  CloseCode.invalidMedia,
  CloseCode.tooManySessions,
]);

/** The server's `error` codes for "a limit of one recording was reached" (what it had is saved). */
export const LIMIT_ERRORS: ReadonlySet<string> = new Set(['recording_too_large', 'media_too_long']);

/** Longest recording name, in characters. */
export const NAME_MAX_CHARS = 200;
/** Longest meeting link, in characters. */
export const MEETING_LINK_MAX_CHARS = 2048;

/** Raw input formats a client may declare (docs/live-protocol.md §3); absent means a container. */
export type LiveInputFormat = 'opus' | 'pcm_s16le' | 'pcm_f32le';

/**
 * Why a session ended (the reference client's `ended` event, emitted exactly once, last):
 * - `stopped`: saved after stop() (`recording_saved`, close 1000).
 * - `shutdown`: saved by the server without a stop because it is shutting down (`recording_saved`, close 1001).
 * - `limit`: saved by the server at its size or duration limit (`recording_saved`, close 4413).
 * - `refused`: the server ended the session with an error (`error`, then a close code after which
 *   reconnecting cannot help, e.g. 1008, 4404, 4409, 4422, 4429), or the `token` function threw;
 *   nothing more can be sent.
 * - `lost`: the server could not be reached (again) within `reconnectForMs`, or the connection dropped with
 *   `resume: false` or before `recording_started`. A started recording is finalised by the server when
 *   its resume grace period ends, with everything it received.
 * - `aborted`: abort() was called (or its AbortSignal fired).
 */
export type LiveEndReason = 'stopped' | 'shutdown' | 'limit' | 'refused' | 'lost' | 'aborted';

// ---- client → server ----

export interface AuthMessage {
  token: string;
}

/** The recording's metadata: the seed's three keys, all required, and the opt-in input format. */
export interface StartMessage {
  /** "" lets the server name it. */
  name: string;
  /** "" or null when there is no meeting. */
  meeting_link: string | null;
  org_id: string;
  /** Opt-in: the server sends `{"status":"ack","bytes":N}` as audio becomes durable on its disk. */
  ack?: boolean;
  /** Opt-in: the server sends `{"status":"committed","bytes":N}` as audio reaches shared storage. */
  commit?: boolean;
  /** Opt-in: raw PCM (with `sample_rate` and `channels`) or Opus packets instead of a container. */
  format?: LiveInputFormat;
  sample_rate?: number;
  channels?: number;
}

/** Continue a recording after a drop; the server answers `recording_resumed` with its byte count. */
export interface ResumeMessage {
  resume: string;
  ack?: boolean;
  commit?: boolean;
}

export type ActionMessage = { action: 'stop' } | { action: 'ping' };

// ---- server → client ----

export type ServerMessage =
  | { status: 'authenticated' }
  | { status: 'recording_started'; filename: string; recording_id: string }
  | { status: 'recording_resumed'; recording_id: string; bytes: number; committed: number }
  | { status: 'ack'; bytes: number }
  | { status: 'committed'; bytes: number }
  | { status: 'pong' }
  | {
      status: 'recording_saved';
      recording_id: string;
      duration: number | null;
      bytes: number;
      /** Present (true) when the audio is stored but its file is still being made (duration null). */
      processing?: true;
    }
  | { status: 'error'; error: string; message: string };
