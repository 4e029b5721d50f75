// Producers over @platformatic/kafka: one transaction per file (split), and a plain idempotent
// one (dead letters). Keys and header values go as strings, values as the encoded bytes.
import { compatibilityPartitioner, Producer, stringSerializer, type MessageToProduce } from '@platformatic/kafka';
import { DEFAULT_PRODUCER_TUNING, Partitions, TransactionalFileProducer, type ProducerTuning } from '../sends.js';
import type { FileProducer, KafkaSettings, RecordSender } from '../types.js';
import { partitionCounts } from './admin.js';
import { baseOptions } from './client.js';
import { kafkaError } from './errors.js';

type StringKeyed = Producer<string, Buffer, string, string>;
const serializers = { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer };
// This client's defaultPartitioner takes murmur2 >>> 0, which puts about half the keys on other
// partitions than the Java client and kafkajs (murmur2 & 0x7fffffff); rapflow sets every record's
// partition itself (partitionFor), and this one, the Java-compatible, covers any it does not.
const partitioner = compatibilityPartitioner;

export async function transactionalProducer(settings: KafkaSettings, transactionalId: string, topics: string[], tuning: ProducerTuning = DEFAULT_PRODUCER_TUNING): Promise<FileProducer> {
  const partitions = new Partitions(await partitionCounts(settings, topics));
  const producer: StringKeyed = new Producer({
    ...baseOptions(settings),
    transactionalId,
    idempotent: true,
    // InitProducerId with "no producer yet" (-1, -1), as the Java client and kafkajs send it. This
    // client's default (id 0, epoch 0) tells the coordinator "I am producer 0 at epoch 0", which a
    // transactional id used before is not: the coordinator answers PRODUCER_FENCED and a retried
    // split (same transactional id) could never start (fault matrix, 2.12.1).
    producerId: -1n,
    producerEpoch: -1,
    acks: -1,
    autocreateTopics: false,
    partitioner,
    compression: tuning.compression,
    // This client sends its request timeout as the transaction timeout too: a split that dies
    // with a transaction open blocks read_committed readers until it passes (kafkajs: 30 s too).
    timeout: 30_000,
    serializers,
  });
  return new TransactionalFileProducer(
    {
      begin: async () => {
        const tx = await producer.beginTransaction();
        return {
          // Every record has its partition set, so this client's partitioner is never asked.
          send: async ({ byTopic }) => {
            const messages = [...byTopic.values()].flat() as MessageToProduce<string, Buffer, string, string>[];
            const result = await tx.send({ messages, acks: -1, compression: tuning.compression });
            return (result.offsets ?? []).map((o) => ({ topic: o.topic, partition: o.partition, baseOffset: o.offset }));
          },
          commit: () => tx.commit(),
          abort: () => tx.abort(),
        };
      },
      close: () => producer.close(),
      mapError: kafkaError,
    },
    tuning,
    partitions,
  );
}

export function recordSender(settings: KafkaSettings): Promise<RecordSender> {
  const producer = new Producer<Buffer, Buffer, string, string>({ ...baseOptions(settings), idempotent: true, acks: -1, autocreateTopics: false, partitioner, serializers: { headerKey: stringSerializer, headerValue: stringSerializer } });
  return Promise.resolve({
    send: async (topic, record, what) => {
      try {
        await producer.send({ messages: [{ topic, ...(record.key ? { key: record.key } : {}), value: record.value, headers: record.headers }] });
      } catch (err) {
        throw kafkaError(err, what ?? `producing to ${topic}`);
      }
    },
    close: () => producer.close(),
  });
}
