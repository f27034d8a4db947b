/**
 * The committed watermarks of a node's live recordings, written together: a recording's commit stores
 * its segment, then asks here to move its watermark, and the requests of WINDOW_MS share one database
 * transaction. On SQLite every transaction is an fsync on the main thread (synchronous = FULL): one per
 * recording every LIVE_COMMIT_INTERVAL_MS was the largest cost of thousands of live sessions
 * (BENCHMARKS.md, "Live formats"). A commit's watermark is late by WINDOW_MS at most.
 */
import type { Lifecycle } from '../recordings/lifecycle.ts';

/** At 2000 sessions committing every 5 s, about 10 watermarks a transaction, 40 transactions a second. */
const WINDOW_MS = 25;

export interface Watermarks {
  /** Moves the recording's committed watermark to `end`; false when it is fenced (held elsewhere now). */
  advance(recordingId: string, epoch: number, end: number): Promise<boolean>;
}

type Pending = { id: string; epoch: number; end: number; done: (held: boolean) => void; fail: (e: unknown) => void };

export function batchWatermarks(lifecycle: Pick<Lifecycle, 'advanceLiveWatermarks'>): Watermarks {
  let pending: Pending[] = [];
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = false;
    const batch = pending;
    pending = [];
    try {
      const held = await lifecycle.advanceLiveWatermarks(batch.map(({ id, epoch, end }) => ({ id, epoch, end })));
      for (const mark of batch) mark.done(held.has(mark.id));
    } catch (error) {
      for (const mark of batch) mark.fail(error);
    }
  }

  return {
    advance(id, epoch, end) {
      return new Promise((done, fail) => {
        pending.push({ id, epoch, end, done, fail });
        if (!scheduled) setTimeout(() => void flush(), WINDOW_MS);
        scheduled = true;
      });
    },
  };
}
