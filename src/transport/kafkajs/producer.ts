// Producers over kafkajs: one transaction per file (split), and a plain idempotent one (dead letters).
import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import { DEFAULT_PRODUCER_TUNING, Partitions, planSends, prepareSend, recordLast, type ProducerTuning } from '../sends.js';
import type { FileProducer, LastOffsets, OutRecord, RecordSender } from '../types.js';
import { partitionCounts } from './admin.js';
import { kafkaError } from './errors.js';

async function connected(producer: Producer): Promise<Producer> {
  try {
    await producer.connect();
  } catch (err) {
    throw kafkaError(err, 'connecting the producer');
  }
  return producer;
}

export async function transactionalProducer(kafka: Kafka, transactionalId: string, topics: string[], tuning: ProducerTuning = DEFAULT_PRODUCER_TUNING): Promise<FileProducer> {
  const partitions = new Partitions(await partitionCounts(kafka, topics));
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    // A split that dies with a transaction open blocks read_committed readers until this passes.
    transactionTimeout: 30_000,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  return new KafkajsFileProducer(await connected(producer), tuning, partitions);
}

class KafkajsFileProducer implements FileProducer {
  constructor(
    private readonly producer: Producer,
    private readonly tuning: ProducerTuning,
    private readonly partitions: Partitions,
  ) {}

  partitionsByTopic(): Record<string, number> {
    return this.partitions.byTopic();
  }

  partitionOf(topic: string, key: string): number {
    return this.partitions.of(topic, key);
  }

  async sendAtomically(records: OutRecord[]): Promise<LastOffsets> {
    const tx = await this.producer.transaction().catch((err: unknown) => {
      throw kafkaError(err, 'starting a transaction');
    });
    const last: LastOffsets = {};
    try {
      for (const [start, end] of planSends(records, this.tuning)) {
        // Records go to kafkajs as they are (it reads key, value, headers, partition): no copies.
        const { byTopic, counts } = prepareSend(records, start, end, this.partitions);
        const meta = await tx.sendBatch({
          acks: -1,
          compression: this.tuning.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
        recordLast(
          last,
          meta.map((m) => ({ topic: m.topicName, partition: m.partition, baseOffset: m.baseOffset })),
          counts,
        );
      }
      await tx.commit();
      return last;
    } catch (err) {
      await tx.abort().catch(() => undefined); // the coordinator aborts it on timeout anyway
      throw kafkaError(err, 'producing a file');
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

export async function recordSender(kafka: Kafka): Promise<RecordSender> {
  const producer = await connected(kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner }));
  return {
    send: async (topic, record, what) => {
      try {
        await producer.send({ topic, acks: -1, messages: [record] });
      } catch (err) {
        throw kafkaError(err, what ?? `producing to ${topic}`);
      }
    },
    close: () => producer.disconnect(),
  };
}
