// Numeric flags are parsed one way everywhere: a bad value is CONFIG_INVALID (exit 78) naming the
// flag, before the command runs anything; never NaN passed on.
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/index.js';

const ctx = { config: loadConfig({}), env: {}, out: () => {}, err: () => {} };

describe('numeric flags', () => {
  it.each([
    ['consume', '--idle-exit', 'abc'],
    ['consume', '--idle-exit', '-1'],
    ['discover', '--max', 'abc', '--out', '/dev/null'],
    ['discover', '--max', '0', '--out', '/dev/null'],
    ['stack', 'logs', 'kafka', '--lines', 'ten'],
    ['generate', '--songs', '1.5', '--out', '/dev/null'],
    ['query', 'songs', '--artist', 'x', '--limit', 'abc'],
    ['verify', '--manifest', 'm.json', '--timeout', 'soon'],
    ['dlq', 'replay', '--batch', '0'],
    ['dlq', 'list', '--read-timeout', 'soon'],
    ['backfill', '--group', 'g', '--idle-exit', 'soon'],
  ])('%s %s %s is refused with the flag named', async (...args) => {
    const flag = args.find((a) => a.startsWith('--') && ['--idle-exit', '--max', '--lines', '--songs', '--limit', '--timeout', '--batch', '--read-timeout'].includes(a))!;
    const value = args[args.indexOf(flag) + 1]!;
    const err = await buildProgram(ctx)
      .parseAsync(['node', 'rapflow', ...args])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID' });
    expect((err as Error).message).toContain(`${flag} ${value}`);
  });
});
