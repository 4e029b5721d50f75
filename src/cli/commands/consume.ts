// `rapflow consume`: the long-running consumer (a Kubernetes Deployment) writing the rap topics into Cassandra.
import { Option, type Command } from 'commander';
import { frame, schemaIdOf } from '../../codec/confluent.js';
import { loadSchemaSet, RECORD_NAMES, topicOf, type RecordName } from '../../codec/schemas.js';
import { redactedConfig } from '../../config/index.js';
import { projectPath } from '../../config/paths.js';
import { classify, RapflowError } from '../../errors.js';
import { processBatch, type InMessage } from '../../pipeline/consume.js';
import { RetryInterrupted, type RetryPolicy } from '../../retry.js';
import { DLQ_HEADER, writeTimeOf } from '../../transport/topics.js';
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

export async function startConsumer(ctx: CliContext, log: Logger): Promise<ConsumerHandle> {
  const c = ctx.config;
  const set = loadSchemaSet(projectPath('avro'));
  const registry = registryOf(c);
  const dlqSchema = (await registry.registerAll(set, ['DeadLetter'])).get('DeadLetter')!;
  const nameByTopic = new Map<string, RecordName>(RECORD_NAMES.filter((n) => n !== 'DeadLetter').map((n) => [topicOf(n, c.kafka.topicPrefix), n]));
  const kafka = kafkaOf(c, 'consume');
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
  const sink = store.sink;

  const decode = async (m: InMessage) => {
    const name = nameByTopic.get(m.topic)!;
    schemaIdOf(m.value); // not Confluent-framed: poison, before asking the registry anything
    try {
      const writeTime = writeTimeOf(m.headers); // a header that is not a time: poison, before the registry
      const record = (await registry.decode(m.value!, set.types.get(name))) as Record<string, unknown>;
      return writeTime === undefined ? { name, record } : { name, record, writeTime };
    } catch (err) {
      if (classify(err) === 'retryable') throw err;
      throw new RapflowError('RECORD_UNDECODABLE', err instanceof Error ? err.message : 'undecodable', { cause: err });
    }
  };
  const deadLetter = async (m: InMessage, error: RapflowError) => {
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
      { key: m.key, value, headers: { ...m.headers, [DLQ_HEADER.code]: error.code, [DLQ_HEADER.reason]: error.message.slice(0, 1000), [DLQ_HEADER.sourceTopic]: m.topic } },
      `dead-lettering ${m.topic}[${m.partition}]@${m.offset}`,
    );
  };

  // SIGTERM (a pod stopping) must not wait out a minute of backoff: a stop ends retry waits at once.
  const stopping = new AbortController();
  const metrics = new ConsumerMetrics();
  let last = Date.now();
  // Batches of several partitions run at once: idle means none is in hand.
  let inHand = 0;
  const totals: ConsumeTotals = { sink: store.kind, records: 0, written: 0, deadLettered: 0, retries: 0 };
  let consumer;
  try {
    consumer = await kafka.consumeBatches([...nameByTopic.keys()], c.kafka.consumerGroup, async (messages, heartbeat, lag) => {
      inHand++;
      const t0 = Date.now();
      const { topic, partition } = messages[0]!;
      let o: Awaited<ReturnType<typeof processBatch>>;
      try {
        o = await processBatch(messages, { decode, sink, deadLetter, log, heartbeat, retry: CONSUME_RETRY, signal: stopping.signal });
      } catch (err) {
        if (err instanceof RetryInterrupted) log.warn({ topic, partition, offset: messages[0]!.offset, reason: err.cause instanceof Error ? err.cause.message : String(err.cause) }, 'stopping: retry wait interrupted, the batch left uncommitted');
        throw err;
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
      log.info({ topic: messages[0]!.topic, partition: messages[0]!.partition, ...o, ms: Date.now() - t0 }, 'batch written');
    });
  } catch (err) {
    await Promise.allSettled([dlq.close(), store.close()]);
    throw err;
  }
  log.info({ group: c.kafka.consumerGroup, topics: [...nameByTopic.keys()], sink: store.kind }, 'consuming');
  const finished = consumer.done.finally(async () => {
    await Promise.allSettled([dlq.close(), store.close()]);
    log.info(totals, 'stopped');
  });
  const checks = {
    kafka: () => kafka.ping(),
    registry: () => registry.ping(),
    [store.kind === 'stargate' ? 'stargate' : 'cassandra']: store.check,
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
