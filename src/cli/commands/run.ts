// `rapflow run` (what `npm start` runs): the Argo workflow's steps, locally, on data/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { loadSchemaSet } from '../../codec/schemas.js';
import { redactedConfig } from '../../config/index.js';
import { projectPath } from '../../config/paths.js';
import { discover, upload } from '../../pipeline/discover.js';
import { validateSources, validationCounts } from '../../pipeline/validate.js';
import { CqlLedger } from '../../store/cql/ledger.js';
import { LocalSource } from '../../source/local.js';
import { rapTopics } from '../../transport/topics.js';
import { cqlOf, initSchema, kafkaOf, loggerOf, registryOf, runIdOf, storeOf, type SinkKind } from '../adapters.js';
import type { Config } from '../../config/index.js';
import type { CliContext } from '../context.js';
import { count, formatReports } from '../format.js';
import { RapflowError } from '../../errors.js';
import { documentLag, type Lag, type VerifyReport } from '../../pipeline/verify.js';
import { CqlDocuments } from '../../store/cql/documents.js';
import { COLLECTIONS } from '../../store/stargate/schema.js';
import { openSplitter, type Splitter } from './ingest.js';
import { startConsumer, type ConsumeTotals } from './consume.js';
import { writeReport } from './report.js';
import { verifyManifests } from './verify.js';
import { stackFrom } from './stack.js';
import { filesLine } from './validate.js';

const DOCUMENTS_OF = { Song: 'songs', Artist: 'artists', Meetup: 'meetups' } as const;

/** Documents per collection, over CQL (a partition each), for the collections the keyspace has; none when it has none. */
export async function documentCounts(c: Config): Promise<Partial<Record<Lag['what'], number>>> {
  const cql = cqlOf(c);
  try {
    await cql.connect();
    const docs = new CqlDocuments(cql);
    const present = await docs.present(Object.values(COLLECTIONS));
    const out: Partial<Record<Lag['what'], number>> = {};
    for (const [kind, collection] of Object.entries(COLLECTIONS) as [keyof typeof COLLECTIONS, string][]) {
      if (present.has(collection)) out[DOCUMENTS_OF[kind]] = await docs.count(collection);
    }
    return out;
  } finally {
    await cql.close();
  }
}

