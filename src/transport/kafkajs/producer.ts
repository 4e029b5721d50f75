// Producers over kafkajs: one transaction per file (split), and a plain idempotent one (dead letters).
import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import { DEFAULT_PRODUCER_TUNING, Partitions, TransactionalFileProducer, type ProducerTuning } from '../sends.js';
import type { FileProducer, RecordSender } from '../types.js';
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
  await connected(producer);
  const compression = tuning.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  return new TransactionalFileProducer(
    {
      begin: async () => {
        const tx = await producer.transaction();
        return {
          // Records go to kafkajs as they are (it reads key, value, headers, partition): no copies.
          send: async ({ byTopic }) =>
            (await tx.sendBatch({ acks: -1, compression, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) })).map((m) => ({
              topic: m.topicName,
              partition: m.partition,
              baseOffset: m.baseOffset,
            })),
          commit: () => tx.commit(),
          abort: () => tx.abort(),
        };
      },
      close: () => producer.disconnect(),
      mapError: kafkaError,
    },
    tuning,
    partitions,
  );
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
