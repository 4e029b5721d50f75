// `rapflow consume`: the long-running consumer (a Kubernetes Deployment) writing the rap topics into Cassandra.
import { getHeapStatistics } from 'node:v8';
import { Option, type Command } from 'commander';
import { frame, schemaIdOf } from '../../codec/confluent.js';
import type { Registry } from '../../codec/registry.js';
import { loadSchemaSet, RECORD_NAMES, topicOf, type RecordName, type SchemaSet } from '../../codec/schemas.js';
import { redactedConfig } from '../../config/index.js';
import { projectPath } from '../../config/paths.js';
import { classify, RapflowError } from '../../errors.js';
import { decodeBatch, writeBatch, type BatchOutcome, type Decoded, type DecodedBatch, type InMessage, type RecordSink } from '../../pipeline/consume.js';
import { RetryInterrupted, type RetryPolicy } from '../../retry.js';
import { DLQ_HEADER, HEADER, writeTimeFrom } from '../../transport/topics.js';
import { headerOf } from '../../transport/types.js';
import type { KafkaTransport } from '../../transport/index.js';
import { waitForStargateSchema } from '../../store/stargate/schema.js';
import type { Logger } from '../../observability/logger.js';
import { ConsumerMetrics, serveHealth } from '../../observability/metrics.js';
import { kafkaOf, loggerOf, registryOf, sinkOf, stargateOf, type SinkKind } from '../adapters.js';
import type { CliContext } from '../context.js';
import { count } from '../format.js';
import { seconds } from '../options.js';

/**
 * Patient with the database: with the driver's 12 s request timeout this rides out an outage of a
 * minute or more (a Cassandra restart) before the consumer gives up and exits for Kubernetes to see.
 */
const CONSUME_RETRY: RetryPolicy = { attempts: 10, initialDelayMs: 500, maxDelayMs: 10_000 };

/** How long a starting consumer waits for Stargate to see the schema (made over CQL, it takes ~61 s). */
const STARGATE_SCHEMA_WAIT_MS = 90_000;

export interface ConsumeTotals {
  /** The backend the records went through. */
  sink: SinkKind;
  records: number;
  written: number;
  deadLettered: number;
  retries: number;
}

/** A running consumer with everything it holds; `finished` settles after it stopped and let go of its connections. */
export interface ConsumerHandle {
  stop: () => Promise<void>;
  metrics: ConsumerMetrics;
  /** One check per dependency, for /readyz. */
  checks: Record<string, () => Promise<void>>;
  finished: Promise<ConsumeTotals>;
  /** Time the last batch ended (or of the start); now while a batch is in hand. */
  lastActivity: () => number;
}

/**
 * What the consumer does with a record, from decoding to the dead-letter topic, built once for the
 * consumer and for `rapflow dlq replay`, so a replayed dead letter goes through exactly the path a
 * consumed record does.
 */
export interface ConsumePath {
  kind: SinkKind;
  /** The rap topics (under the prefix) the path decodes. */
  topics: string[];
  dlqTopic: string;
  kafka: KafkaTransport;
  registry: Registry;
  set: SchemaSet;
  decode: (m: InMessage) => Promise<Decoded>;
  decodeSync: (m: InMessage) => Decoded | undefined;
  sink: RecordSink;
  /** Produces the dead letter of `m`; `extraHeaders` are added to the record's own and the rapflow.dlq.* ones. */
  deadLetter: (m: InMessage, error: RapflowError, extraHeaders?: Record<string, string>) => Promise<void>;
  /** A cheap request that proves the sink answers (for /readyz). */
  check: () => Promise<void>;
  close: () => Promise<void>;
}

