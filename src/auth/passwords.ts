import { randomBytes } from 'node:crypto';
import { type Algorithm, hash, parseOptions, verify } from '@node-rs/argon2';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

/**
 * Argon2id password hashing (OWASP password storage cheat sheet; RFC 9106). @node-rs/argon2 computes on
 * libuv's thread pool, so hashing never blocks the event loop; the pool below bounds how many hashes
 * run (each takes `memoryKiB` of memory) and how many wait, so a burst of logins is answered with 503
 * instead of exhausting memory or queueing for minutes.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a stored value that is not a usable hash. */
  verify(storedHash: string, password: string): Promise<boolean>;
  /**
   * Spends the same work as `verify` against a throw-away hash: used when the account does not exist,
   * so that "no such user" and "wrong password" cannot be told apart by timing.
   */
  verifyDummy(password: string): Promise<void>;
  /** True when the stored hash is not Argon2id or was made with weaker parameters than the config. */
  needsRehash(storedHash: string): boolean;
}

// A `const enum` in the package's types; the value is Argon2id.
const ARGON2ID = 2 as Algorithm;
const BUSY_RETRY_AFTER_SEC = 1;

export function createPasswordHasher(argon2: Config['argon2']): PasswordHasher {
  const options = {
    algorithm: ARGON2ID,
    memoryCost: argon2.memoryKiB,
    timeCost: argon2.timeCost,
    parallelism: argon2.parallelism,
  };
  const pool = createBoundedPool(argon2.maxConcurrent, argon2.maxQueued);
  let dummyHash: Promise<string> | undefined;

  const verifyHash = async (storedHash: string, password: string): Promise<boolean> => {
    try {
      return await verify(storedHash, password);
    } catch {
      return false;
    }
  };

  return {
    hash: (password) => pool.run(() => hash(password, options)),

    verify: (storedHash, password) => pool.run(() => verifyHash(storedHash, password)),

    async verifyDummy(password) {
      // Made once, lazily, with the current parameters, so it costs what a real verification costs.
      dummyHash ??= hash(randomBytes(32).toString('base64url'), options);
      const stored = await dummyHash;
      await pool.run(() => verifyHash(stored, password));
    },

    needsRehash(storedHash) {
      try {
        const current = parseOptions(storedHash);
        return (
          current.algorithm !== ARGON2ID ||
          current.memoryCost < argon2.memoryKiB ||
          current.timeCost < argon2.timeCost ||
          current.parallelism < argon2.parallelism
        );
      } catch {
        return true;
      }
    },
  };
}

export interface BoundedPool {
  /** Runs `task` when a slot is free; rejects at once with `busy` when the waiting line is full. */
  run<T>(task: () => Promise<T>): Promise<T>;
}

/** At most `maxConcurrent` tasks at once and `maxQueued` waiting (first come, first served). */
export function createBoundedPool(maxConcurrent: number, maxQueued: number): BoundedPool {
  let active = 0;
  const waiting: (() => void)[] = [];

  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active -= 1;
  };

  return {
    async run(task) {
      if (active < maxConcurrent) {
        active += 1;
      } else if (waiting.length < maxQueued) {
        // The slot is handed over by `release` without decrementing `active`.
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        throw new AppError('busy', 'the server is busy checking passwords; retry shortly', {
          retryAfter: BUSY_RETRY_AFTER_SEC,
        });
      }
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
