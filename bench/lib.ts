// Helpers shared by the benchmarks: the local stack's config, timing, and a printed table.
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config/index.js';
import { endpointsFrom, Stack } from '../src/stack/index.js';

export const config = loadConfig(process.env);

export async function stackUp(): Promise<void> {
  await new Stack(endpointsFrom(config), (l) => process.stderr.write(`[stack] ${l}\n`), { home: config.stack.home, state: config.stack.state, env: process.env }).up();
}

export const unique = (prefix: string, sep = '-') => `${prefix}${sep}${randomBytes(4).toString('hex')}`;

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(2)) : c)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}
