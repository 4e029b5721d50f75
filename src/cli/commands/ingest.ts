// `rapflow topics create`, `db init`, `upload`, `discover`, `split`: the batch half of the pipeline.
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { loadSchemaSet, RECORD_NAMES, topicOf } from '../../codec/schemas.js';
import { redactedConfig } from '../../config/index.js';
import { projectPath } from '../../config/paths.js';
import { RapflowError } from '../../errors.js';
import { discover, upload } from '../../pipeline/discover.js';
import type { SchemaIds } from '../../pipeline/encode.js';
import { WorkerEncoder } from '../../pipeline/encoder.js';
import { splitAll, type Manifest } from '../../pipeline/split.js';
import { CqlLedger } from '../../store/cql/ledger.js';
import { LocalSource } from '../../source/local.js';
import { enableNotifications, parseS3Uri } from '../../source/s3.js';
import { eventsTopic, rapTopics } from '../../transport/topics.js';
import { objectsOfEvent, wanted } from '../../pipeline/follow.js';
import type { Logger } from '../../observability/logger.js';
import { DEFAULT_YAML_LIMITS } from '../../model/yaml.js';
import { CQL_SCHEMA, cqlOf, initSchema, kafkaOf, loggerOf, registryOf, runIdOf, sinkKindOf, storeOf } from '../adapters.js';
import type { CliContext } from '../context.js';
import { count } from '../format.js';
import { wholeNumber } from '../options.js';
import { Progress } from '../progress.js';

