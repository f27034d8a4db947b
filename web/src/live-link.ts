/**
 * Adapts the reusable protocol client (live-client.ts) to the record panel: a fresh access token on
 * every (re)connect, callbacks for acks and reconnects, and failures turned into sentences.
 */

import { LiveRecordingClient, LiveRecordingError } from '@earshot/live-client';
import { type ApiClient, ApiError } from './api.ts';

export interface LiveLinkOptions {
  name: string;
  meetingLink: string | null;
  orgId: string;
  /** What the page sends (encoding.ts): {} for a container, `{format: 'opus'}` for raw Opus. */
  format: { format?: 'opus' };
  onAck(bytes: number): void;
  onReconnecting(): void;
  onReconnected(): void;
  /**
   * The session ended without our stop and cannot continue (text for people). `saved`: the server saved
   * everything it received (it is shutting down, or the recording reached its limit); otherwise it failed.
   */
  onFatal(text: string, saved: boolean): void;
}

export interface LiveLink {
  readonly recordingId: string;
  /** False (and the chunk is dropped) once the session has ended or is stopping. */
  send(chunk: Blob | Uint8Array): boolean;
  /** Sends everything buffered, asks the server to save, resolves when it has. */
  stop(): Promise<{ recordingId: string; duration: number | null; bytes: number }>;
  abort(): void;
}

/** How long to keep trying after a drop; under the server's resume grace period (120 s by default). */
const RECONNECT_FOR_MS = 100_000;

export const liveUrl = (): string =>
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws/record`;

/** What a failed live session means for the person recording. */
export function describeLiveFailure(error: string, message: string, closeCode: number, started: boolean): string {
  const detail = message ? ` (${message})` : '';
  if (error === 'invalid_token' || error === 'unauthenticated') {
    return 'The server did not accept your sign-in for recording. Sign out and in again, then retry.';
  }
  switch (closeCode) {
    case 1009:
      return 'The server refused an audio chunk that was too large.';
    case 1013:
      return 'The server is busy. Try again in a moment.';
    case 4404:
      return 'The server had already closed this recording (the connection was gone too long). What it received is saved.';
    case 4409:
      return 'This recording was continued from another window.';
    case 4413:
      return error === 'recording_too_large'
        ? 'The recording reached the server’s maximum size. What was recorded is saved; start a new recording to continue.'
        : 'The recording reached the server’s maximum length. What was recorded is saved; start a new recording to continue.';
    case 4415:
    case 4422:
      return `The server could not decode this browser’s audio${detail}.`;
    case 4429:
      return 'You have too many recordings running at once. Stop one and try again.';
    case 1008:
      return `The server refused the recording${detail}.`;
  }
  if (!started) return "Can't reach the server to start recording. Check your connection and try again.";
  return `The connection to the server was lost for too long, so recording stopped. What reached the server is saved${detail}.`;
}

export async function openLiveLink(api: ApiClient, options: LiveLinkOptions): Promise<LiveLink> {
  let started = false;
  let stopping = false;
  const client = new LiveRecordingClient({
    url: liveUrl(),
    // Signed out or the session expired: end it. Any other failure (the refresh could not reach the
    // server) is retried like a failed connection.
    token: async () => {
      try {
        return await api.accessToken();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401)
          throw new LiveRecordingError(error.code, error.message, 0);
        throw error;
      }
    },
    metadata: { name: options.name, meeting_link: options.meetingLink, org_id: options.orgId, ...options.format },
    reconnectForMs: RECONNECT_FOR_MS,
    onEvent(event) {
      switch (event.type) {
        case 'ack':
          options.onAck(event.bytes);
          break;
        case 'reconnecting':
          options.onReconnecting();
          break;
        case 'resumed':
          options.onAck(event.bytes);
          options.onReconnected();
          break;
        case 'ended':
          // Before the start and while stopping, start() or stop() tells the panel; an abort is ours.
          if (!started || stopping || event.reason === 'aborted' || event.reason === 'stopped') break;
          if (event.reason === 'shutdown') {
            options.onFatal(
              'The server is restarting and saved the recording up to now. Start a new recording to continue.',
              true,
            );
          } else if (event.reason === 'limit') {
            options.onFatal(describeLiveFailure(event.error ?? '', event.message, event.code, true), true);
          } else {
            options.onFatal(describeLiveFailure(event.error ?? '', event.message, event.code, true), false);
          }
          break;
      }
    },
  });

  const friendly = (error: unknown): Error =>
    error instanceof LiveRecordingError
      ? new Error(describeLiveFailure(error.code, error.message, error.closeCode, started))
      : error instanceof Error
        ? error
        : new Error(String(error));

  try {
    await client.start();
  } catch (error) {
    throw friendly(error);
  }
  started = true;
  return {
    get recordingId() {
      return client.recordingId ?? '';
    },
    send(chunk) {
      return client.send(chunk);
    },
    async stop() {
      stopping = true;
      try {
        return await client.stop();
      } catch (error) {
        throw friendly(error);
      }
    },
    abort() {
      client.abort();
    },
  };
}
