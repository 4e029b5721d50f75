// Topic and group administration over kafkajs' admin client: one connection per call.
import type { Admin, Kafka } from 'kafkajs';
import type { TopicSpec } from '../topics.js';
import type { LastOffsets } from '../types.js';
import { kafkaError } from './errors.js';

async function withAdmin<T>(kafka: Kafka, what: string, use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await use(admin);
  } catch (err) {
    throw kafkaError(err, what);
  } finally {
    await admin.disconnect();
  }
}

export function ensureTopics(kafka: Kafka, specs: TopicSpec[]): Promise<string[]> {
  return withAdmin(kafka, 'creating topics', async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          ...(s.replicationFactor ? { replicationFactor: s.replicationFactor } : {}),
          configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    return missing.map((s) => s.name);
  });
}

export function committedOffsets(kafka: Kafka, groupId: string, topics: string[]): Promise<LastOffsets> {
  return withAdmin(kafka, `reading the offsets of group ${groupId}`, async (admin) => {
    const answer = await admin.fetchOffsets({ groupId, topics });
    return Object.fromEntries(answer.map((t) => [t.topic, Object.fromEntries(t.partitions.map((p) => [String(p.partition), p.offset]))]));
  });
}

export function partitionCounts(kafka: Kafka, topics: string[]): Promise<Map<string, number>> {
  return withAdmin(kafka, 'reading topic metadata', async (admin) => {
    const { topics: meta } = await admin.fetchTopicMetadata({ topics });
    return new Map(meta.map((t) => [t.name, t.partitions.length]));
  });
}

/** Low and high watermarks per partition. */
export function topicEnds(kafka: Kafka, topic: string): Promise<{ partition: number; low: string; high: string }[]> {
  return withAdmin(kafka, `reading the offsets of ${topic}`, (admin) => admin.fetchTopicOffsets(topic));
}

export async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  await withAdmin(kafka, `deleting group ${groupId}`, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
}

export async function ping(kafka: Kafka): Promise<void> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.describeCluster();
  } finally {
    await admin.disconnect();
  }
}
