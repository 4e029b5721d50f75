// Kafka adapter (kafkajs): topics, a transactional producer, consumers; kafkajs errors become ours here.
import { RetryInterrupted } from '../retry.js';
import kafkajs, { CompressionTypes, Kafka, logLevel, Partitioners, type Consumer, type KafkaMessage, type Producer, type RecordMetadata, type SASLOptions } from 'kafkajs';
export type { Producer } from 'kafkajs';
import { RapflowError } from '../errors.js';
import { partitionFor } from './partition.js';
import type { TopicSpec } from './topics.js';

// kafkajs is CommonJS and its error classes are not visible to ESM named imports.
const {
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} = kafkajs;

/** A consumed message as the pipeline sees it: headers as strings, key and value as bytes. */
export interface InMessageLike {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

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

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  sasl?: { mechanism: 'scram-sha-512' | 'scram-sha-256'; username: string; password: string };
  tls?: boolean;
  /** PEM of the CA that signed the brokers' certificates (Strimzi's cluster CA). */
  ca?: string;
}

/** The producer knobs chosen by measurement (bench/split, bench/e2e). */
export interface ProducerTuning {
  compression: 'none' | 'gzip';
  /** Records per send() call inside one file's transaction, at most. */
  chunk: number;
  /**
   * Bytes of keys, values and headers per send() call, at most (a record larger than this goes
   * alone). A send's records for one partition become one record batch, which the broker refuses
   * when it is over `message.max.bytes` (1 MiB by default, in Strimzi too); this keeps every batch
   * under it even when a send's records all go to one partition.
   */
  maxSendBytes: number;
}

/**
 * No compression: on 2 shared cores it made the whole pipeline about a fifth faster than gzip
 * (bench/e2e), since gzip costs CPU in the producer, the broker (which decompresses to validate)
 * and the consumer; bench/split's settings table shows the bare producer no slower without it.
 * On a network that is the bottleneck, gzip is the knob to turn.
 */
export const DEFAULT_PRODUCER_TUNING: ProducerTuning = { compression: 'none', chunk: 5_000, maxSendBytes: 768 * 1024 };

/** The bytes a record adds to a request, roughly: key, value, header names and values, and a little framing. */
function recordBytes(r: Pick<OutRecord, 'key' | 'value' | 'headers'>): number {
  let n = 16 + r.key.length + r.value.length;
  for (const k in r.headers) n += k.length + r.headers[k]!.length + 2;
  return n;
}

/**
 * Splits a file's records into sends within `tuning`'s count and byte limits, in order: each
 * send is records[start, end).
 */
export function planSends(records: Pick<OutRecord, 'key' | 'value' | 'headers'>[], tuning: Pick<ProducerTuning, 'chunk' | 'maxSendBytes'>): [number, number][] {
  const sends: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  for (let k = 0; k < records.length; k++) {
    const size = recordBytes(records[k]!);
    if (k > start && (k - start >= tuning.chunk || bytes + size > tuning.maxSendBytes)) {
      sends.push([start, k]);
      start = k;
      bytes = 0;
    }
    bytes += size;
  }
  if (records.length > start) sends.push([start, records.length]);
  return sends;
}

export interface OutRecord {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  /** Chosen by the Java-compatible default partitioner (partitionFor) when absent. */
  partition?: number;
}

/** Highest offset written per topic and partition. */
export type LastOffsets = Record<string, Record<string, string>>;

/** The error and its causes, outermost first (kafkajs wraps connection errors in retry and transaction errors). */
function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && out.length < 8; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

// Network failures, and coordinators gone with their broker ("Failed to find group coordinator"
// is a non-retriable class in kafkajs, yet only means the broker is away: seen when it stops mid-split).
const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|socket hang up|Connection error|Closed connection|coordinator|NOT_LEADER|LEADER_NOT_AVAILABLE/i;

/** Decides what a kafkajs error means for us, looking through its wrappers. */
export function kafkaError(err: unknown, what: string): RapflowError {
  if (err instanceof RapflowError) return err;
  const chain = causes(err);
  const root = chain.at(-1);
  const message = root instanceof Error ? root.message : String(root);
  const protocol = chain.find((e): e is InstanceType<typeof KafkaJSProtocolError> => e instanceof KafkaJSProtocolError);
  if (chain.some((e) => e instanceof KafkaJSSASLAuthenticationError)) {
    return new RapflowError('CONFIG_INVALID', `${what}: Kafka refused the credentials (${message})`, { cause: err });
  }
  if (protocol?.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
    return new RapflowError('CONFIG_INVALID', `${what}: topic missing (${protocol.message}); create the topics first (\`rapflow topics create\`)`, { cause: err });
  }
  if (protocol && /AUTHORIZATION_FAILED$/.test(protocol.type)) {
    return new RapflowError('CONFIG_INVALID', `${what}: not allowed by the broker's ACLs (${protocol.type})`, { cause: err });
  }
  const unavailable = chain.some(
    (e) =>
      e instanceof KafkaJSConnectionError ||
      e instanceof KafkaJSNumberOfRetriesExceeded ||
      e instanceof KafkaJSGroupCoordinatorNotFound ||
      (e instanceof KafkaJSError && e.retriable) ||
      (e instanceof Error && NETWORK.test(e.message)),
  );
  if (unavailable) return new RapflowError('KAFKA_UNAVAILABLE', `${what}: Kafka unavailable (${message})`, { cause: err });
  return new RapflowError('INTERNAL', `${what}: Kafka error ${message}`, { cause: err });
}

