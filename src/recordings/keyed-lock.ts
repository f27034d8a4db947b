/** Serialises async work per key (one recording at a time) inside this process. */
export interface KeyedLock {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

export function createKeyedLock(): KeyedLock {
  const tails = new Map<string, Promise<unknown>>();
  return {
    async run(key, work) {
      const previous = tails.get(key) ?? Promise.resolve();
      const current = previous.catch(() => {}).then(work);
      const tail = current.catch(() => {});
      tails.set(key, tail);
      try {
        return await current;
      } finally {
        // Forget the key once nobody queued behind us, so the map does not grow with every recording.
        if (tails.get(key) === tail) tails.delete(key);
      }
    },
  };
}
