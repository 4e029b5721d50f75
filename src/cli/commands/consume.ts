// `rapflow consume`: the long-running consumer (a Kubernetes Deployment) writing the rap topics into Cassandra.
import { Option, type Command } from 'commander';
import { frame, schemaIdOf } from '../../codec/confluent.js';
import { loadSchemaSet, RECORD_NAMES, topicOf, type RecordName } from '../../codec/schemas.js';
import { projectPath } from '../../config/paths.js';
import { classify, RapflowError } from '../../errors.js';
import { processBatch, type InMessage } from '../../pipeline/consume.js';
import { DEFAULT_RETRY } from '../../retry.js';
import { CqlSink } from '../../sink/cql-sink.js';
import { cqlOf, kafkaOf, loggerOf, registryOf } from '../adapters.js';
import type { CliContext } from '../context.js';

export function registerConsume(program: Command, ctx: CliContext): void {
  program
    .command('consume')
    .description('consume the rap topics into Cassandra: decode, write in batches, dead-letter poison records, commit after writing')
    .addOption(new Option('--idle-exit <seconds>', 'stop once no record arrived for this long (for runs and tests; a Deployment never sets it)').argParser(Number))
    .action(async (opts: { idleExit?: number }) => {
      const c = ctx.config;
      const log = loggerOf(c, 'consume', false);
      const set = loadSchemaSet(projectPath('avro'));
      const registry = registryOf(c);
      const dlqSchema = (await registry.registerAll(set, ['DeadLetter'])).get('DeadLetter')!;
      const nameByTopic = new Map<string, RecordName>(RECORD_NAMES.filter((n) => n !== 'DeadLetter').map((n) => [topicOf(n, c.kafka.topicPrefix), n]));
      const kafka = kafkaOf(c, 'consume');
      const dlqTopic = topicOf('DeadLetter', c.kafka.topicPrefix);
      const dlq = await kafka.producer();
      const cql = cqlOf(c);
      await cql.connect();
      const sink = new CqlSink(cql);

      const decode = async (m: InMessage) => {
        const name = nameByTopic.get(m.topic)!;
        schemaIdOf(m.value); // not Confluent-framed: poison, before asking the registry anything
        try {
          return { name, record: (await registry.decode(m.value!, set.bundled.get(name))) as Record<string, unknown> };
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
        await dlq.send({
          topic: dlqTopic,
          acks: -1,
          messages: [{ key: m.key, value, headers: { ...m.headers, 'rapflow.dlq.code': error.code, 'rapflow.dlq.reason': error.message.slice(0, 1000) } }],
        });
      };

      let last = Date.now();
      const totals = { records: 0, written: 0, deadLettered: 0, retries: 0 };
      const consumer = await kafka.consumeBatches([...nameByTopic.keys()], c.kafka.consumerGroup, async (messages, heartbeat) => {
        last = Date.now();
        const t0 = Date.now();
        const o = await processBatch(messages, { decode, sink, deadLetter, log, heartbeat, retry: DEFAULT_RETRY });
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += o[k];
        log.info({ topic: messages[0]!.topic, partition: messages[0]!.partition, ...o, ms: Date.now() - t0 }, 'batch written');
        last = Date.now();
      });
      log.info({ group: c.kafka.consumerGroup, topics: [...nameByTopic.keys()] }, 'consuming');

      const stop = () => void consumer.stop();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      const idle = opts.idleExit
        ? setInterval(() => {
            if (Date.now() - last > opts.idleExit! * 1000) stop();
          }, 250)
        : undefined;
      try {
        await consumer.done;
      } finally {
        if (idle) clearInterval(idle);
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        await Promise.allSettled([dlq.disconnect(), cql.close()]);
        log.info(totals, 'stopped');
      }
      ctx.out(`consumed ${totals.records} records: ${totals.written} written, ${totals.deadLettered} dead-lettered, ${totals.retries} retried batches`);
    });
}
