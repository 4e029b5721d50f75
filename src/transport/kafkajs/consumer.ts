// Consumers over kafkajs: the batch consumer (consume), one-at-a-time (split --follow), and a
// whole-topic read (dead letters for verify and the report).
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { RapflowError } from '../../errors.js';
import { RetryInterrupted } from '../../retry.js';
import { runConsumer } from '../running.js';
import type { BatchHandler, InMessageLike, RunningConsumer } from '../types.js';
import { deleteGroup, topicEnds } from './admin.js';
import { kafkaError } from './errors.js';

/**
 * The pipeline's view of a kafkajs message. Headers become strings only when asked for: the
 * consumer reads them only to dead-letter a record, and converting the seven headers of every
 * record showed as 6 % of its busy time in the e2e profile.
 */
function inMessage(topic: string, partition: number, m: KafkaMessage): InMessageLike {
  let headers: Record<string, string> | undefined;
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key,
    value: m.value,
    get headers() {
      return (headers ??= Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])));
    },
  };
}

const next = (offset: string) => (BigInt(offset) + 1n).toString();

function life(consumer: Consumer) {
  return { connect: () => consumer.connect(), stop: () => consumer.stop(), disconnect: () => consumer.disconnect() };
}

export function follow(kafka: Kafka, topic: string, groupId: string, handle: (value: Buffer | null) => Promise<void>, onReady?: () => void): Promise<RunningConsumer> {
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) } });
  return runConsumer(
    life(consumer),
    async (fail) => {
      await consumer.subscribe({ topic, fromBeginning: false });
      consumer.on(consumer.events.GROUP_JOIN, () => onReady?.());
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic: t, partition, message }) => {
          try {
            await handle(message.value);
          } catch (err) {
            fail(err);
            throw err;
          }
          await consumer.commitOffsets([{ topic: t, partition, offset: next(message.offset) }]);
        },
      });
    },
    (err) => kafkaError(err, `following ${topic}`),
  );
}

/**
 * One partition's batch at a time (partitionsConsumedConcurrently 1): more than one hung the
 * consumer when Cassandra froze mid-batch (consume-faults), and on 2 cores it bought nothing.
 */
export function consumeBatches(kafka: Kafka, topics: string[], groupId: string, handle: BatchHandler, maxBatch = 1_000): Promise<RunningConsumer> {
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
  });
  return runConsumer(
    life(consumer),
    async (fail) => {
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 1,
        eachBatchAutoResolve: false,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const heartbeat = () => payload.heartbeat();
          for (let i = 0; i < batch.messages.length && payload.isRunning() && !payload.isStale(); i += maxBatch) {
            const slice = batch.messages.slice(i, i + maxBatch);
            const messages = slice.map((m) => inMessage(batch.topic, batch.partition, m));
            try {
              await handle(messages, heartbeat, Number(BigInt(batch.highWatermark) - BigInt(slice.at(-1)!.offset) - 1n));
            } catch (err) {
              // Told to stop while waiting to retry: leave this batch uncommitted (the next
              // consumer of the partition gets it again) and let the stop go on, not a failure.
              if (err instanceof RetryInterrupted) return;
              fail(err);
              throw err;
            }
            const last = slice.at(-1)!.offset;
            payload.resolveOffset(last);
            await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next(last) }]);
            await heartbeat();
          }
        },
      });
    },
    (err) => kafkaError(err, 'starting the consumer'),
  );
}

export async function readToEnd(kafka: Kafka, topic: string, timeoutMs = 30_000): Promise<InMessageLike[]> {
  const ends = await topicEnds(kafka, topic);
  const pending = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  const out: InMessageLike[] = [];
  if (pending.size === 0) return out;
  // A group is needed by kafkajs to fetch; it commits nothing and is deleted afterwards.
  const groupId = `rapflow-read-${process.pid}-${Date.now()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, retry: { retries: 3, restartOnFailure: () => Promise.resolve(false) } });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RapflowError('KAFKA_UNAVAILABLE', `reading ${topic}: not at its end after ${timeoutMs / 1000} s`)), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const high = pending.get(partition);
            if (high === undefined || BigInt(message.offset) >= high) return;
            out.push(inMessage(topic, partition, message));
            // The end: for a topic written without transactions (like rap.dlq) the high watermark follows the last record.
            if (BigInt(message.offset) + 1n >= high) pending.delete(partition);
            if (pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } catch (err) {
    throw kafkaError(err, `reading ${topic}`);
  } finally {
    await consumer.disconnect();
    await deleteGroup(kafka, groupId);
  }
  return out;
}
