// The Kafka transport over kafkajs 2 (no release since 2023; kept beside @platformatic/kafka,
// see docs/performance.md for how the default was chosen).
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import type { ProducerTuning } from '../sends.js';
import type { TopicSpec } from '../topics.js';
import type { BatchHandler, ConsumerTuning, KafkaSettings, KafkaTransport } from '../types.js';
import * as admin from './admin.js';
import { consumeBatches, follow, readToEnd } from './consumer.js';
import { recordSender, transactionalProducer } from './producer.js';

export class KafkajsTransport implements KafkaTransport {
  readonly client = 'kafkajs' as const;
  private readonly kafka: Kafka;

  constructor(settings: KafkaSettings) {
    this.kafka = new Kafka({
      clientId: settings.clientId,
      brokers: settings.brokers,
      ...(settings.sasl ? { sasl: settings.sasl as SASLOptions } : {}),
      ...(settings.tls ? { ssl: settings.ca ? { ca: [settings.ca] } : true } : {}),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3_000,
      // Bounded: after these, the command ends with 75 and the workflow decides whether to retry.
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5_000 },
    });
  }

  ensureTopics = (specs: TopicSpec[]) => admin.ensureTopics(this.kafka, specs);
  transactionalProducer = (transactionalId: string, topics: string[], tuning?: ProducerTuning) => transactionalProducer(this.kafka, transactionalId, topics, tuning);
  follow = (topic: string, groupId: string, handle: (value: Buffer | null) => Promise<void>, onReady?: () => void) => follow(this.kafka, topic, groupId, handle, onReady);
  consumeBatches = (topics: string[], groupId: string, handle: BatchHandler, tuning?: Partial<ConsumerTuning>) => consumeBatches(this.kafka, topics, groupId, handle, tuning);
  committedOffsets = (groupId: string, topics: string[]) => admin.committedOffsets(this.kafka, groupId, topics);
  readToEnd = (topic: string, timeoutMs?: number) => readToEnd(this.kafka, topic, timeoutMs);
  ping = () => admin.ping(this.kafka);
  producer = () => recordSender(this.kafka);
  partitionCounts = (topics: string[]) => admin.partitionCounts(this.kafka, topics);
  offsetRanges = async (topic: string) => (await admin.topicEnds(this.kafka, topic)).map(({ partition, low, high }) => ({ partition, low, high }));
}
