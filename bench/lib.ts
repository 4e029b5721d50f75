// Helpers shared by the benchmarks: the local stack's config, timing, and a printed table.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CompressionTypes, Partitioners, type Kafka } from 'kafkajs';
import type { OutRecord, ProducerTuning } from '../src/transport/kafka.js';
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

/** CPU seconds (user + system) used so far by each local service and by this process. */
export function cpuSeconds(): Record<string, number> {
  const tick = 100; // USER_HZ on Linux
  const out: Record<string, number> = {};
  const state = config.stack.state ?? `${process.env.HOME}/.cache/rapflow/state`;
  for (const svc of ['kafka', 'registry', 'minio', 'cassandra']) {
    try {
      const { pid } = JSON.parse(readFileSync(`${state}/run/${svc}.pid`, 'utf8')) as { pid: number };
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
      out[svc] = (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      out[svc] = Number.NaN;
    }
  }
  const u = process.cpuUsage();
  out.rapflow = (u.user + u.system) / 1e6;
  return out;
}

export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
}

/**
 * The producer's ceiling: a bare kafkajs transactional producer sending already-encoded records,
 * one transaction per file, with the same batching rapflow uses. Returns the seconds it took.
 */
export async function bareProduce(kafka: Kafka, tuning: ProducerTuning, input: OutRecord[][]): Promise<number> {
  const producer = kafka.producer({ transactionalId: unique('bench-baseline'), idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const { seconds } = await timed(async () => {
      for (const file of input) {
        const tx = await producer.transaction();
        for (let i = 0; i < file.length; i += tuning.chunk) {
          const byTopic = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
          for (const r of file.slice(i, i + tuning.chunk)) {
            const list = byTopic.get(r.topic) ?? [];
            list.push({ key: r.key, value: r.value, headers: r.headers });
            byTopic.set(r.topic, list);
          }
          await tx.sendBatch({ acks: -1, compression: tuning.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        }
        await tx.commit();
      }
    });
    return seconds;
  } finally {
    await producer.disconnect();
  }
}
