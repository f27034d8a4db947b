/**
 * Counts attempts per key (here: a normalised e-mail address) in fixed windows. Per-IP limits alone
 * do not stop credential stuffing spread over many addresses against one account; this does.
 * In memory, so per process: a deployment with several instances puts a shared store behind the same
 * interface.
 */
export interface AttemptLimiter {
  /** Records one attempt for `key`; `allowed` is false once the window's budget is spent. */
  consume(key: string): { allowed: true } | { allowed: false; retryAfterSec: number };
  close(): void;
}

export interface WindowLimiterOptions {
  max: number;
  windowMs: number;
  /** Bounds memory under a flood of distinct keys; the oldest windows are dropped first. */
  maxKeys?: number;
  now?: () => number;
}

export function createWindowLimiter(options: WindowLimiterOptions): AttemptLimiter {
  const { max, windowMs, maxKeys = 100_000, now = Date.now } = options;
  // Map iteration order is insertion order, so the first entries are the oldest windows.
  const windows = new Map<string, { count: number; resetAt: number }>();

  const sweep = () => {
    const time = now();
    for (const [key, window] of windows) {
      if (window.resetAt <= time) windows.delete(key);
    }
  };
  const timer = setInterval(sweep, Math.max(windowMs, 1000));
  timer.unref();

  return {
    consume(key) {
      const time = now();
      let window = windows.get(key);
      if (!window || window.resetAt <= time) {
        if (window) windows.delete(key);
        if (windows.size >= maxKeys) {
          sweep();
          const oldest = windows.keys().next();
          if (windows.size >= maxKeys && !oldest.done) windows.delete(oldest.value);
        }
        window = { count: 0, resetAt: time + windowMs };
        windows.set(key, window);
      }
      window.count += 1;
      if (window.count > max) {
        return { allowed: false, retryAfterSec: Math.max(1, Math.ceil((window.resetAt - time) / 1000)) };
      }
      return { allowed: true };
    },
    close() {
      clearInterval(timer);
      windows.clear();
    },
  };
}
