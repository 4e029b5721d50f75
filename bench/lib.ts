// Helpers shared by the benchmarks: the local stack's config, timing, and a printed table.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../src/config/index.js';
import { endpointsFrom, Stack } from '../src/stack/index.js';
import { processCpuSeconds } from './procs.js';
import { dropKafkajsTimerWarnings } from '../src/runtime/warnings.js';

dropKafkajsTimerWarnings();

export const config = loadConfig(process.env);

export async function stackUp(): Promise<void> {
  await new Stack(endpointsFrom(config), (l) => process.stderr.write(`[stack] ${l}\n`), { home: config.stack.home, state: config.stack.state, env: process.env, nodes: config.stack.nodes }).up();
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

/** The local stack's services, as their pid files name them. */
export const SERVICES = ['kafka', 'cassandra', 'minio', 'registry'] as const;

/** CPU seconds (user + system) used so far by each local service and by this process. */
export function cpuSeconds(): Record<string, number> {
  const out: Record<string, number> = {};
  const state = config.stack.state ?? `${process.env.HOME}/.cache/rapflow/state`;
  for (const svc of SERVICES) {
    try {
      const { pid } = JSON.parse(readFileSync(`${state}/run/${svc}.pid`, 'utf8')) as { pid: number };
      out[svc] = processCpuSeconds(pid);
    } catch {
      out[svc] = Number.NaN;
    }
  }
  const u = process.cpuUsage();
  out.rapflow = (u.user + u.system) / 1e6;
  return out;
}

/**
 * Waits, at most `maxSeconds`, until the local services are quiet (together under `cores` of CPU
 * over one second), so that the flushes and compactions a phase leaves behind are not counted
 * against the next one. Returns the seconds it waited.
 */
export async function settle(maxSeconds = 90, cores = 0.15): Promise<number> {
  const t0 = Date.now();
  let before = cpuSeconds();
  while (Date.now() - t0 < maxSeconds * 1000) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = cpuSeconds();
    const used = SERVICES.reduce((sum, k) => sum + ((now[k] ?? 0) - (before[k] ?? 0)), 0);
    before = now;
    if (used < cores) break;
  }
  return (Date.now() - t0) / 1000;
}

export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
}

/** `name` is the writer's path, e.g. bench/stargate or faults/kafkajs. */
const markers = (name: string) => [`<!-- ${name}: begin (written by ${name.split('/')[0]}; do not edit by hand) -->`, `<!-- ${name}: end -->`] as const;

/** Replaces (or appends) one writer's section of a document, between its markers: several benches (or runs) write one page. */
export function writeSection(file: string, name: string, lines: string[]): void {
  const [begin, end] = markers(name);
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const block = [begin, ...lines, end].join('\n');
  const at = text.indexOf(begin);
  const next = at >= 0 ? `${text.slice(0, at)}${block}${text.slice(text.indexOf(end, at) + end.length)}` : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

/** A section another bench wrote into `file` (markers included), to carry over when this one rewrites the page. */
export function sectionOf(file: string, name: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const [begin, end] = markers(name);
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(begin);
  return at < 0 ? undefined : text.slice(at, text.indexOf(end, at) + end.length);
}
