// Shared by integration suites: the local stack's endpoints, and unique names so suites can share it.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSchemaSet } from '../../src/codec/schemas.js';
import { emptyRecordSet, type RecordSet } from '../../src/model/records.js';
import { recordsOf, validateFile } from '../../src/model/validate.js';
import { rapflow } from './cli.js';
import { Kafka, logLevel } from 'kafkajs';
import { CqlSession } from '../../src/store/cql/session.js';
import { s3Client } from '../../src/source/s3.js';
import { loadConfig } from '../../src/config/index.js';
import { endpointsFrom, Stack } from '../../src/stack/index.js';
import { dropKafkajsTimerWarnings } from '../../src/runtime/warnings.js';

dropKafkajsTimerWarnings();

export const config = loadConfig(process.env);
export const endpoints = endpointsFrom(config);

export function testStack(progress: (line: string) => void = () => {}): Stack {
  return new Stack(endpoints, progress, { home: config.stack.home, state: config.stack.state, env: process.env, nodes: config.stack.nodes });
}

/** A name no other test run uses: `prefix-<random>`, lower case, valid for topics, buckets and keyspaces (with `sep`). */
export function uniqueName(prefix: string, sep = '-'): string {
  return `${prefix}${sep}${randomBytes(4).toString('hex')}`;
}

/** Deletes the topics a suite created under its prefix, so repeated runs do not fill the broker's disk. */
export async function dropTopics(prefix: string): Promise<void> {
  const admin = new Kafka({ clientId: 'rapflow-test-cleanup', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

/** Drops a suite's keyspace: every keyspace costs Cassandra heap, runs must not pile them up. */
export async function dropKeyspace(keyspace: string): Promise<void> {
  const cql = new CqlSession({ ...config.cassandra, keyspace });
  try {
    await cql.connect();
    await cql.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  } finally {
    await cql.close();
  }
}

/** Empties and removes a suite's bucket. */
export async function dropBucket(bucket: string): Promise<void> {
  const s3 = s3Client({ endpoint: config.s3.endpoint, accessKey: config.s3.accessKey, secretKey: config.s3.secretKey });
  if (!(await s3.bucketExists(bucket))) return;
  const names: string[] = [];
  for await (const o of s3.listObjectsV2(bucket, '', true)) names.push((o as { name: string }).name);
  await s3.removeObjects(bucket, names);
  await s3.removeBucket(bucket);
}

export interface TopicRecord {
  topic: string;
  key: string;
  headers: Record<string, string>;
}

/** Every committed record (read_committed) of these topics, read until nothing new arrives for `quietMs`. */
export async function readTopics(topics: string[], quietMs = 3_000, maxMs = 60_000): Promise<TopicRecord[]> {
  const kafka = new Kafka({ clientId: 'rapflow-test-reader', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniqueName('rapflow-test-reader'), readUncommitted: false });
  const out: TopicRecord[] = [];
  let last = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ topic, message }) => {
        out.push({ topic, key: message.key?.toString() ?? '', headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])) });
        last = Date.now();
        return Promise.resolve();
      },
    });
    const t0 = Date.now();
    while (Date.now() - last < quietMs && Date.now() - t0 < maxMs) await new Promise((r) => setTimeout(r, 200));
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Names no other suite uses, as the environment rapflow reads: topic prefix, bucket, keyspace, consumer group. */
export function isolatedEnv(tag: string) {
  return {
    KAFKA_TOPIC_PREFIX: `${uniqueName(tag)}.`,
    S3_INBOX_BUCKET: uniqueName(tag),
    CASSANDRA_KEYSPACE: uniqueName(tag, '_'),
    KAFKA_CONSUMER_GROUP: uniqueName(tag),
    LOG_LEVEL: 'warn',
  };
}

/** Removes the topics, keyspace and bucket of an isolatedEnv. */
export async function dropIsolated(env: ReturnType<typeof isolatedEnv>): Promise<void> {
  await dropTopics(env.KAFKA_TOPIC_PREFIX);
  await dropKeyspace(env.CASSANDRA_KEYSPACE);
  await dropBucket(env.S3_INBOX_BUCKET);
}

/** Every record data/ yields, as split produces them. */
export function sampleRecords(): RecordSet {
  const types = loadSchemaSet('avro').types;
  const all = emptyRecordSet();
  for (const f of readdirSync('data').filter((n) => n.endsWith('.yaml'))) {
    const r = recordsOf(validateFile(f, readFileSync(join('data', f)), types));
    all.songs.push(...r.songs);
    all.lines.push(...r.lines);
    all.artists.push(...r.artists);
    all.meetups.push(...r.meetups);
  }
  return all;
}

/** The topics of `env`, data/ uploaded to its bucket, discovered and split; returns the manifest's path. */
export async function splitSample(env: Record<string, string>, tmp: string): Promise<string> {
  for (const args of [['topics', 'create'], ['upload', 'data/']]) {
    const r = await rapflow(args, env);
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  }
  const todo = join(tmp, 'todo.json');
  const manifest = join(tmp, 'm.json');
  for (const args of [['discover', '--out', todo], ['split', '--from-list', todo, '--manifest', manifest]]) {
    const r = await rapflow(args, env);
    if (r.code !== 0) throw new Error(`${args[0]}: ${r.stderr}`);
  }
  return manifest;
}
