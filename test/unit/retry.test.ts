import { describe, expect, it } from 'vitest';
import { RapflowError } from '../../src/errors.js';
import { backoffDelay, withRetry, type RetryPolicy } from '../../src/retry.js';

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
