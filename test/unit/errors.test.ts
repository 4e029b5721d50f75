import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classify, ERROR_CODES, exitCodeOf, RapflowError } from '../../src/errors.js';

class SubError extends RapflowError {}

describe('RapflowError', () => {
  it('takes its name from the class, including subclasses', () => {
    expect(new RapflowError('INTERNAL', 'x').name).toBe('RapflowError');
    expect(new SubError('INTERNAL', 'x').name).toBe('SubError');
  });

  it('keeps cause and context', () => {
    const cause = new Error('socket hang up');
    const err = new RapflowError('KAFKA_UNAVAILABLE', 'brokers down', { cause, context: { topic: 'rap.songs', partition: 2 } });
    expect(err.cause).toBe(cause);
    expect(err.context).toEqual({ topic: 'rap.songs', partition: 2 });
  });
});

describe('classify and exit codes', () => {
  it.each([
    ['KAFKA_UNAVAILABLE', 'retryable', 75],
    ['SINK_UNAVAILABLE', 'retryable', 75],
    ['INPUT_INVALID', 'poison', 1],
    ['RECORD_UNDECODABLE', 'poison', 1],
    ['CONFIG_INVALID', 'fatal', 78],
    ['SINK_AUTH_FAILED', 'fatal', 1],
  ] as const)('%s is %s with exit %i', (code, behaviour, exit) => {
    const err = new RapflowError(code, 'm');
    expect(classify(err)).toBe(behaviour);
    expect(exitCodeOf(err)).toBe(exit);
  });

  it('treats errors that were never translated as fatal bugs, never retryable', () => {
    expect(classify(new Error('ECONNRESET'))).toBe('fatal');
    expect(classify('a string')).toBe('fatal');
    expect(exitCodeOf(new TypeError('x'))).toBe(1);
  });
});

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| ([a-z]+)/gm)].map((m) => [m[1], m[2]] as const);

  it('has exactly one row per error code, in the same order', () => {
    expect(rows.map(([code]) => code)).toEqual(Object.keys(ERROR_CODES));
  });

  it('states the behaviour each code really has', () => {
    for (const [code, behaviour] of rows) {
      expect(behaviour, code).toBe(ERROR_CODES[code as keyof typeof ERROR_CODES].behaviour);
    }
  });
});
