// Bounded retries with full-jitter exponential backoff, for errors classify() calls retryable.
import { setTimeout as wait } from 'node:timers/promises';
import { classify } from './errors.js';

/**
 * The retrying was cut short by its signal (a consumer told to stop): nothing more was attempted.
 * Not a RapflowError: whoever passed the signal expects it and decides what stopping means.
 */
export class RetryInterrupted extends Error {
  constructor(readonly last: unknown) {
    super('interrupted while waiting to retry', { cause: last });
    this.name = 'RetryInterrupted';
  }
}

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, initialDelayMs: 200, maxDelayMs: 5_000 };

/** Delay before retry number `retry` (0-based): uniform in [0, min(max, initial * 2^retry)]. */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

export interface RetryHooks {
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Aborting it ends a wait between attempts at once, with RetryInterrupted. */
  signal?: AbortSignal;
}

/** Runs `fn`; retries only retryable errors, at most `policy.attempts` times in all. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY, hooks: RetryHooks = {}): Promise<T> {
  const { signal } = hooks;
  const sleep = hooks.sleep ?? ((ms: number) => wait(ms, undefined, signal ? { signal } : {}));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (classify(err) !== 'retryable' || attempt >= policy.attempts) throw err;
      if (signal?.aborted) throw new RetryInterrupted(err);
      const delay = backoffDelay(policy, attempt - 1, hooks.random);
      hooks.onRetry?.(err, attempt, delay);
      try {
        await sleep(delay);
      } catch (abort) {
        if (signal?.aborted) throw new RetryInterrupted(err);
        throw abort;
      }
      if (signal?.aborted) throw new RetryInterrupted(err);
    }
  }
}
