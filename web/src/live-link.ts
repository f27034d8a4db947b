/**
 * Adapts the reusable protocol client (live-client.ts) to the record panel: a fresh access token on
 * every (re)connect, callbacks for acks and reconnects, and failures turned into sentences.
 */
import type { ApiClient } from './api.ts';
import { LiveRecordingClient, LiveRecordingError } from './live-client.ts';

export interface LiveLinkOptions {
  name: string;
  meetingLink: string | null;
  orgId: string | null;
  onAck(bytes: number): void;
  onReconnecting(): void;
  onReconnected(): void;
  /** The session ended and cannot continue (text for people). */
  onFatal(text: string): void;
}

export interface LiveLink {
  readonly recordingId: string;
  send(chunk: Blob): void;
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
      return 'The recording reached the server’s maximum length. What was recorded is saved.';
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
    token: () => api.accessToken(),
    metadata: { name: options.name, meeting_link: options.meetingLink, org_id: options.orgId },
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
        case 'saved':
          // Saved without our stop: the server is shutting down (close 1001) and kept what it had.
          if (!stopping) {
            options.onFatal(
              'The server is restarting and saved the recording up to now. Start a new recording to continue.',
            );
          }
          break;
        case 'failed':
          // Before the start, and while stopping, the failure rejects a promise the panel awaits.
          if (started && !stopping) options.onFatal(describeLiveFailure(event.error, event.message, event.code, true));
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
      try {
        client.send(chunk);
      } catch {
        // The session has already ended; onFatal has told the panel.
      }
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
