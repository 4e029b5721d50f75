// bench/cluster (`npm run bench:cluster`, RAPFLOW_NODES=3): on the local three-node cluster, the
// memory of every process, then the pipeline over partitions × consumers with replication 3 and,
// in the same run, replication 1 (topics and keyspace), for what replication costs. Writes its
// section of docs/performance.md.
import { cpus } from 'node:os';
import { join } from 'node:path';
import { CLUSTER } from '../src/config/cluster.js';
import { loadSchemaSet } from '../src/codec/schemas.js';
import { generateCorpus } from '../src/model/generate.js';
import { recordsOf, validateFile } from '../src/model/validate.js';
import { endpointsFrom, Stack } from '../src/stack/index.js';
import { config, stackUp, table, writeSection } from './lib.js';
import { runRapflow } from './procs.js';
import { batches, cleanupAll, names, prepare, tmp } from './runs.js';

const SONGS = Number(process.env.BENCH_SONGS ?? 4_000);
const LINES_PER_SONG = 20;
const SCALES = (process.env.BENCH_SCALES ?? '1,3').split(',').map(Number);
const REPLICATIONS = [CLUSTER.kafka.replicationFactor, 1];

const lines: string[] = [];
const say = (line = '') => {
  console.log(line);
  lines.push(line);
};
const show = (rows: (string | number)[][]) => {
  console.log(table(rows));
  const fmt = (c: string | number) => (typeof c === 'number' ? c.toLocaleString('en-US') : c);
  lines.push(`| ${rows[0]!.join(' | ')} |`, `|${rows[0]!.map(() => '---').join('|')}|`, ...rows.slice(1).map((r) => `| ${r.map(fmt).join(' | ')} |`));
};

async function main(): Promise<void> {
  if (config.stack.nodes !== 3) throw new Error('bench/cluster runs on the three-node cluster: RAPFLOW_NODES=3 (npm run bench:cluster sets it)');
  await stackUp();
  const stack = new Stack(endpointsFrom(config), () => {}, { home: config.stack.home, state: config.stack.state, env: process.env, nodes: 3 });
  const status = await stack.status();
  const memRows: (string | number)[][] = [['process', 'state', 'RSS (MB)']];
  for (const s of status) memRows.push([s.name, s.state, s.rssMb === undefined ? '–' : Math.round(s.rssMb)]);
  const total = status.reduce((n, s) => n + (s.rssMb ?? 0), 0);
  memRows.push(['all', '', Math.round(total)]);

  const files = [...generateCorpus({ songs: SONGS, seed: 12, linesPerSong: LINES_PER_SONG, songsPerFile: 100 })];
  // Every record split produces (lines, songs, artists), counted from the validated files as bench/e2e does.
  const types = loadSchemaSet('avro').types;
  const records = files.map((f) => recordsOf(validateFile(f.name, Buffer.from(f.content), types))).reduce((s, r) => s + r.lines.length + r.songs.length + r.artists.length + r.meetups.length, 0);
  const rows: (string | number)[][] = [['replication', 'partitions × consumers', 'end to end records/s', 'consume records/s', 'lag when split ended (records)', 'drained after split (s)']];
  const rates = new Map<string, number>();
  for (const rf of REPLICATIONS) {
    for (const p of SCALES) {
      const n = names(`cluster-r${rf}-p${p}`);
      n.env.CASSANDRA_REPLICATION_FACTOR = String(rf);
      await prepare(n, files, p, rf);
      const consumers = Array.from({ length: p }, () => runRapflow(['consume', '--idle-exit', '8'], n.env));
      await Promise.all(consumers.map((c) => c.logged('consuming')));
      const t0 = Date.now();
      const split = await runRapflow(['split', '--from-list', join(tmp, `${n.bucket}.todo.json`), '--manifest', join(tmp, `${n.bucket}.manifest.json`)], n.env).result;
      if (split.code !== 0) throw new Error(`split (replication ${rf}, ${p} partitions) failed: ${split.output.slice(-1500)}`);
      const splitEnd = split.startedAt + split.seconds * 1000;
      const results = await Promise.all(consumers.map((c) => c.result));
      const b = batches(results);
      if (b.written !== records) throw new Error(`replication ${rf}, ${p} × ${p}: consumers wrote ${b.written} of ${records} records`);
      const e2e = Math.round(records / ((b.last - t0) / 1000));
      rates.set(`${rf}/${p}`, e2e);
      const writtenBySplitEnd = b.list.filter((x) => x.end <= splitEnd).reduce((s, x) => s + x.written, 0);
      rows.push([rf, `${p} × ${p}`, e2e, Math.round(b.written / ((b.last - b.first) / 1000)), records - writtenBySplitEnd, Math.max(0, (b.last - splitEnd) / 1000).toFixed(1)]);
    }
  }

  say('## The three-node cluster');
  say();
  say(`Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, Kafka client ${config.kafka.client}, by \`npm run bench:cluster\` on the cluster of \`rapflow stack up --nodes 3\`: three KRaft brokers (each broker and controller), three Cassandra nodes, the registry, MinIO${status.some((s) => s.name === 'stargate' && s.state === 'up') ? ' and a Stargate coordinator' : ''}, each on a loopback address of its own.`);
  say();
  say('Resident memory of each process after start-up (`rapflow stack status --nodes 3` shows the same column):');
  say();
  show(memRows);
  say();
  say(`The pipeline on ${records.toLocaleString('en-US')} records (${SONGS.toLocaleString('en-US')} songs of ${LINES_PER_SONG} lines): N consumer processes in one group started first, then split, on topics of N partitions. Replication ${CLUSTER.kafka.replicationFactor} is the cluster's (topics with min.insync.replicas ${CLUSTER.kafka.minInsyncReplicas}, keyspace at LOCAL_QUORUM); replication 1 is the same cluster with topics and keyspace of one copy, in the same run:`);
  say();
  show(rows);
  say();
  for (const p of SCALES) {
    const r3 = rates.get(`${REPLICATIONS[0]}/${p}`)!;
    const r1 = rates.get(`1/${p}`)!;
    say(`- ${p} × ${p}: replication ${REPLICATIONS[0]} runs at ${(r3 / r1).toFixed(2)} of replication 1's rate (every record is written three times by Kafka and by Cassandra, on the same ${cpus().length} cores).`);
  }
  say();
  say('On these two cores the cluster\'s six JVMs share the CPU with the pipeline, so the figures show what replication costs in work, not what a cluster of machines would reach: there each broker and node has cores of its own and more consumers (up to the partition count) add throughput.');
  writeSection('docs/performance.md', 'bench/cluster', lines);
  console.log('\nwrote the bench/cluster section of docs/performance.md');
}

try {
  await main();
} finally {
  await cleanupAll();
}