export async function openConsumePath(ctx: CliContext, log: Logger, role = 'consume'): Promise<ConsumePath> {
  const c = ctx.config;
  const set = loadSchemaSet(projectPath('avro'));
  const registry = registryOf(c);
  const dlqSchema = (await registry.registerAll(set, ['DeadLetter'])).get('DeadLetter')!;
  const nameByTopic = new Map<string, RecordName>(RECORD_NAMES.filter((n) => n !== 'DeadLetter').map((n) => [topicOf(n, c.kafka.topicPrefix), n]));
  const kafka = kafkaOf(c, role);
  const dlqTopic = topicOf('DeadLetter', c.kafka.topicPrefix);
  const dlq = await kafka.producer();
  let store: Awaited<ReturnType<typeof sinkOf>>;
  try {
    store = await sinkOf(c, log);
    // Collections and tables must exist before the first write (concurrent first writes to a
    // missing collection fail); made over CQL, Stargate sees them only after about a minute.
    if (store.kind === 'stargate') {
      const client = stargateOf(c);
      await waitForStargateSchema(client, c.cassandra.keyspace, STARGATE_SCHEMA_WAIT_MS, (missing) =>
        log.warn({ keyspace: c.cassandra.keyspace, missing }, 'waiting for Stargate to see the schema'),
      ).finally(() => client.close());
    }
  } catch (err) {
    await dlq.close();
    throw err;
  }

  const nameOf = (m: InMessage): RecordName => {
    const name = nameByTopic.get(m.topic);
    // Only a replayed dead letter can come from elsewhere (another prefix): poison, named.
    if (name === undefined) throw new RapflowError('RECORD_UNDECODABLE', `topic ${m.topic} is not one of the rap topics this consumer reads (${[...nameByTopic.keys()].join(', ')}): check KAFKA_TOPIC_PREFIX`);
    schemaIdOf(m.value); // not Confluent-framed: poison, before asking the registry anything
    return name;
  };
  const undecodable = (err: unknown) =>
    classify(err) === 'retryable' ? err : new RapflowError('RECORD_UNDECODABLE', err instanceof Error ? err.message : 'undecodable', { cause: err });
  const decoded = (name: RecordName, record: unknown, writeTime: number | undefined): Decoded =>
    writeTime === undefined ? { name, record: record as Record<string, unknown> } : { name, record: record as Record<string, unknown>, writeTime };
  // The same decoding twice: at once where the writer's schema is at hand, else through the registry.
  const decodeSync = (m: InMessage): Decoded | undefined => {
    const name = nameOf(m);
    try {
      const writeTime = writeTimeFrom(headerOf(m, HEADER.sourceLastModified)); // a header that is not a time: poison, before the registry
      const record = registry.decodeIfReady(m.value!, set.types.get(name));
      return record === undefined ? undefined : decoded(name, record, writeTime);
    } catch (err) {
      throw undecodable(err);
    }
  };
  const decode = async (m: InMessage): Promise<Decoded> => {
    const name = nameOf(m);
    try {
      const writeTime = writeTimeFrom(headerOf(m, HEADER.sourceLastModified));
      return decoded(name, await registry.decode(m.value!, set.types.get(name)), writeTime);
    } catch (err) {
      throw undecodable(err);
    }
  };
  const deadLetter = async (m: InMessage, error: RapflowError, extraHeaders: Record<string, string> = {}) => {
    const value = frame(set.types.get('DeadLetter')!, dlqSchema.id, {
      sourceTopic: m.topic,
      sourcePartition: m.partition,
      sourceOffset: Number(m.offset),
      key: m.key,
      value: m.value,
      errorCode: error.code,
      reason: error.message,
      failedAt: new Date(),
      consumerGroup: c.kafka.consumerGroup,
    });
    // Like every Kafka call: a broker away is KAFKA_UNAVAILABLE, retried, then exit 75.
    await dlq.send(
      dlqTopic,
      { key: m.key, value, headers: { ...m.headers, ...extraHeaders, [DLQ_HEADER.code]: error.code, [DLQ_HEADER.reason]: error.message.slice(0, 1000), [DLQ_HEADER.sourceTopic]: m.topic } },
      `dead-lettering ${m.topic}[${m.partition}]@${m.offset}`,
    );
  };
  return {
    kind: store.kind,
    topics: [...nameByTopic.keys()],
    dlqTopic,
    kafka,
    registry,
    set,
    decode,
    decodeSync,
    sink: store.sink,
    deadLetter,
    check: store.check,
    close: async () => {
      await Promise.allSettled([dlq.close(), store.close()]);
    },
  };
}

/** What a batch did, for a caller that follows the consumer (backfill's progress). */
export interface BatchDone {
  topic: string;
  partition: number;
  /** Records of the partition after this batch, as far as the client knows. */
  lag: number | undefined;
  records: number;
  written: number;
  deadLettered: number;
}

export interface ConsumerOptions {
  onBatch?: (b: BatchDone) => void;
  /**
   * True when the record is a dead letter for this reason already, so none is produced again (a
   * backfill re-reads records the running consumer dead-lettered).
   */
  alreadyDeadLettered?: (m: InMessage, error: RapflowError) => boolean;
}

