// `rapflow run` (what `npm start` runs): the Argo workflow's steps, locally, on data/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadSchemaSet } from '../../codec/schemas.js';
import { projectPath } from '../../config/paths.js';
import { discover, upload } from '../../pipeline/discover.js';
import { validateSources } from '../../pipeline/validate.js';
import { CqlLedger } from '../../sink/cql-ledger.js';
import { LocalSource } from '../../source/local.js';
import { rapTopics } from '../../transport/topics.js';
import { CQL_SCHEMA, cqlOf, kafkaOf, loggerOf, registryOf, runIdOf, storeOf } from '../adapters.js';
import type { CliContext } from '../context.js';
import { formatReports } from '../format.js';
import { openSplitter, summary } from './ingest.js';
import { startConsumer, stopWhenIdle } from './consume.js';
import { stackFrom } from './stack.js';

export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description('the whole pipeline on the sample data, as the Argo workflow runs it (what `npm start` runs)')
    .option('--data <dir>', 'Rap-as-Code files to ingest', projectPath('data'))
    .option('--out <dir>', 'where the run writes its list and manifest', '.local/run')
    .action(async (opts: { data: string; out: string }) => {
      const c = ctx.config;
      const times: [string, number][] = [];
      const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
        const t0 = Date.now();
        const value = await fn();
        times.push([name, (Date.now() - t0) / 1000]);
        return value;
      };

      ctx.out(formatReports(await step('stack', () => stackFrom(ctx).up())));
      await step('schema and topics', async () => {
        await registryOf(c).registerAll(loadSchemaSet(projectPath('avro')));
        await kafkaOf(c, 'admin').ensureTopics(rapTopics(c.kafka.topicPrefix));
        const cql = cqlOf(c);
        try {
          await cql.connect();
          await cql.bootstrap(CQL_SCHEMA);
        } finally {
          await cql.close();
        }
      });
      const { report } = await step('validate', () => validateSources([new LocalSource(opts.data)], loadSchemaSet(projectPath('avro')).types));
      const store = storeOf(c);
      const uploaded = await step('upload', async () => {
        await store.ensureBucket(c.s3.inboxBucket);
        return upload(new LocalSource(opts.data), store, c.s3.inboxBucket, c.s3.inboxPrefix, opts.data);
      });
      const found = await step('discover', async () => {
        const cql = cqlOf(c);
        try {
          await cql.connect();
          return await discover(store, new CqlLedger(cql), c.s3.inboxBucket, c.s3.inboxPrefix);
        } finally {
          await cql.close();
        }
      });
      await mkdir(opts.out, { recursive: true });
      await writeFile(join(opts.out, 'todo.json'), JSON.stringify(found.todo, null, 2));
      const runId = runIdOf(c);
      const manifestFile = join(opts.out, 'manifest.json');
      const result = await step('split', async () => {
        if (found.todo.length === 0) return undefined;
        const splitter = await openSplitter(ctx, runId, loggerOf(c, 'split', true).child({ runId }));
        try {
          return await splitter.run(found.todo);
        } finally {
          await splitter.close();
        }
      });

      const consumed = await step('consume', async () => {
        const handle = await startConsumer(ctx, loggerOf(c, 'consume', true));
        const idle = stopWhenIdle(handle, 3);
        try {
          return await handle.finished;
        } finally {
          clearInterval(idle);
        }
      });

      const invalid = report.files.filter((f) => !f.valid);
      ctx.out('');
      ctx.out(`data: ${report.files.length} files validated, ${invalid.length} invalid; ${uploaded.length} uploaded; ${found.todo.length} new, ${found.finished} already ingested`);
      if (result) {
        await writeFile(manifestFile, JSON.stringify(result.manifest, null, 2));
        ctx.out(summary(result.manifest, manifestFile));
      } else {
        ctx.out('split: nothing new (every file is already in the ledger)');
      }
      ctx.out(`consume: ${consumed.records} records read, ${consumed.written} written to Cassandra keyspace ${c.cassandra.keyspace}, ${consumed.deadLettered} dead-lettered`);
      ctx.out(`time per step: ${times.map(([n, s]) => `${n} ${s.toFixed(1)} s`).join(', ')}`);
      ctx.out('\nNext stages, not built yet: verify, query, report.');
      if (result?.error) throw result.error;
    });
}
