// Shared by integration suites: the local stack's endpoints, and unique names so suites can share it.
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/index.js';
import { endpointsFrom, Stack } from '../../src/stack/index.js';

export const config = loadConfig(process.env);
export const endpoints = endpointsFrom(config);

export function testStack(progress: (line: string) => void = () => {}): Stack {
  return new Stack(endpoints, progress, { home: config.stack.home, state: config.stack.state, env: process.env });
}

/** A name no other test run uses: `prefix-<random>`, lower case, valid for topics, buckets and keyspaces (with `sep`). */
export function uniqueName(prefix: string, sep = '-'): string {
  return `${prefix}${sep}${randomBytes(4).toString('hex')}`;
}
