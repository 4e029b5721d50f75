// bench/split: rapflow's split (read from MinIO, validate whole files, encode, produce per-file
// transactions) against a bare producer of the same Kafka client sending the same pre-encoded
// records with the same batching, for each client (kafkajs, @platformatic/kafka), in one run.
import { cpus } from 'node:os';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from '../src/codec/registry.js';
import { loadSchemaSet, RECORD_NAMES } from '../src/codec/schemas.js';
import { generateCorpus } from '../src/model/generate.js';
import type { SchemaIds } from '../src/pipeline/encode.js';
import { InlineEncoder } from '../src/pipeline/encoder.js';
import type * as EncoderModule from '../src/pipeline/encoder.js';
import { splitAll } from '../src/pipeline/split.js';
import { DEFAULT_YAML_LIMITS } from '../src/model/yaml.js';
import { CqlSession } from '../src/store/cql/session.js';
import { CqlLedger, LEDGER_TABLE } from '../src/store/cql/ledger.js';
import { ObjectStore, s3Client } from '../src/source/s3.js';
import { kafkaTransport } from '../src/transport/index.js';
import { DEFAULT_PRODUCER_TUNING, type ProducerTuning } from '../src/transport/sends.js';
import { KAFKA_CLIENTS, type KafkaClientName, type OutRecord } from '../src/transport/types.js';
import { rapTopics } from '../src/transport/topics.js';
import { bareProduce } from './bare.js';
import { config, cpuDelta, cpuSeconds, median, stackUp, table, timed, unique } from './lib.js';

const SONGS = Number(process.env.BENCH_SONGS ?? 5_000);
const LINES_PER_SONG = 20;
const SONGS_PER_FILE = 100;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

// The worker thread runs compiled code, as in the CLI: take the encoder from dist/ (npm run build first).
const compiled: string = '../dist/pipeline/encoder.js';
const { WorkerEncoder } = (await import(compiled)) as typeof EncoderModule;

