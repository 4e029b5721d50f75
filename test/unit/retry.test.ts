import { describe, expect, it } from 'vitest';
import { RapflowError } from '../../src/errors.js';
import { backoffDelay, RetryInterrupted, withRetry, type RetryPolicy } from '../../src/retry.js';

const policy: RetryPolicy = { attempts: 4, initialDelayMs: 100, maxDelayMs: 350 };
const noSleep = { sleep: () => Promise.resolve() };

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, scaled by the jitter', () => {
    expect([0, 1, 2, 3].map((r) => backoffDelay(policy, r, () => 0.999999))).toEqual([99, 199, 349, 349]);
    expect(backoffDelay(policy, 3, () => 0)).toBe(0);
  });
});

describe('withRetry', () => {
  it('retries retryable errors and returns the first success', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetry(
      () => {
        calls++;
        if (calls < 3) return Promise.reject(new RapflowError('KAFKA_UNAVAILABLE', 'down'));
        return Promise.resolve('ok');
      },
      policy,
      { ...noSleep, random: () => 0.5, onRetry: (_e, _a, d) => delays.push(d) },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(delays).toEqual([50, 100]);
  });

  it('gives up after the bounded number of attempts with the last error', async () => {
    let calls = 0;
    const err = new RapflowError('SINK_UNAVAILABLE', 'overloaded');
    await expect(
      withRetry(() => {
        calls++;
        return Promise.reject(err);
      }, policy, noSleep),
    ).rejects.toBe(err);
    expect(calls).toBe(4);
  });

  it.each([new RapflowError('INPUT_INVALID', 'bad'), new RapflowError('SINK_AUTH_FAILED', 'no'), new Error('unknown')])(
    'never retries %s',
    async (err) => {
      let calls = 0;
      await expect(
        withRetry(() => {
          calls++;
          return Promise.reject(err);
        }, policy, noSleep),
      ).rejects.toBe(err);
      expect(calls).toBe(1);
    },
  );
});

describe('withRetry and a stop', () => {
  it('a stop ends the wait between attempts at once, with RetryInterrupted carrying the last error', async () => {
    const stop = new AbortController();
    let attempts = 0;
    const pending = withRetry(
      () => {
        attempts++;
        return Promise.reject(new RapflowError('SINK_UNAVAILABLE', 'down'));
      },
      { attempts: 10, initialDelayMs: 60_000, maxDelayMs: 60_000 },
      { signal: stop.signal, random: () => 1 },
    );
    await new Promise((r) => setImmediate(r));
    stop.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryInterrupted);
    expect((err as RetryInterrupted).last).toMatchObject({ code: 'SINK_UNAVAILABLE' });
    expect(attempts).toBe(1);
  });

  it('after a stop nothing more is attempted; a non-retryable error is thrown as it is', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(withRetry(() => Promise.reject(new RapflowError('SINK_UNAVAILABLE', 'down')), { attempts: 3, initialDelayMs: 0, maxDelayMs: 0 }, { signal: stop.signal })).rejects.toBeInstanceOf(RetryInterrupted);
    await expect(withRetry(() => Promise.reject(new RapflowError('CONFIG_INVALID', 'bad')), { attempts: 3, initialDelayMs: 0, maxDelayMs: 0 }, { signal: stop.signal })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
