// Brings the real local stack up once for all integration suites (or reuses a running one).
import { testStack } from './stack.js';

export default async function setup(): Promise<void> {
  const t0 = Date.now();
  const stack = testStack((line) => process.stderr.write(`[stack] ${line}\n`));
  await stack.up();
  process.stderr.write(`[stack] ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  // Left running on purpose: the next run reuses it, and `rapflow stack down` stops it.
}
