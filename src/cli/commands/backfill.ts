// `rapflow backfill`: the rap topics again from their beginning into the sink, in a consumer group of its own, ending in verify --all.
import { Option, type Command } from 'commander';
import { topicOf, RECORD_NAMES } from '../../codec/schemas.js';
import type { Config } from '../../config/index.js';
import { RapflowError } from '../../errors.js';
import { DLQ_HEADER } from '../../transport/topics.js';
import { formatVerify, ledgerManifestOf, verifyManifests } from './verify.js';
import { kafkaOf, loggerOf, sinkKindOf } from '../adapters.js';
import type { CliContext } from '../context.js';
import { count } from '../format.js';
import { seconds } from '../options.js';
import { startConsumer, stopWhenIdle, type BatchDone } from './consume.js';

/** Partitions whose oldest records Kafka has deleted (retention): what they held cannot be backfilled from the topics. */
interface Truncated {
  topic: string;
  partition: number;
  low: string;
}

export function registerBackfill(program: Command, ctx: CliContext): void {
  program
    .command('backfill')
    .description(
      're-consume the rap topics from their beginning into the sink (SINK) in a consumer group of its own, then verify the whole ingest ledger: brings a store up to date after a switch of sink (documents through Stargate after runs over CQL) or a loss of rows; idempotent (upserts: over CQL at each record\'s version time, through Stargate in topic order, the last arrival winning)',
    )
    .requiredOption('--group <name>', "the backfill's own consumer group, never the running consumer's: a new one starts at the beginning of the topics")
    .option('--resume', 'continue an interrupted backfill in the same --group, from where it committed')
    .addOption(new Option('--idle-exit <seconds>', 'stop once no record arrived for this long (the topics are read to their end)').default(10).argParser((v) => seconds(v, '--idle-exit')))
    .addOption(new Option('--progress <seconds>', 'how often to print progress on stderr').default(5).argParser((v) => seconds(v, '--progress')))
    .action(async (opts: { group: string; resume?: boolean; idleExit: number; progress: number }) => {
      const c = ctx.config;
      if (opts.group === c.kafka.consumerGroup) {
        throw new RapflowError('CONFIG_INVALID', `--group ${opts.group} is the consumer's own group (KAFKA_CONSUMER_GROUP): a backfill there would move the running consumer's offsets; name a group of its own`);
      }
      const kafka = kafkaOf(c, 'backfill');
      const topics = RECORD_NAMES.filter((n) => n !== 'DeadLetter').map((n) => topicOf(n, c.kafka.topicPrefix));
      const committed = await kafka.committedOffsets(opts.group, topics);
      const started = Object.values(committed).some((parts) => Object.values(parts).some((o) => o !== '-1'));
      if (started && !opts.resume) {
        throw new RapflowError('CONFIG_INVALID', `group ${opts.group} has committed offsets already, so it would not start at the beginning: pass --resume to continue that backfill, or name a new --group`);
      }

      // What Kafka still holds: a partition whose low watermark is past 0 lost its oldest records to retention.
      const truncated: Truncated[] = [];
      let remaining = 0n;
      const behind = new Map<string, number>();
      for (const topic of topics) {
        for (const r of await kafka.offsetRanges(topic)) {
          if (BigInt(r.low) > 0n) truncated.push({ topic, partition: r.partition, low: r.low });
          const from = BigInt(committed[topic]?.[String(r.partition)] ?? '-1');
          const left = BigInt(r.high) - (from >= 0n ? from : BigInt(r.low));
          behind.set(`${topic}[${r.partition}]`, Number(left > 0n ? left : 0n));
          remaining += left > 0n ? left : 0n;
        }
      }
      for (const t of truncated) {
        ctx.err(`backfill: warning: ${t.topic}[${t.partition}] begins at offset ${t.low}: Kafka has deleted its older records (retention.ms), so files split before them cannot be backfilled from the topics; verify below names them: split them again from the bucket (docs/tutorials/operate.md#past-the-topics-retention)`);
      }
      const sink = sinkKindOf(c) === 'stargate' ? 'through Stargate' : 'over CQL';
      ctx.err(`backfill: group ${opts.group}, ${opts.resume && started ? 'resuming where it committed' : 'from the beginning'}, ${sink}: about ${remaining} records to read`);

      const config: Config = { ...c, kafka: { ...c.kafka, consumerGroup: opts.group } };
      const inner: CliContext = { ...ctx, config };
      const done = { records: 0, written: 0, deadLettered: 0 };
      const onBatch = (b: BatchDone) => {
        done.records += b.records;
        done.written += b.written;
        done.deadLettered += b.deadLettered;
        if (b.lag !== undefined) behind.set(`${b.topic}[${b.partition}]`, b.lag);
      };
      // Committed transactions leave a marker that takes an offset, so "about": it ends a little above 0.
      const progress = () => {
        const left = [...behind.values()].reduce((a, b) => a + b, 0);
        ctx.err(`backfill: ${count(done.records, 'record')} read, ${done.written} written, ${done.deadLettered} dead-lettered; about ${left} to go`);
      };
      // A record the running consumer dead-lettered is read again here: it stays one dead letter per reason.
      const letters = await kafka.readToEnd(topicOf('DeadLetter', c.kafka.topicPrefix), 120_000);
      const idOf = (topic: string, key: Buffer | null, code: string, reason: string) => `${topic}\n${key?.toString('base64') ?? ''}\n${code}\n${reason.slice(0, 1000)}`;
      const known = new Set(letters.map((m) => idOf(m.headers[DLQ_HEADER.sourceTopic] ?? '', m.key, m.headers[DLQ_HEADER.code] ?? '', m.headers[DLQ_HEADER.reason] ?? '')));
      const handle = await startConsumer(inner, loggerOf(config, 'backfill', true), {
        onBatch,
        alreadyDeadLettered: (m, error) => known.has(idOf(m.topic, m.key, error.code, error.message)),
      });
      const idle = stopWhenIdle(handle, opts.idleExit);
      const ticker = setInterval(progress, opts.progress * 1000);
      const stop = () => void handle.stop();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      try {
        await handle.finished;
      } finally {
        clearInterval(idle);
        clearInterval(ticker);
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
      }
      progress();
      ctx.out(`backfilled ${count(done.records, 'record')} in group ${opts.group} (${sink}): ${done.written} written, ${done.deadLettered} dead-lettered`);

      const report = await verifyManifests(inner, [await ledgerManifestOf(inner)], 0);
      ctx.out(formatVerify(report));
      if (!report.ok) {
        const bad = report.files.filter((f) => f.status === 'mismatch');
        throw new RapflowError('VERIFY_MISMATCH', `after the backfill, ${count(bad.length, 'file')} ${bad.length === 1 ? 'does' : 'do'} not reconcile: ${bad.map((f) => f.key).join(', ')}${truncated.length ? ' (records past the topics\' retention: split these files again from the bucket)' : ''}`);
      }
    });
}
