// bench/consume: a consumer alone on filled topics, under several settings (heap flags, fetch
// size, batches in hand, Kafka client), each run into a fresh keyspace by a group of its own:
// records/s, peak RSS and CPU. How CONSUMER_NODE_OPTIONS and DEFAULT_CONSUMER_TUNING were chosen
// (src/transport/flow.ts); `npm run bench:consume`, or BENCH_VARIANTS to try others.
import { join } from 'node:path';
import { generateCorpus } from '../src/model/generate.js';
import { CONSUMER_NODE_OPTIONS } from '../src/transport/flow.js';
import { cpus } from 'node:os';
import { settle, stackUp, table, writeSection } from './lib.js';
import { runRapflow } from './procs.js';
import { batches, cleanupAll, names, prepare, tmp } from './runs.js';

const SONGS = Number(process.env.BENCH_SONGS ?? 25_000);
const MiB = 2 ** 20;
/** Each variant: the environment of the consumer (NODE_OPTIONS empty: Node's defaults). */
const DEFAULT_VARIANTS: Record<string, string>[] = [
  { KAFKA_CLIENT: 'platformatic', NODE_OPTIONS: '' },
  { KAFKA_CLIENT: 'platformatic', NODE_OPTIONS: CONSUMER_NODE_OPTIONS },
  { KAFKA_CLIENT: 'kafkajs', NODE_OPTIONS: '' },
  { KAFKA_CLIENT: 'kafkajs', NODE_OPTIONS: CONSUMER_NODE_OPTIONS },
  { KAFKA_CLIENT: 'platformatic', NODE_OPTIONS: '--max-old-space-size=128 --max-semi-space-size=16' },
  { KAFKA_CLIENT: 'platformatic', NODE_OPTIONS: '--max-old-space-size=192' },
  { KAFKA_CLIENT: 'platformatic', NODE_OPTIONS: CONSUMER_NODE_OPTIONS, KAFKA_CONSUMER_FETCH_MAX_BYTES: String(8 * MiB) },
  { KAFKA_CLIENT: 'platformatic', NODE_OPTIONS: CONSUMER_NODE_OPTIONS, KAFKA_CONSUMER_MAX_IN_FLIGHT: '2' },
];

/** BENCH_VARIANTS: variants separated by ";", each KEY=value pairs separated by ",". */
function variants(): Record<string, string>[] {
  const spec = process.env.BENCH_VARIANTS;
  if (!spec) return DEFAULT_VARIANTS;
  return spec.split(';').filter(Boolean).map((v) => Object.fromEntries(v.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
}

async function main(): Promise<void> {
  await stackUp();
  const files = [...generateCorpus({ songs: SONGS, seed: 7, linesPerSong: 20, songsPerFile: 250 })];
  const n = names('consume');
  await prepare(n, files);
  const split = await runRapflow(['split', '--from-list', join(tmp, `${n.bucket}.todo.json`), '--manifest', join(tmp, `${n.bucket}.manifest.json`)], n.env).result;
  if (split.code !== 0) throw new Error(`split failed: ${split.output.slice(-1500)}`);
  const rows: (string | number)[][] = [['Kafka client', 'NODE_OPTIONS', 'other settings', 'records/s', 'peak RSS (MB)', 'CPU seconds']];
  let expected: number | undefined;
  for (const v of variants()) {
    const again = names('consume-alone');
    const env = { ...n.env, KAFKA_CONSUMER_GROUP: again.group, CASSANDRA_KEYSPACE: again.keyspace, ...v };
    const init = await runRapflow(['db', 'init'], env).result;
    if (init.code !== 0) throw new Error(`db init: ${init.output.slice(-1000)}`);
    await settle();
    const r = await runRapflow(['consume', '--idle-exit', '5'], env).result;
    if (r.code !== 0) throw new Error(`consume (${JSON.stringify(v)}) failed: ${r.output.slice(-1500)}`);
    const b = batches([r]);
    expected ??= b.written;
    if (b.written !== expected) throw new Error(`consume (${JSON.stringify(v)}) wrote ${b.written} records, the first variant ${expected}`);
    const { KAFKA_CLIENT, NODE_OPTIONS, ...other } = v;
    const row = [KAFKA_CLIENT ?? 'default', NODE_OPTIONS || "(Node's defaults)", Object.entries(other).map(([k, x]) => `${k}=${x}`).join(' ') || '–', Math.round(b.written / ((b.last - b.first) / 1000)), Math.round(r.peakRssMb), Number(r.cpuSeconds.toFixed(1))];
    rows.push(row);
    console.error(`[bench] ${row.join(' | ')}`);
  }
  const intro = `A consumer alone on ${expected?.toLocaleString('en-US')} records already in Kafka (${SONGS.toLocaleString('en-US')} songs, generated, seed 7), each variant a group of its own into a fresh keyspace, one after another on ${cpus().length} cores shared with the services:`;
  console.log(`\n${intro}\n`);
  console.log(table(rows));
  writeSection('docs/performance.md', 'bench/consume', [
    '## The consumer alone: heap, fetch and batches in hand',
    '',
    `Written by \`npm run bench:consume\` on ${new Date().toISOString().slice(0, 10)}. ${intro} A variant with RAPFLOW_BENCH_DIST ran the consumer of that earlier build (before it overlapped its stages).`,
    '',
    '```text',
    table(rows),
    '```',
  ]);
  console.log('\nwrote the bench/consume section of docs/performance.md');
}

try {
  await main();
} finally {
  await cleanupAll();
}
