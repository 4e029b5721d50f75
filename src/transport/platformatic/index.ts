// The Kafka transport over @platformatic/kafka: maintained, pure TypeScript, no native build.
import type { ProducerTuning } from '../sends.js';
import type { TopicSpec } from '../topics.js';
import type { BatchHandler, ConsumerTuning, KafkaSettings, KafkaTransport } from '../types.js';
import * as admin from './admin.js';
import { consumeBatches, follow, readToEnd } from './consumer.js';
import { recordSender, transactionalProducer } from './producer.js';

export class PlatformaticTransport implements KafkaTransport {
  readonly client = 'platformatic' as const;

  constructor(private readonly settings: KafkaSettings) {}

  ensureTopics = (specs: TopicSpec[]) => admin.ensureTopics(this.settings, specs);
  transactionalProducer = (transactionalId: string, topics: string[], tuning?: ProducerTuning) => transactionalProducer(this.settings, transactionalId, topics, tuning);
  follow = (topic: string, groupId: string, handle: (value: Buffer | null) => Promise<void>, onReady?: () => void) => follow(this.settings, topic, groupId, handle, onReady);
  consumeBatches = (topics: string[], groupId: string, handle: BatchHandler, tuning?: Partial<ConsumerTuning>) => consumeBatches(this.settings, topics, groupId, handle, tuning);
  committedOffsets = (groupId: string, topics: string[]) => admin.committedOffsets(this.settings, groupId, topics);
  readToEnd = (topic: string, timeoutMs?: number) => readToEnd(this.settings, topic, timeoutMs);
  ping = () => admin.ping(this.settings);
  producer = () => recordSender(this.settings);
  partitionCounts = (topics: string[]) => admin.partitionCounts(this.settings, topics);
  offsetRanges = async (topic: string) => (await admin.topicEnds(this.settings, topic)).map(({ partition, low, high }) => ({ partition, low: low.toString(), high: high.toString() }));
}