export function registerIngest(program: Command, ctx: CliContext): void {
  const c = ctx.config;

  program
    .command('topics')
    .description('Kafka topics')
    .command('create')
    .description('create the rap topics that do not exist yet (idempotent)')
    .action(async () => {
      const created = await kafkaOf(c, 'admin').ensureTopics(rapTopics(c.kafka.topicPrefix));
      ctx.out(created.length ? `created: ${created.join(', ')}` : 'all topics exist');
    });

  program
    .command('db')
    .description('the Cassandra keyspace')
    .command('init')
    .description('create the keyspace and tables (idempotent); with SINK=stargate, the tables and document collections through Stargate first')
    .action(async () => {
      const { stargate: sg, columnsAdded, untimed } = await initSchema(c, sinkKindOf(c));
      ctx.out(
        `keyspace ${c.cassandra.keyspace} ready (${CQL_SCHEMA.length} tables` +
          (sg ? `; through Stargate: ${count(sg.tablesCreated.length, 'table')} and ${count(sg.collectionsCreated.length, 'collection')} created, the rest there already` : '') +
          ')' +
          (columnsAdded.length ? `; columns added for the datamodel: ${columnsAdded.join(', ')}` : ''),
      );
      if (untimed.size > 0) {
        const tables = [...untimed].map(([t, cols]) => `${t} (${cols.join(', ')})`).join(', ');
        ctx.err(
          `db init: warning: ${tables} of keyspace ${c.cassandra.keyspace} have non-frozen lists (made before lists were frozen): kept, and written over CQL without the version time, ` +
            'the last write winning by arrival; for version order, use a new keyspace: CASSANDRA_KEYSPACE=<new> rapflow db init, then rapflow backfill (docs/data-design.md#list-columns-are-frozen)',
        );
      }
    });

  program
    .command('upload')
    .description('put local Rap-as-Code files into the inbox bucket (content type, SHA-256 checksum)')
    .argument('<dir>', 'file or folder')
    .option('--json', 'machine-readable output')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const store = storeOf(c);
      await store.ensureBucket(c.s3.inboxBucket);
      const done = await upload(new LocalSource(dir), store, c.s3.inboxBucket, c.s3.inboxPrefix, dir);
      if (opts.json) ctx.out(JSON.stringify(done, null, 2));
      else ctx.out(`uploaded ${count(done.length, 'file')} to s3://${c.s3.inboxBucket}/${c.s3.inboxPrefix}`);
    });

  program
    .command('notify')
    .description("send the inbox's object-created events (under S3_INBOX_PREFIX) to a MinIO notification target, e.g. the webhook an Argo Events EventSource listens on (idempotent)")
    .requiredOption('--arn <arn>', "the target's ARN as MinIO names it at start (arn:minio:sqs::<ID>:webhook for MINIO_NOTIFY_WEBHOOK_*_<ID>)")
    .action(async (opts: { arn: string }) => {
      if (!/^arn:minio:sqs:[^:]*:[^:]+:[a-z]+$/.test(opts.arn)) {
        throw new RapflowError('CONFIG_INVALID', `--arn ${opts.arn}: expected a MinIO notification target ARN, arn:minio:sqs::<ID>:<type>`);
      }
      const store = storeOf(c);
      await store.ensureBucket(c.s3.inboxBucket);
      await enableNotifications(store.client, c.s3.inboxBucket, c.s3.inboxPrefix, '', opts.arn);
      ctx.out(`s3://${c.s3.inboxBucket}/${c.s3.inboxPrefix}: object-created events go to ${opts.arn}`);
    });

  program
    .command('discover')
    .description('list inbox objects no run has finished (by key and etag) into a JSON file')
    .requiredOption('--out <file>', 'where to write the list (an Argo artifact)')
    .addOption(new Option('--max <n>', 'at most this many files per run').argParser((v) => wholeNumber(v, '--max', 1)))
    .action(async (opts: { out: string; max?: number }) => {
      const cql = cqlOf(c);
      try {
        await cql.connect();
        const found = await discover(storeOf(c), new CqlLedger(cql), c.s3.inboxBucket, c.s3.inboxPrefix, opts.max);
        await writeFile(opts.out, JSON.stringify(found.todo, null, 2));
        ctx.out(`${found.todo.length} to split, ${found.finished} already done${found.deferred ? `, ${found.deferred} left for the next run` : ''}: ${opts.out}`);
      } finally {
        await cql.close();
      }
    });

  program
    .command('split')
    .description('validate each object whole, then produce its records to Kafka in one transaction, or quarantine it')
    .argument('[objects...]', 's3://bucket/key addresses')
    .option('--from-list <file>', 'the JSON list `rapflow discover` wrote')
    .option('--manifest <file>', 'where to write what was produced (for `rapflow verify`); with --follow, one JSON line per event')
    .option('--shard <k/n>', 'with --from-list: take only the k-th of n equal shares of the list (k from 0), so n pods split one list in parallel')
    .option('--follow', 'keep running: split each object MinIO reports as created in the inbox (bucket notifications on Kafka)')
    .action(async (objects: string[], opts: { fromList?: string; shard?: string; manifest?: string; follow?: boolean }) => {
      let targets = objects.map((o) => {
        const { bucket, prefix } = parseS3Uri(o);
        if (!prefix) throw new RapflowError('CONFIG_INVALID', `${o}: name an object, not a bucket`);
        return { bucket, key: prefix };
      });
      if (opts.fromList) targets.push(...(JSON.parse(await readFile(opts.fromList, 'utf8')) as { bucket: string; key: string }[]));
      let shard: { k: number; n: number } | undefined;
      if (opts.shard) {
        if (!opts.fromList) throw new RapflowError('CONFIG_INVALID', '--shard divides a --from-list: pass one');
        shard = parseShard(opts.shard);
        targets = shareOf(targets, shard);
      }
      if (opts.follow && targets.length > 0) throw new RapflowError('CONFIG_INVALID', '--follow takes its objects from the events topic: name none');
      // An empty list is a run with nothing new (or an empty shard): it writes an empty manifest.
      if (!opts.follow && targets.length === 0 && !opts.fromList) throw new RapflowError('CONFIG_INVALID', 'nothing to split: name objects, pass --from-list, or --follow');
      if (!opts.follow && !opts.manifest) throw new RapflowError('CONFIG_INVALID', '--manifest <file> is required');

      const runId = runIdOf(c);
      const log = loggerOf(c, 'split', Boolean(process.stderr.isTTY) && !opts.follow).child({ runId });
      log.info({ config: redactedConfig(c) }, 'configuration');
      // One transactional id per shard: pods of one run must not fence each other.
      const splitter = await openSplitter(ctx, runId, log, shard);
      if (opts.follow) {
        await followInbox(ctx, splitter, log, opts.manifest);
        return;
      }
      const progress = new Progress(targets.length, 'split');
      let result: Awaited<ReturnType<Splitter['run']>>;
      try {
        result = await splitter.run(targets, (r, done) => progress.update(done, `${r.status} ${r.key}`));
      } finally {
        await splitter.close();
      }
      await writeFile(opts.manifest!, JSON.stringify(result.manifest, null, 2));
      ctx.out(summary(result.manifest, opts.manifest!));
      if (result.error) throw result.error;
    });
}

/** "k/n" with 0 <= k < n. */
export function parseShard(text: string): { k: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const k = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || n < 1 || k >= n) throw new RapflowError('CONFIG_INVALID', `--shard ${text}: expected k/n with 0 <= k < n, e.g. 0/4`);
  return { k, n };
}

