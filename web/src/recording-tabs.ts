/**
 * Which tabs of this browser are recording, so that signing out in one tab (which signs out all of
 * them, api.ts) can first warn that it ends a recording in another.
 *
 * A recording tab holds a Web Lock named for itself; any tab asks the browser which such locks are
 * held. Locks rather than messages on a BroadcastChannel: the browser releases a tab's locks when the
 * tab closes, crashes or navigates away, so no tab is ever thought to be recording because it could not
 * say it stopped, and asking needs no timeout to wait for answers. Without Web Locks (very old
 * browsers) nothing is announced and no warning is given, as before.
 *
 * main.ts announces through the recorder panel's `onBusyChange` (busy from Start until the recording is
 * saved or has failed); a recorder may also call `announceRecording` itself.
 */

const PREFIX = 'earshot-recording:';
const tabId = crypto.randomUUID();

/** Resolving it releases this tab's lock; set while this tab says it is recording. */
let release: (() => void) | null = null;

/** Tells the other tabs whether this tab is recording (idempotent). */
export function announceRecording(active: boolean): void {
  if (!navigator.locks) return;
  if (active && !release) {
    // The promise exists before the request, so announcing `false` at once still releases the lock.
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    void navigator.locks.request(PREFIX + tabId, () => held);
  } else if (!active && release) {
    release();
    release = null;
  }
}

/** Whether another tab of this browser (same origin) is recording now. */
export async function recordingInAnotherTab(): Promise<boolean> {
  if (!navigator.locks) return false;
  const { held = [] } = await navigator.locks.query();
  return held.some((lock) => lock.name?.startsWith(PREFIX) && lock.name !== PREFIX + tabId);
}
