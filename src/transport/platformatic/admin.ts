// Topic and group administration over @platformatic/kafka's Admin: one client per call.
import { Admin } from '@platformatic/kafka';
import type { TopicSpec } from '../topics.js';
import type { KafkaSettings, LastOffsets } from '../types.js';
import { baseOptions } from './client.js';
import { kafkaError } from './errors.js';

async function withAdmin<T>(settings: KafkaSettings, what: string, use: (admin: Admin) => Promise<T>, retries?: number): Promise<T> {
  const admin = new Admin({ ...baseOptions(settings), ...(retries === undefined ? {} : { retries }) });
  try {
    return await use(admin);
  } catch (err) {
    throw kafkaError(err, what);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

export function ensureTopics(settings: KafkaSettings, specs: TopicSpec[]): Promise<string[]> {
  return withAdmin(settings, 'creating topics', async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.name));
    // One request per topic: partitions, replicas and configs are per request in this client.
    for (const s of missing) {
      await admin.createTopics({
        topics: [s.name],
        partitions: s.partitions,
        replicas: s.replicationFactor ?? -1,
        configs: Object.entries(s.config).map(([name, value]) => ({ name, value })),
      });
    }
    if (missing.length > 0) await waitForLeaders(admin, missing.map((s) => s.name));
    return missing.map((s) => s.name);
  });
}

/** New topics have no leader for a moment; the first produce would fail on it. */
async function waitForLeaders(admin: Admin, topics: string[]): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const meta = await admin.metadata({ topics, forceUpdate: true });
    const ready = topics.every((t) => {
      const m = meta.topics.get(t);
      return m !== undefined && m.partitions.length === m.partitionsCount && m.partitions.every((p) => p.leader >= 0);
    });
    if (ready) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function committedOffsets(settings: KafkaSettings, groupId: string, topics: string[]): Promise<LastOffsets> {
  return withAdmin(settings, `reading the offsets of group ${groupId}`, async (admin) => {
    const counts = await partitionCountsWith(admin, topics);
    const [group] = await admin.listConsumerGroupOffsets({
      groups: [{ groupId, topics: topics.map((name) => ({ name, partitionIndexes: [...Array(counts.get(name) ?? 0).keys()] })) }],
    });
    const out: LastOffsets = Object.fromEntries(topics.map((t) => [t, Object.fromEntries([...Array(counts.get(t) ?? 0).keys()].map((p) => [String(p), '-1']))]));
    for (const t of group?.topics ?? []) {
      for (const p of t.partitions) (out[t.name] ??= {})[String(p.partitionIndex)] = p.committedOffset.toString();
    }
    return out;
  });
}

async function partitionCountsWith(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const meta = await admin.metadata({ topics, forceUpdate: true });
  return new Map(topics.flatMap((t) => (meta.topics.has(t) ? [[t, meta.topics.get(t)!.partitionsCount] as const] : [])));
}

export function partitionCounts(settings: KafkaSettings, topics: string[]): Promise<Map<string, number>> {
  return withAdmin(settings, 'reading topic metadata', (admin) => partitionCountsWith(admin, topics));
}

/** Low and high watermarks per partition. */
export function topicEnds(settings: KafkaSettings, topic: string): Promise<{ partition: number; low: bigint; high: bigint }[]> {
  return withAdmin(settings, `reading the offsets of ${topic}`, async (admin) => {
    const n = (await partitionCountsWith(admin, [topic])).get(topic) ?? 0;
    const at = async (timestamp: bigint) => {
      const [t] = await admin.listOffsets({ topics: [{ name: topic, partitions: [...Array(n).keys()].map((partitionIndex) => ({ partitionIndex, timestamp })) }] });
      return new Map((t?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
    };
    // Kafka's ListOffsets: timestamp -2 asks for the earliest offset, -1 for the latest.
    const [low, high] = await Promise.all([at(-2n), at(-1n)]);
    return [...Array(n).keys()].map((partition) => ({ partition, low: low.get(partition) ?? 0n, high: high.get(partition) ?? 0n }));
  });
}

export async function deleteGroup(settings: KafkaSettings, groupId: string): Promise<void> {
  await withAdmin(settings, `deleting group ${groupId}`, (admin) => admin.deleteGroups({ groups: [groupId] })).catch(() => undefined);
}

export async function ping(settings: KafkaSettings): Promise<void> {
  await withAdmin(settings, 'asking Kafka for its metadata', (admin) => admin.metadata({ topics: [], forceUpdate: true }), 0);
}