/** Round-robin share of a list: every item lands in exactly one of the n shares. */
export const shareOf = <T>(items: T[], { k, n }: { k: number; n: number }): T[] => items.filter((_, i) => i % n === k);

export interface Splitter {
  run(targets: { bucket: string; key: string }[], onFile?: Parameters<typeof splitAll>[3]): ReturnType<typeof splitAll>;
  close(): Promise<void>;
}

/** Everything split needs, connected once: registry ids, a transactional producer, the encoder thread, the ledger. */
export async function openSplitter(ctx: CliContext, runId: string, log: Logger, shard?: { k: number; n: number }): Promise<Splitter> {
  const c = ctx.config;
  const set = loadSchemaSet(projectPath('avro'));
  const registered = await registryOf(c).registerAll(set, RECORD_NAMES.filter((n) => n !== 'DeadLetter'));
  const ids: SchemaIds = new Map([...registered].map(([name, r]) => [name, { id: r.id, version: r.version }]));
  const limits = { ...DEFAULT_YAML_LIMITS, maxBytes: c.limits.maxFileBytes };
  const topics = rapTopics(c.kafka.topicPrefix).map((t) => t.name);
  const producer = await kafkaOf(c, 'split').transactionalProducer(`rapflow-split-${runId}${shard ? `-${shard.k}of${shard.n}` : ''}`, topics);
  const encoder = new WorkerEncoder({ avroDir: projectPath('avro'), ids: [...ids], topicPrefix: c.kafka.topicPrefix, limits, partitions: producer.partitionsByTopic() });
  const cql = cqlOf(c);
  try {
    await cql.connect();
  } catch (err) {
    await Promise.allSettled([producer.close(), encoder.close()]);
    throw err;
  }
  const deps = { store: storeOf(c, log), ledger: new CqlLedger(cql), producer, encoder, log };
  const schemas = Object.fromEntries([...ids].map(([name, r]) => [topicOf(name, c.kafka.topicPrefix), r]));
  const opts = { runId, topicPrefix: c.kafka.topicPrefix, quarantinePrefix: c.s3.quarantinePrefix, limits, schemas };
  return {
    run: (targets, onFile) => splitAll(targets, deps, opts, onFile),
    close: async () => {
      await Promise.allSettled([producer.close(), cql.close(), encoder.close()]);
    },
  };
}

/** The local twin of the Argo Events sensor: split inbox objects as MinIO reports them, until SIGTERM. */
async function followInbox(ctx: CliContext, splitter: Splitter, log: Logger, manifestFile?: string): Promise<void> {
  const c = ctx.config;
  const kafka = kafkaOf(c, 'split-follow');
  await kafka.ensureTopics([eventsTopic(c.s3.eventsTopic)]);
  const follower = await kafka.follow(
    c.s3.eventsTopic,
    c.kafka.followGroup,
    async (value) => {
      const objects = objectsOfEvent(value).filter((o) => wanted(o, c.s3.inboxBucket, c.s3.inboxPrefix));
      if (objects.length === 0) return;
      const { manifest, error } = await splitter.run(objects);
      if (manifestFile) await appendFile(manifestFile, `${JSON.stringify(manifest)}\n`);
      if (error) throw error;
    },
    () => log.info({ topic: c.s3.eventsTopic, group: c.kafka.followGroup, bucket: c.s3.inboxBucket, prefix: c.s3.inboxPrefix }, 'following inbox events'),
  );
  const stop = () => {
    log.info('stopping: finishing the file in hand');
    void follower.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await follower.done;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await splitter.close();
  }
  log.info('stopped');
}

export function summary(m: Manifest, path: string): string {
  const by = (s: string) => m.files.filter((f) => f.status === s).length;
  const lines = [
    `run ${m.runId}: ${count(m.files.length, 'file')}: ${by('split')} split, ${by('quarantined')} quarantined, ${by('skipped')} already done, ${by('busy')} busy elsewhere`,
    ...Object.entries(m.totals).map(([topic, n]) => `  ${topic.padEnd(24)} ${count(n, 'record')}`),
    ...m.files.filter((f) => f.status === 'quarantined').map((f) => `  quarantined ${f.uri}: ${count(f.problems?.length ?? 0, 'problem')}, see s3://${f.bucket}/${f.quarantinedAs}.report.json`),
    `manifest: ${path}`,
  ];
  if (m.stoppedBy) lines.push(`STOPPED EARLY: ${m.stoppedBy.code}: ${m.stoppedBy.message}`);
  return lines.join('\n');
}
