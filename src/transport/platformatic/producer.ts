// Producers over @platformatic/kafka: one transaction per file (split), and a plain idempotent
// one (dead letters). Keys and header values go as strings, values as the encoded bytes.
import { compatibilityPartitioner, kListApis, Producer, stringSerializer, type MessageToProduce } from '@platformatic/kafka';
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

/** The newest AddPartitionsToTxn a client may send: v4 and later are the brokers' own (KIP-890). */
export const CLIENT_ADD_PARTITIONS_TO_TXN_MAX = 3;

type ApiRange = { name: string; minVersion: number; maxVersion: number };
type ListApis = (callback: (error: Error | null, apis?: ApiRange[]) => void) => void;

/**
 * The broker's API versions as this client should use them: AddPartitionsToTxn capped at v3.
 * This client (2.12.1) takes the highest version the broker lists, and Kafka 3.6+ lists v4-v5, the
 * batched form brokers send each other, which needs ClusterAction on the cluster: with ACLs on
 * (Strimzi's `authorization: simple`), every transactional send of a normal user failed with
 * CLUSTER_AUTHORIZATION_FAILED (found on the local Kubernetes; the Java client sends v3 or less).
 */
export function clientApiVersions(apis: ApiRange[]): ApiRange[] {
  return apis.map((a) => (a.name === 'AddPartitionsToTxn' ? { ...a, maxVersion: Math.min(a.maxVersion, CLIENT_ADD_PARTITIONS_TO_TXN_MAX) } : a));
}

/** Makes `producer` negotiate API versions through clientApiVersions (its only hook is this method). */
function useClientApiVersions(producer: object): void {
  const target = producer as Record<typeof kListApis, ListApis>;
  const listApis = target[kListApis].bind(producer);
  target[kListApis] = (callback) => listApis((error, apis) => callback(error, apis && clientApiVersions(apis)));
}

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
  useClientApiVersions(producer);
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