async function main(): Promise<void> {
  await stackUp();
  const prefix = `${unique('bench')}.`;
  const bucket = unique('bench');
  const set = loadSchemaSet('avro');
  const clients = (process.env.BENCH_CLIENTS?.split(',') ?? [...KAFKA_CLIENTS]) as KafkaClientName[];
  const transports = new Map(clients.map((c) => [c, kafkaTransport({ brokers: config.kafka.brokers, clientId: 'bench-split' }, c)]));
  const topics = rapTopics(prefix);
  await transports.get(clients[0]!)!.ensureTopics(topics);
  const registered = await new Registry(config.registry.url, prefix).registerAll(set, RECORD_NAMES.filter((n) => n !== 'DeadLetter'));
  const ids: SchemaIds = new Map([...registered].map(([n, r]) => [n, { id: r.id, version: r.version }]));
  const encodeSettings = { ids, topicPrefix: prefix, limits: DEFAULT_YAML_LIMITS };

  // The corpus, uploaded once.
  const files = [...generateCorpus({ songs: SONGS, seed: 42, linesPerSong: LINES_PER_SONG, songsPerFile: SONGS_PER_FILE })];
  const store = new ObjectStore(s3Client(config.s3));
  await store.ensureBucket(bucket);
  for (const f of files) await store.put(bucket, `incoming/${f.name}`, Buffer.from(f.content), 'application/yaml');
  const lines = files.reduce((n, f) => n + f.lines, 0);

  // The baseline's input: the very records rapflow produces, encoded before the clock starts.
  const encoded: OutRecord[][] = [];
  {
    const fake = { sendAtomically: (records: OutRecord[]) => (encoded.push(records), Promise.resolve({})) };
    const ledger = { claim: () => Promise.resolve({ outcome: 'claimed' as const }), finish: () => Promise.resolve(true), release: () => Promise.resolve(), finished: () => Promise.resolve(new Map()), get: () => Promise.resolve(undefined) };
    await splitAll(files.map((f) => ({ bucket, key: `incoming/${f.name}` })), { store, ledger, producer: fake, encoder: new InlineEncoder(set.types, encodeSettings), log: pino({ level: 'silent' }) }, { runId: 'encode', topicPrefix: prefix, quarantinePrefix: 'q/' });
  }
  const records = encoded.reduce((n, r) => n + r.length, 0);

  const kafka = new Kafka({ clientId: 'bench-baseline', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
  async function baseline(client: KafkaClientName, tuning: ProducerTuning, input: OutRecord[][], cpu: Record<string, number>[] = []): Promise<number> {
    const c0 = cpuSeconds();
    const seconds = await bareProduce(client, config.kafka.brokers, tuning, input);
    cpu.push(cpuDelta(c0, cpuSeconds()));
    return seconds;
  }

  // One ledger keyspace, created before anything is timed (schema changes are heavy for Cassandra);
  // each round starts from an empty ledger partition for the bucket.
  const cql = new CqlSession({ ...config.cassandra, keyspace: unique('bench', '_') });
  await cql.connect();
  await cql.bootstrap([LEDGER_TABLE]);

  async function rapflowSplit(client: KafkaClientName, tuning: ProducerTuning, cpu: Record<string, number>[]): Promise<number> {
    await cql.execute(`DELETE FROM ${cql.settings.keyspace}.ingest_ledger WHERE bucket = ?`, [bucket]);
    const runId = unique('run');
    const producer = await transports.get(client)!.transactionalProducer(`rapflow-split-${runId}`, topics.map((t) => t.name), tuning);
    const encoder = new WorkerEncoder({ avroDir: 'avro', topicPrefix: prefix, limits: DEFAULT_YAML_LIMITS, ids: [...ids], partitions: producer.partitionsByTopic() });
    // Steady state on both sides: the baseline's producer is connected before its clock starts, so
    // the encoder thread has loaded its modules and schemas before ours does.
    await encoder.encode({ uri: 'warm-up', bytes: Buffer.from(files[1]!.content) });
    const c0 = cpuSeconds();
    const { value, seconds } = await timed(() =>
      splitAll(files.map((f) => ({ bucket, key: `incoming/${f.name}` })), { store, ledger: new CqlLedger(cql), producer, encoder, log: pino({ level: 'silent' }) }, { runId, topicPrefix: prefix, quarantinePrefix: 'q/' }),
    );
    cpu.push(cpuDelta(c0, cpuSeconds()));
    await producer.close();
    await encoder.close();
    if (value.error || value.manifest.files.some((f) => f.status !== 'split')) throw new Error(`split did not split everything: ${value.error?.message ?? ''}`);
    return seconds;
  }

  // 1. Producer settings, measured on the bare producer (a fifth of the corpus each).
  const sample = encoded.slice(0, Math.max(1, Math.floor(encoded.length / 5)));
  const sampleRecords = sample.reduce((n, r) => n + r.length, 0);
  const tuningRows: (string | number)[][] = [['client', 'compression', 'chunk', 'records/s']];
  let best: { client: KafkaClientName; tuning: ProducerTuning; rate: number } | undefined;
  for (const client of clients) {
    for (const compression of ['none', 'gzip'] as const) {
      for (const chunk of [500, 2_000, 5_000]) {
        const rate = sampleRecords / (await baseline(client, { ...DEFAULT_PRODUCER_TUNING, compression, chunk }, sample));
        tuningRows.push([client, compression, chunk, Math.round(rate)]);
        if (!best || rate > best.rate) best = { client, tuning: { ...DEFAULT_PRODUCER_TUNING, compression, chunk }, rate };
      }
    }
  }

  // 2. rapflow against the baseline, alternating, same settings (rapflow's defaults).
  const tuning: ProducerTuning = process.env.BENCH_COMPRESSION ? { ...DEFAULT_PRODUCER_TUNING, compression: process.env.BENCH_COMPRESSION as ProducerTuning['compression'] } : DEFAULT_PRODUCER_TUNING;
  const runs = new Map(clients.map((c) => [c, { base: [] as number[], ours: [] as number[], cpu: { base: [] as Record<string, number>[], ours: [] as Record<string, number>[] } }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const client of clients) {
      const run = runs.get(client)!;
      run.base.push(await baseline(client, tuning, encoded, run.cpu.base));
      run.ours.push(await rapflowSplit(client, tuning, run.cpu.ours));
    }
  }
  await cql.execute(`DROP KEYSPACE ${cql.settings.keyspace}`);
  await cql.close();
  // Leave no bench data behind: topics and objects of this run.
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: topics.map((t) => t.name) });
  await admin.disconnect();
  await store.client.removeObjects(bucket, files.map((f) => `incoming/${f.name}`));
  await store.client.removeBucket(bucket);

  console.log(`bench/split on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`);
  console.log(`corpus: ${files.length} files, ${SONGS} songs, ${lines} lyric lines, ${records} records in all\n`);
  console.log('producer settings (bare producers, transactional, acks=all, a fifth of the corpus):');
  console.log(table(tuningRows));
  console.log(`best: ${best!.client}, compression ${best!.tuning.compression}, chunk ${best!.tuning.chunk}; rapflow uses compression ${tuning.compression}, chunk ${tuning.chunk}\n`);
  const rows: (string | number)[][] = [['client', 'run', 'median s', 'records/s', 'lyric lines/s', 'rounds (s)']];
  const cpuRows: (string | number)[][] = [['client', 'run', 'node', 'kafka', 'cassandra', 'minio', 'registry']];
  const cpuOf = (rs: Record<string, number>[]) => ['rapflow', 'kafka', 'cassandra', 'minio', 'registry'].map((k) => median(rs.map((r) => r[k] ?? 0)));
  const verdicts: { client: KafkaClientName; ratio: number; ourRate: number }[] = [];
  for (const [client, run] of runs) {
    const baseRate = records / median(run.base);
    const ourRate = records / median(run.ours);
    rows.push([client, 'baseline: bare producer, pre-encoded', median(run.base), Math.round(baseRate), Math.round((lines / records) * baseRate), run.base.map((s) => s.toFixed(2)).join(' ')]);
    rows.push([client, 'rapflow split: MinIO, validate, encode, produce', median(run.ours), Math.round(ourRate), Math.round((lines / records) * ourRate), run.ours.map((s) => s.toFixed(2)).join(' ')]);
    cpuRows.push([client, 'baseline', ...cpuOf(run.cpu.base)], [client, 'rapflow split', ...cpuOf(run.cpu.ours)]);
    // Each rapflow round runs right after its baseline round: the median of these paired ratios
    // cancels most of the drift of a shared machine's speed between rounds.
    const paired = run.base.map((b, i) => b / run.ours[i]!);
    verdicts.push({ client, ratio: median(paired), ourRate });
    console.log(`${client}: paired ratios per round ${paired.map((p) => p.toFixed(3)).join(' ')}`);
  }
  console.log(`\n${table(rows)}`);
  console.log('\nCPU seconds per run (median; this process includes its encoder thread):');
  console.log(table(cpuRows));
  console.log();
  for (const v of verdicts) console.log(`ratio rapflow / baseline with ${v.client} (median of paired rounds): ${v.ratio.toFixed(3)} (target >= 0.85): ${v.ratio >= 0.85 ? 'PASS' : 'FAIL'}`);
  if (verdicts.length === 2) {
    const [a, b] = verdicts as [(typeof verdicts)[0], (typeof verdicts)[0]];
    console.log(`rapflow split with ${b.client} / with ${a.client}: ${(b.ourRate / a.ourRate).toFixed(3)}`);
  }
  // The default client must meet the target; the other is reported.
  const chosen = verdicts.find((v) => v.client === config.kafka.client) ?? verdicts[0]!;
  process.exitCode = chosen.ratio >= 0.85 ? 0 : 1;
}

await main();