/** What a running consumer gives its owner: stop it (after the work in hand), or learn that it failed. */
export interface RunningConsumer {
  stop: () => Promise<void>;
  /** Resolves after stop(); rejects with the first error of the handler. */
  done: Promise<void>;
}

/**
 * Connects, subscribes and runs a consumer whose handler reports its first error through
 * `fail` (stopping it: no silent restart loop); the consumer leaves the group when done.
 */
async function runConsumer(
  consumer: Consumer,
  what: string,
  start: (fail: (err: unknown) => void) => Promise<void>,
): Promise<RunningConsumer> {
  let fail: (err: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined); // observed through `done`
  try {
    await consumer.connect();
    await start(fail);
  } catch (err) {
    await consumer.disconnect();
    throw kafkaError(err, what);
  }
  let stopped: () => void = () => {};
  const stoppedP = new Promise<void>((resolve) => (stopped = resolve));
  const done = Promise.race([stoppedP, failed]).finally(() => consumer.disconnect());
  return {
    stop: async () => {
      await consumer.stop();
      stopped();
      await done.catch(() => undefined);
    },
    done,
  };
}

export class KafkaTransport {
  readonly kafka: Kafka;

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

  /** Creates the topics that do not exist yet; returns the names it created. */
  async ensureTopics(specs: TopicSpec[]): Promise<string[]> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((s) => !existing.has(s.name));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((s) => ({
            topic: s.name,
            numPartitions: s.partitions,
            configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value })),
          })),
        });
      }
      return missing.map((s) => s.name);
    } catch (err) {
      throw kafkaError(err, 'creating topics');
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * A producer whose every file is one Kafka transaction: consumers (read_committed, kafkajs'
   * default) see all of a file's records or none, even when the split dies half-way.
   */
  async transactionalProducer(transactionalId: string, topics: string[], tuning: ProducerTuning = DEFAULT_PRODUCER_TUNING): Promise<FileProducer> {
    const partitions = await this.partitionCounts(topics);
    const producer = this.kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      // A split that dies with a transaction open blocks read_committed readers until this passes.
      transactionTimeout: 30_000,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await producer.connect();
    } catch (err) {
      throw kafkaError(err, 'connecting the producer');
    }
    return new FileProducer(producer, tuning, partitions);
  }

  /**
   * Consumes `topic` in group `groupId` from the newest offset on first start, one message at a
   * time, committing each offset only after `handle` resolved. Resolves when `stop` is called
   * (after the message in hand is done); rejects with the handler's error, leaving that message
   * uncommitted so it is delivered again.
   */
  async follow(topic: string, groupId: string, handle: (value: Buffer | null) => Promise<void>, onReady?: () => void): Promise<RunningConsumer> {
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) } });
    return runConsumer(consumer, `following ${topic}`, async (fail) => {
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
          await consumer.commitOffsets([{ topic: t, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        },
      });
    });
  }

  /**
   * A consumer group on `topics` handing over batches of at most `maxBatch` messages; offsets are
   * committed only after `handle` resolved. The first error of `handle` stops the consumer (no
   * silent restart loop) and rejects `done`; `stop()` finishes the batch in hand and leaves the group.
   */
  async consumeBatches(
    topics: string[],
    groupId: string,
    handle: (messages: InMessageLike[], heartbeat: () => Promise<void>, highWatermark: string) => Promise<void>,
    maxBatch = 1_000,
    /** Partitions whose batches are handled at the same time (order within a partition is kept). More than one
     * hung the consumer when Cassandra froze mid-batch (consume-faults); one until that is understood. */
    concurrency = 1,
  ): Promise<RunningConsumer> {
    const consumer = this.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
    });
    return runConsumer(consumer, 'starting the consumer', async (fail) => {
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: concurrency,
        eachBatchAutoResolve: false,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const heartbeat = () => payload.heartbeat();
          for (let i = 0; i < batch.messages.length && payload.isRunning() && !payload.isStale(); i += maxBatch) {
            const slice = batch.messages.slice(i, i + maxBatch);
            const messages = slice.map((m) => inMessage(batch.topic, batch.partition, m));
            try {
              await handle(messages, heartbeat, batch.highWatermark);
            } catch (err) {
              // Told to stop while waiting to retry: leave this batch uncommitted (the next
              // consumer of the partition gets it again) and let the stop go on, not a failure.
              if (err instanceof RetryInterrupted) return;
              fail(err);
              throw err;
            }
            const last = slice.at(-1)!.offset;
            payload.resolveOffset(last);
            await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
            await heartbeat();
          }
        },
      });
    });
  }

  /** Offsets a consumer group has committed (the next offset it will read), per topic and partition; "-1" when none. */
  async committedOffsets(groupId: string, topics: string[]): Promise<LastOffsets> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const answer = await admin.fetchOffsets({ groupId, topics });
      return Object.fromEntries(answer.map((t) => [t.topic, Object.fromEntries(t.partitions.map((p) => [String(p.partition), p.offset]))]));
    } catch (err) {
      throw kafkaError(err, `reading the offsets of group ${groupId}`);
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Every record of a topic as it stands now (up to the high watermarks read at the start), for
   * small topics written without transactions and read whole, like the dead-letter topic.
   */
  async readToEnd(topic: string, timeoutMs = 30_000): Promise<InMessageLike[]> {
    const admin = this.kafka.admin();
    let ends: { partition: number; low: string; high: string }[];
    try {
      await admin.connect();
      ends = await admin.fetchTopicOffsets(topic);
    } catch (err) {
      throw kafkaError(err, `reading the offsets of ${topic}`);
    } finally {
      await admin.disconnect();
    }
    const pending = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
    const out: InMessageLike[] = [];
    if (pending.size === 0) return out;
    // A group is needed by kafkajs to fetch; it commits nothing and is deleted afterwards.
    const groupId = `rapflow-read-${process.pid}-${Date.now()}`;
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, retry: { retries: 3, restartOnFailure: () => Promise.resolve(false) } });
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
      const cleanup = this.kafka.admin();
      await cleanup
        .connect()
        .then(() => cleanup.deleteGroups([groupId]))
        .catch(() => undefined)
        .finally(() => cleanup.disconnect());
    }
    return out;
  }

  /** Answers when a broker answers a metadata request (readiness). */
  async ping(): Promise<void> {
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      await admin.describeCluster();
    } finally {
      await admin.disconnect();
    }
  }

  /** A plain idempotent producer (acks=all), for dead letters. */
  async producer(): Promise<Producer> {
    const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    try {
      await producer.connect();
    } catch (err) {
      throw kafkaError(err, 'connecting the producer');
    }
    return producer;
  }

  async partitionCounts(topics: string[]): Promise<Map<string, number>> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      return new Map(meta.map((t) => [t.name, t.partitions.length]));
    } catch (err) {
      throw kafkaError(err, 'reading topic metadata');
    } finally {
      await admin.disconnect();
    }
  }
}

