/**
 * Adapts the reusable protocol client (`@earshot/live-client`) to the record panel: a fresh access token
 * on every (re)connect, callbacks for acks and reconnects, failures turned into sentences, and the
 * audio not yet acknowledged kept in IndexedDB, so a recording interrupted by a reload (or a crash) is
 * finished by the next page load with nothing lost (finishInterrupted).
 */
import {
  CloseCode,
  LIVE_PATH,
  LiveRecordingClient,
  LiveRecordingError,
  type SavedRecording,
  type UnackedStore,
} from '@earshot/live-client';
import { IndexedDbUnackedStore } from '@earshot/live-client/indexeddb';
import { type ApiClient, ApiError } from './api.ts';

export interface LiveLinkOptions {
  name: string;
  meetingLink: string | null;
  orgId: string;
  /** What the page sends (encoding.ts): {} for a container, `{format: 'opus'}` for raw Opus. */
  format: { format?: 'opus' };
  onAck(bytes: number): void;
  /** The server has this much in its object storage: it survives the loss of the node holding the session. */
  onCommitted(bytes: number): void;
  onReconnecting(): void;
  onReconnected(): void;
  /**
   * The session ended without our stop and cannot continue (text for people). `saved`: the server saved
   * everything it received (it is shutting down, or the recording reached its limit); otherwise it failed.
   */
  onFatal(text: string, saved: boolean): void;
  /** Keeps the audio not yet acknowledged (default: in memory only). */
  store?: UnackedStore | null;
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

export const liveUrl = (): string => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${LIVE_PATH}`;

/** The audio the server has not acknowledged yet, per signed-in user, in this browser (null without IndexedDB). */
export const keptAudioStore = (userId: string): UnackedStore | null =>
  typeof indexedDB === 'undefined' ? null : new IndexedDbUnackedStore(`earshot-unacked-${userId}`);

/**
 * The tab recording holds this Web Lock until its session ends (the browser lets go of it when the tab
 * closes or reloads): a recording in the store whose lock is free was interrupted, not live elsewhere.
 */
const recordingLock = (recordingId: string): string => `earshot-recording-${recordingId}`;

/** Holds the recording's lock until `released` settles (where the browser has Web Locks). */
function holdRecordingLock(recordingId: string, released: Promise<unknown>): void {
  void navigator.locks?.request(recordingLock(recordingId), () => released).catch(() => {});
}

/** A fresh access token for every (re)connect; signed out or expired ends the session. */
const tokenFor = (api: ApiClient) => async (): Promise<string> => {
  // Signed out or the session expired: end it. Any other failure (the refresh could not reach the
  // server) is retried like a failed connection.
  try {
    return await api.accessToken();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw new LiveRecordingError(error.code, error.message, 0);
    throw error;
  }
};

export type InterruptedOutcome =
  | { recordingId: string; saved: SavedRecording }
  /** The server had already finished it (its grace period ended): what it had is saved, the rest is gone. */
  | { recordingId: string; finishedEarlier: true }
  /** It could not be finished now (no network?): it stays in the store for the next page load. */
  | { recordingId: string; error: string };

/**
 * Finishes the recordings an earlier page of this user left in `store` (reloaded or closed while
 * recording): each is resumed, the audio the server had not acknowledged is sent from its byte count,
 * and it is stopped and saved. Recordings another tab is still recording are left alone (no outcome).
 */
export async function finishInterrupted(
  api: ApiClient,
  store: UnackedStore,
  onFinishing: (recordingId: string) => void,
): Promise<InterruptedOutcome[]> {
  const outcomes: InterruptedOutcome[] = [];
  for (const { recordingId } of await store.sessions()) {
    const finish = async (): Promise<InterruptedOutcome> => {
      onFinishing(recordingId);
      const client = new LiveRecordingClient({
        url: liveUrl(),
        token: tokenFor(api),
        resumeRecordingId: recordingId,
        store,
        reconnectForMs: RECONNECT_FOR_MS,
      });
      try {
        await client.start();
        return { recordingId, saved: await client.stop() };
      } catch (error) {
        if (error instanceof LiveRecordingError) {
          // The client let go of the store's audio: nothing can resume this recording any more.
          if (error.closeCode === CloseCode.finished || error.closeCode === CloseCode.notFound) {
            return { recordingId, finishedEarlier: true };
          }
          return { recordingId, error: describeLiveFailure(error.code, error.message, error.closeCode, true) };
        }
        return { recordingId, error: error instanceof Error ? error.message : String(error) };
      }
    };
    // Without Web Locks there is no telling a live recording in another tab from an interrupted one.
    const outcome = navigator.locks
      ? await navigator.locks.request(recordingLock(recordingId), { ifAvailable: true }, (lock) =>
          lock ? finish() : null,
        )
      : null;
    if (outcome) outcomes.push(outcome);
  }
  return outcomes;
}

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
    token: tokenFor(api),
    ...(options.store ? { store: options.store } : {}),
    metadata: { name: options.name, meeting_link: options.meetingLink, org_id: options.orgId, ...options.format },
    reconnectForMs: RECONNECT_FOR_MS,
    onEvent(event) {
      switch (event.type) {
        case 'ack':
          options.onAck(event.bytes);
          break;
        case 'committed':
          options.onCommitted(event.bytes);
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
  if (client.recordingId) {
    const ended = new Promise((resolve) => client.on('ended', resolve));
    holdRecordingLock(client.recordingId, ended);
  }
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
