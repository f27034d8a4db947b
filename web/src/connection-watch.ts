/**
 * Is the recording reaching the server? Told when each chunk was handed to the live client and how far
 * the server has acknowledged, it answers from the age of the oldest chunk still unacknowledged.
 *
 * Acknowledgements, not the socket, are the evidence: a browser gone offline (or a network that drops
 * packets silently) can leave a WebSocket open for a long time with nothing getting through, and
 * `navigator.onLine` only knows about the local link. The server acknowledges each chunk once it is on
 * disk, within a second when things are well (docs/live-protocol.md), so a chunk waiting several seconds
 * means a slow connection, and one waiting longer means none. Pure and clock-free (callers pass the
 * time, `performance.now()` in the page), so it runs in Node's test runner too.
 *
 * Wiring, in the recorder (recorder.ts): one watcher per recording; `sent(byteOffsetAfterChunk, now)` for each chunk
 * handed to the live client, `acked(bytes, now)` in its ack callback, and `report(now, navigator.onLine)`
 * on the panel's clock tick, its `text` in the status line and its `state` on the panel (data-connection).
 */

export type ConnectionState = 'connected' | 'slow' | 'offline';

export interface ConnectionReport {
  state: ConnectionState;
  /** What to tell the person recording. */
  text: string;
  /** Bytes recorded but not yet acknowledged: kept only in this page. */
  unconfirmedBytes: number;
  /** How long the oldest of them has waited, ms (0 when none). */
  waitingMs: number;
}

export interface ConnectionWatcherOptions {
  /** The oldest unacknowledged chunk has waited this long: the connection is slow. */
  slowAfterMs?: number;
  /** … this long: the connection is lost. */
  offlineAfterMs?: number;
}

export interface ConnectionWatcher {
  /** A chunk was handed to the live client; `end` is the byte offset just after it. */
  sent(end: number, now: number): void;
  /** The server acknowledged every byte before `bytes`. */
  acked(bytes: number, now: number): void;
  /** The state at `now`; `online` is the browser's `navigator.onLine`. */
  report(now: number, online: boolean): ConnectionReport;
}

const TEXT: Record<ConnectionState, string> = {
  connected: 'Connected: audio is saved on the server as it is recorded.',
  slow: 'The connection is slow: audio not yet saved on the server is kept in this browser.',
  offline: 'Connection lost: audio is kept in this browser until the connection returns; nothing is lost.',
};

export function connectionWatcher(options: ConnectionWatcherOptions = {}): ConnectionWatcher {
  const slowAfterMs = options.slowAfterMs ?? 4000;
  const offlineAfterMs = options.offlineAfterMs ?? 10_000;
  /** End offset and hand-over time of each chunk not yet acknowledged, oldest first. */
  const pending: { end: number; at: number }[] = [];
  let sentBytes = 0;
  let ackedBytes = 0;

  return {
    sent(end, now) {
      if (end <= sentBytes) return;
      sentBytes = end;
      if (end > ackedBytes) pending.push({ end, at: now });
    },
    acked(bytes) {
      ackedBytes = Math.max(ackedBytes, bytes);
      while (pending.length > 0 && pending[0]!.end <= ackedBytes) pending.shift();
    },
    report(now, online) {
      const oldest = pending[0];
      const waitingMs = oldest ? Math.max(0, now - oldest.at) : 0;
      const unconfirmedBytes = Math.max(0, sentBytes - ackedBytes);
      // Offline with nothing waiting still deserves the warning: the next chunk will wait.
      const state: ConnectionState =
        !online || waitingMs >= offlineAfterMs ? 'offline' : waitingMs >= slowAfterMs ? 'slow' : 'connected';
      return { state, text: TEXT[state], unconfirmedBytes, waitingMs };
    },
  };
}