export class FileProducer {

  constructor(
    private readonly producer: Producer,
    private readonly tuning: ProducerTuning,
    private readonly partitions: Map<string, number>,
  ) {}

  /** Partitions per topic, as the producer knows them (for encoders that choose partitions ahead). */
  partitionsByTopic(): Record<string, number> {
    return Object.fromEntries(this.partitions);
  }

  partitionOf(topic: string, key: string): number {
    const n = this.partitions.get(topic);
    if (n === undefined) throw new RapflowError('CONFIG_INVALID', `topic ${topic} is unknown to the producer; create the topics first`);
    return partitionFor(key, n);
  }

  /** Sends all records in one transaction with acks=all; returns the last offsets written. */
  async sendAtomically(records: OutRecord[]): Promise<LastOffsets> {
    const tx = await this.producer.transaction().catch((err: unknown) => {
      throw kafkaError(err, 'starting a transaction');
    });
    const last: LastOffsets = {};
    try {
      for (const [start, end] of planSends(records, this.tuning)) {
        // Records go to kafkajs as they are (it reads key, value, headers, partition): no copies.
        const byTopic = new Map<string, OutRecord[]>();
        const counts = new Map<string, number>();
        for (let k = start; k < end; k++) {
          const r = records[k]!;
          r.partition ??= this.partitionOf(r.topic, r.key);
          let list = byTopic.get(r.topic);
          if (!list) byTopic.set(r.topic, (list = []));
          list.push(r);
          const tp = `${r.topic}/${r.partition}`;
          counts.set(tp, (counts.get(tp) ?? 0) + 1);
        }
        const meta = await tx.sendBatch({
          acks: -1,
          compression: this.tuning.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
        recordLast(last, meta, counts);
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

/** baseOffset is the first record a partition got from this send; the last is base + count - 1. */
function recordLast(last: LastOffsets, meta: RecordMetadata[], counts: Map<string, number>): void {
  for (const m of meta) {
    const count = counts.get(`${m.topicName}/${m.partition}`) ?? 0;
    if (count === 0 || m.baseOffset === undefined) continue;
    const t = (last[m.topicName] ??= {});
    const end = (BigInt(m.baseOffset) + BigInt(count) - 1n).toString();
    const prev = t[String(m.partition)];
    if (prev === undefined || BigInt(end) > BigInt(prev)) t[String(m.partition)] = end;
  }
}
