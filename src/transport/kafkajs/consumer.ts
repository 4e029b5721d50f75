// Consumers over kafkajs: the batch consumer (consume), one-at-a-time (split --follow), and a
// whole-topic read (dead letters for verify and the report).
import kafkajs, { type Consumer, type Kafka, type KafkaMessage } from 'kafkajs';
import { RapflowError } from '../../errors.js';
import { runConsumer } from '../running.js';
import { causes } from '../errors.js';
import { BatchFlow, consumerTuning } from '../flow.js';
import type { BatchHandler, ConsumerTuning, InMessageLike, RunningConsumer } from '../types.js';
import { deleteGroup, topicEnds } from './admin.js';
import { kafkaError } from './errors.js';

// kafkajs is CommonJS and its error classes are not visible to ESM named imports.
const { KafkaJSProtocolError } = kafkajs;

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
    header: (name) => {
      const v = m.headers?.[name];
      return v === undefined ? undefined : String(v);
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

/** The group's protocol errors that mean the partition may be someone else's now: its batch is delivered again. */
const REBALANCED = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);
const lostToRebalance = (err: unknown) => causes(err).some((e) => e instanceof KafkaJSProtocolError && REBALANCED.has(e.type));

/**
 * One partition's fetched batch at a time from kafkajs (partitionsConsumedConcurrently 1: more
 * than one hung the consumer when Cassandra froze mid-batch, consume-faults), handed to the flow
 * (flow.ts) in slices: resolving a slice's offsets lets kafkajs fetch on while the slice is
 * written, and the flow commits it once written. kafkajs commits nothing itself (autoCommit off).
 */
export function consumeBatches(kafka: Kafka, topics: string[], groupId: string, handle: BatchHandler, tuning?: Partial<ConsumerTuning>): Promise<RunningConsumer> {
  const t = consumerTuning(tuning);
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxBytes: t.fetchMaxBytes,
    maxBytesPerPartition: t.partitionMaxBytes,
    retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
  });
  let flow: BatchFlow | undefined;
  return runConsumer(
    {
      connect: () => consumer.connect(),
      // Fetching paused, the batches in hand written and committed, then the group left.
      stop: async () => {
        flow?.close();
        try {
          consumer.pause(topics.map((topic) => ({ topic })));
        } catch {
          // not running (it failed to start): nothing is fetched anyway
        }
        await flow?.idle();
        await consumer.stop();
      },
      disconnect: () => consumer.disconnect(),
    },
    async (fail) => {
      const f = (flow = new BatchFlow({ maxInFlight: t.maxInFlight, fail }));
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 1,
        eachBatchAutoResolve: false,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const heartbeat = () => payload.heartbeat();
          for (let i = 0; i < batch.messages.length && payload.isRunning() && !payload.isStale(); i += t.maxBatch) {
            const slice = batch.messages.slice(i, i + t.maxBatch);
            const last = slice.at(-1)!.offset;
            const taken = await f.push({
              key: `${batch.topic}:${batch.partition}`,
              prepare: () => handle(
                slice.map((m) => inMessage(batch.topic, batch.partition, m)),
                heartbeat,
                Number(BigInt(batch.highWatermark) - BigInt(last) - 1n),
              ),
              commit: async () => {
                try {
                  await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next(last) }]);
                } catch (err) {
                  if (!lostToRebalance(err)) throw kafkaError(err, `committing ${batch.topic}[${batch.partition}]@${last}`);
                }
              },
            });
            // Not taken (stopping, or failed): unresolved, so kafkajs fetches it again if it goes on.
            if (!taken) return;
            payload.resolveOffset(last);
          }
          await heartbeat();
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