export function registerRun(program: Command, outer: CliContext): void {
  program
    .command('run')
    .description('the whole pipeline on the sample data, as the Argo workflow runs it (what `npm start` runs): stack, schemas, topics, upload, consume, discover, split, verify, report')
    .addOption(new Option('--data <dir>', 'Rap-as-Code files to ingest').default(projectPath('data'), "the checkout's data/"))
    .option('--out <dir>', 'where the run writes its list and manifest', '.local/run')
    .action(async (opts: { data: string; out: string }) => {
      let ctx = outer; // replaced below by the run's own choice of backend, which every step sees
      const given = ctx.config;
      loggerOf(given, 'run', true).info({ config: redactedConfig(given) }, 'configuration');
      const times: [string, number][] = [];
      const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
        const t0 = Date.now();
        const value = await fn();
        times.push([name, (Date.now() - t0) / 1000]);
        return value;
      };

      const services = await step('stack', () => stackFrom(ctx).up());
      ctx.out(formatReports(services));
      // The designed path is Stargate; without a coordinator the run goes on over CQL, and says so.
      const stargate = services.find((r) => r.name === 'stargate');
      const sink: SinkKind = given.sink ?? (stargate?.state === 'up' ? 'stargate' : 'cql');
      const readApi = ctx.env.READ_API ? given.read.api : sink;
      const c: Config = { ...given, sink, read: { ...given.read, api: readApi } };
      ctx = { ...ctx, config: c };
      const path =
        `writes ${sink === 'stargate' ? 'through Stargate (REST v2 rows, Document API documents)' : 'over CQL'}, reads ${readApi === 'stargate' ? 'through Stargate REST' : 'over CQL'}` +
        (stargate?.state === 'not installed' && given.sink === undefined ? '; Stargate not installed, so not used (`rapflow stack status` says how to get it)' : '');
      await step('schema and topics', async () => {
        await registryOf(c).registerAll(loadSchemaSet(projectPath('avro')));
        await kafkaOf(c, 'admin').ensureTopics(rapTopics(c.kafka.topicPrefix));
        await initSchema(c, sink);
      });
      const { report: validation } = await step('validate', () => validateSources([new LocalSource(opts.data)], loadSchemaSet(projectPath('avro')).types));
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
      const manifestFile = resolve(opts.out, 'manifest.json');

      // The consumer runs beside split, as the Deployment does on a cluster; verify waits for it.
      const consumer = await step('consumer start', () => startConsumer(ctx, loggerOf(c, 'consume', true)));
      let consumed: ConsumeTotals;
      let result: Awaited<ReturnType<Splitter['run']>>;
      let verified: VerifyReport;
      try {
        result = await step('split', async () => {
          const splitter = await openSplitter(ctx, runId, loggerOf(c, 'split', true).child({ runId }));
          try {
            return await splitter.run(found.todo);
          } finally {
            await splitter.close();
          }
        });
        await writeFile(manifestFile, JSON.stringify(result.manifest, null, 2));
        if (result.error) throw result.error;
        verified = await step('verify', () => verifyManifests(ctx, [result.manifest], 120));
      } finally {
        await consumer.stop();
        consumed = await consumer.finished;
      }
      const report = await step('report', () => writeReport(ctx, [result.manifest], join(opts.out, 'report'), { lyrics: 40, verified }));

      const m = result.manifest;
      const by = (status: string) => m.files.filter((f) => f.status === status);
      const checked = validationCounts(validation);
      const rows = report.data.counts.rows;
      ctx.out('');
      ctx.out(`run ${runId}`);
      ctx.out(`files:      ${filesLine(checked)}, ${uploaded.length} uploaded, ${found.todo.length} new, ${found.finished} already ingested`);
      ctx.out(`split:      ${by('split').length} split, ${by('quarantined').length} quarantined${by('busy').length ? `, ${by('busy').length} busy in another run` : ''}`);
      const topics = Object.entries(m.totals);
      ctx.out(`records:    ${topics.length ? topics.map(([t, n]) => `${t} ${n}`).join(', ') : 'none (nothing new)'}`);
      ctx.out(`path:       ${path}`);
      ctx.out(`consume:    ${count(consumed.records, 'record')} read, ${consumed.written} written, ${consumed.deadLettered} dead-lettered`);
      ctx.out(`verify:     ${verified.ok ? 'ok' : 'MISMATCH'}, ${count(verified.files.length, 'file')} reconciled${verified.ok ? '' : `: ${verified.files.filter((f) => f.status === 'mismatch').map((f) => f.key).join(', ')}`}`);
      ctx.out(`tables:     ${rows.artists} artists, ${rows.songs} songs, ${rows.lyricLines} lyric lines, ${rows.meetups} meetups (keyspace ${c.cassandra.keyspace})`);
      // Documents exist once Stargate wrote (or db init made collections); a run writes them only for what it consumes.
      const docs = await documentCounts(c);
      if (Object.keys(docs).length > 0) {
        ctx.out(`documents:  ${docs.songs ?? 0} songs, ${docs.artists ?? 0} artists, ${docs.meetups ?? 0} meetups (Document API collections)`);
        const lag = documentLag({ songs: rows.songs, artists: rows.artists, meetups: rows.meetups }, docs);
        if (lag.length > 0) {
          ctx.out(`warning:    the documents lag the rows (${lag.map((l) => `${l.documents} of ${l.rows} ${l.what}`).join(', ')}): runs write documents only for the records they consume; backfill them (docs/tutorials/operate.md#switching-the-sink-and-backfilling), then \`rapflow verify --all\``);
        }
      }
      ctx.out(`quality:    ${count(report.data.counts.quarantined, 'file')} in quarantine, ${count(report.data.counts.deadLettered, 'dead-lettered record')}`);
      ctx.out(`time:       ${times.map(([n, t]) => `${n} ${t.toFixed(1)} s`).join(', ')}`);
      ctx.out(`manifest:   ${manifestFile}`);
      ctx.out(`report:     ${report.html}`);
      const someone = report.data.artists[0]?.name;
      if (someone) ctx.out(`next:       npx rapflow query songs --artist ${JSON.stringify(someone)}`);
      if (!verified.ok) throw new RapflowError('VERIFY_MISMATCH', 'the run does not reconcile: see the verify line above and the report');
    });
}