export async function startConsumer(ctx: CliContext, log: Logger, options: ConsumerOptions = {}): Promise<ConsumerHandle> {
  const c = ctx.config;
  const path = await openConsumePath(ctx, log);
  const { kafka, registry, decode, decodeSync, sink } = path;
  const known = options.alreadyDeadLettered;
  const deadLetter = known
    ? async (m: InMessage, error: RapflowError) => {
        if (known(m, error)) return false;
        await path.deadLetter(m, error);
        return true;
      }
    : path.deadLetter;
  const onBatch = options.onBatch;

  // SIGTERM (a pod stopping) must not wait out a minute of backoff: a stop ends retry waits at once.
  const stopping = new AbortController();
  const metrics = new ConsumerMetrics();
  let last = Date.now();
  // Batches of several partitions run at once: idle means none is in hand.
  let inHand = 0;
  const totals: ConsumeTotals = { sink: path.kind, records: 0, written: 0, deadLettered: 0, retries: 0 };
  let consumer;
  try {
    // Each batch is decoded as soon as it is fetched; its write runs after the earlier ones of
    // its partition, beside other partitions' and while the next batches are fetched (flow.ts).
    consumer = await kafka.consumeBatches(
      path.topics,
      c.kafka.consumerGroup,
      async (messages, heartbeat, lag) => {
        inHand++;
        const t0 = Date.now();
        const { topic, partition, offset } = messages[0]!;
        const deps = { decode, decodeSync, sink, deadLetter, log, heartbeat, retry: CONSUME_RETRY, signal: stopping.signal };
        const interrupted = (err: unknown) => {
          if (err instanceof RetryInterrupted) log.warn({ topic, partition, offset, reason: err.cause instanceof Error ? err.cause.message : String(err.cause) }, 'stopping: retry wait interrupted, the batch left uncommitted');
          return err;
        };
        let batch: DecodedBatch;
        try {
          batch = await decodeBatch(messages, deps);
        } catch (err) {
          inHand--;
          last = Date.now();
          throw interrupted(err);
        }
        const decodedAt = Date.now();
        return async () => {
          let o: BatchOutcome;
          try {
            o = await writeBatch(batch, deps);
          } catch (err) {
            throw interrupted(err);
          } finally {
            inHand--;
            last = Date.now();
          }
          metrics.recordsIn.inc({ topic }, o.records);
          metrics.written.inc({ topic }, o.written);
          metrics.deadLettered.inc({ topic }, o.deadLettered);
          metrics.retries.inc(o.retries);
          metrics.batchSeconds.observe((Date.now() - t0) / 1000);
          if (lag !== undefined) metrics.lag.set({ topic, partition: String(partition) }, lag);
          totals.records += o.records;
          totals.written += o.written;
          totals.deadLettered += o.deadLettered;
          totals.retries += o.retries;
          // ms: from fetched to written (decoding, waiting for its turn, writing); decodeMs of it decoding.
          log.info({ topic, partition, ...o, ms: Date.now() - t0, decodeMs: decodedAt - t0 }, 'batch written');
          onBatch?.({ topic, partition, lag, records: o.records, written: o.written, deadLettered: o.deadLettered });
        };
      },
      c.kafka.consumerTuning,
    );
  } catch (err) {
    await path.close();
    throw err;
  }
  // The heap V8 may grow to (NODE_OPTIONS, CONSUMER_NODE_OPTIONS): unbounded by default, it is most of the consumer's memory.
  const heapLimitMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
  log.info({ group: c.kafka.consumerGroup, topics: path.topics, sink: path.kind, heapLimitMb }, 'consuming');
  const finished = consumer.done.finally(async () => {
    await path.close();
    log.info(totals, 'stopped');
  });
  const checks = {
    kafka: () => kafka.ping(),
    registry: () => registry.ping(),
    [path.kind === 'stargate' ? 'stargate' : 'cassandra']: path.check,
  };
  const stop = () => {
    stopping.abort();
    return consumer.stop();
  };
  return { stop, metrics, checks, finished: finished.then(() => totals), lastActivity: () => (inHand > 0 ? Date.now() : last) };
}

export function registerConsume(program: Command, ctx: CliContext): void {
  program
    .command('consume')
    .description('consume the rap topics into Cassandra: decode, write in batches, dead-letter poison records, commit after writing')
    .addOption(new Option('--idle-exit <seconds>', 'stop once no record arrived for this long (for runs and tests; a Deployment never sets it)').argParser((v) => seconds(v, '--idle-exit')))
    .action(async (opts: { idleExit?: number }) => {
      const c = ctx.config;
      const log = loggerOf(c, 'consume', false);
      log.info({ config: redactedConfig(c) }, 'configuration');
      const handle = await startConsumer(ctx, log);
      const server = await serveHealth(c.http.host, c.http.port, handle.metrics, handle.checks);
      const stop = () => void handle.stop();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      const idle = opts.idleExit ? stopWhenIdle(handle, opts.idleExit) : undefined;
      try {
        const t = await handle.finished;
        ctx.out(`consumed ${count(t.records, 'record')}: ${t.written} written, ${t.deadLettered} dead-lettered, ${count(t.retries, 'retried batch', 'retried batches')} (${t.sink === 'stargate' ? 'through Stargate' : 'over CQL'})`);
      } finally {
        if (idle) clearInterval(idle);
        server.close();
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
      }
    });
}

/** Stops the consumer once nothing arrived for `seconds`: how a run knows it has drained the topics. */
export function stopWhenIdle(handle: ConsumerHandle, seconds: number): NodeJS.Timeout {
  return setInterval(() => {
    if (Date.now() - handle.lastActivity() > seconds * 1000) void handle.stop();
  }, 250);
}
