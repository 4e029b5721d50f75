// Pipeline runs for the benchmarks (bench/e2e, bench/cluster): isolated names per run, a corpus
// uploaded and discovered, consumer batch logs read back, and everything removed afterwards.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { GeneratedFile } from '../src/model/generate.js';
import { ObjectStore, s3Client } from '../src/source/s3.js';
import { CqlSession } from '../src/store/cql/session.js';
import { kafkaTransport } from '../src/transport/index.js';
import { rapTopics } from '../src/transport/topics.js';
import { config, unique } from './lib.js';
import { runRapflow, type ProcResult } from './procs.js';

export const tmp = mkdtempSync(join(tmpdir(), 'rapflow-bench-'));

export interface Names {
  prefix: string;
  bucket: string;
  keyspace: string;
  group: string;
  env: Record<string, string>;
}
/** Everything a run creates, removed by cleanupAll() even when it fails. */
const created: Names[] = [];

export function names(tag: string): Names {
  const id = unique(tag);
  const n = { prefix: `${id}.`, bucket: id, keyspace: id.replace(/-/g, '_'), group: `${id}-consume` };
  const full = { ...n, env: { KAFKA_TOPIC_PREFIX: n.prefix, S3_INBOX_BUCKET: n.bucket, CASSANDRA_KEYSPACE: n.keyspace, KAFKA_CONSUMER_GROUP: n.group, RUN_ID: `${id}-run`, HTTP_PORT: '0' } };
  created.push(full);
  return full;
}

export const store = new ObjectStore(s3Client(config.s3));
const kafka = new Kafka({ clientId: 'bench-runs', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });

async function upload(n: Names, files: GeneratedFile[]): Promise<void> {
  await store.ensureBucket(n.bucket);
  const queue = [...files];
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let f = queue.shift(); f; f = queue.shift()) await store.put(n.bucket, `incoming/${f.name}`, Buffer.from(f.content), 'application/yaml');
  }));
}

/**
 * Topics (with `partitions` and `replication` when given, else the stack's defaults), the
 * keyspace (replication from n.env's CASSANDRA_REPLICATION_FACTOR, else the configured one), the
 * corpus uploaded and discovered into tmp/<bucket>.todo.json.
 */
export async function prepare(n: Names, files: GeneratedFile[], partitions?: number, replication?: number): Promise<void> {
  const transport = kafkaTransport({ brokers: config.kafka.brokers, clientId: 'bench-runs' }, config.kafka.client);
  const specs = rapTopics(n.prefix).map((t) => ({
    ...t,
    ...(partitions && !t.name.endsWith('rap.dlq') ? { partitions } : {}),
    ...(replication ? { replicationFactor: replication, config: { ...t.config, 'min.insync.replicas': String(Math.min(replication, 2)) } } : {}),
  }));
  await transport.ensureTopics(specs);
  const init = await runRapflow(['db', 'init'], n.env).result;
  if (init.code !== 0) throw new Error(`db init: ${init.output.slice(-1000)}`);
  await upload(n, files);
  const d = await runRapflow(['discover', '--out', join(tmp, `${n.bucket}.todo.json`)], n.env).result;
  if (d.code !== 0) throw new Error(`discover: ${d.output.slice(-1000)}`);
}

async function cleanup(n: Names): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(n.prefix));
  if (topics.length) await admin.deleteTopics({ topics });
  await admin.disconnect();
  const cql = new CqlSession({ ...config.cassandra });
  await cql.connect();
  await cql.execute(`DROP KEYSPACE IF EXISTS ${n.keyspace}`);
  await cql.close();
  const keys: string[] = [];
  for await (const o of store.client.listObjectsV2(n.bucket, '', true)) keys.push((o as { name: string }).name);
  await store.client.removeObjects(n.bucket, keys);
  await store.client.removeBucket(n.bucket);
}

export async function cleanupAll(): Promise<void> {
  for (const n of created) await cleanup(n).catch(() => undefined);
}

/** Batch log lines of consumer processes: when each batch ended, how long it took, how many rows. */
export function batches(results: ProcResult[]) {
  const b = results.flatMap((r) => r.logs.filter((l) => l.msg === 'batch written').map((l) => ({ end: Number(l.time), ms: Number(l.ms), written: Number(l.written) })));
  const first = Math.min(...b.map((x) => x.end - x.ms));
  const last = Math.max(...b.map((x) => x.end));
  return { list: b, first, last, written: b.reduce((s, x) => s + x.written, 0) };
}
