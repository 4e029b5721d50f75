// Shared by integration suites: the local stack's endpoints, and unique names so suites can share it.
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { CqlSession } from '../../src/sink/cql.js';
import { s3Client } from '../../src/source/s3.js';
import { loadConfig } from '../../src/config/index.js';
import { endpointsFrom, Stack } from '../../src/stack/index.js';

export const config = loadConfig(process.env);
export const endpoints = endpointsFrom(config);

export function testStack(progress: (line: string) => void = () => {}): Stack {
  return new Stack(endpoints, progress, { home: config.stack.home, state: config.stack.state, env: process.env });
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
