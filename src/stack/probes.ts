// Real requests that prove each local service works, through the same clients rapflow uses.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type * as Minio from 'minio';
import { ObjectStore, s3Client } from '../source/s3.js';
import cassandra from 'cassandra-driver';
import type { StackEndpoints } from './services.js';
import { StargateClient } from '../store/stargate/client.js';
import { stargateTable } from '../store/stargate/schema.js';
import type { TableDef } from '../store/tables.js';

const PROBE_TOPIC = 'rapflow.stack-probe';

/** Produces one record with acks=all and reads it back by offset. */
export async function probeKafka(ep: StackEndpoints): Promise<string> {
  const kafka = new Kafka({
    clientId: 'rapflow-stack-probe',
    brokers: [ep.kafkaBroker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  const consumer = kafka.consumer({ groupId: `rapflow-stack-probe-${randomUUID()}` });
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(PROBE_TOPIC)) {
      await admin.createTopics({ topics: [{ topic: PROBE_TOPIC, numPartitions: 1 }], waitForLeaders: true });
    }
    await producer.connect();
    const value = randomUUID();
    const [sent] = await producer.send({ topic: PROBE_TOPIC, acks: -1, messages: [{ key: 'probe', value }] });
    if (!sent || sent.baseOffset === undefined) throw new Error('produce returned no offset');
    await consumer.connect();
    await consumer.subscribe({ topic: PROBE_TOPIC, fromBeginning: false });
    const received = new Promise<string>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.offset === sent.baseOffset) resolve(message.value?.toString() ?? '');
          return Promise.resolve();
        },
      });
    });
    consumer.seek({ topic: PROBE_TOPIC, partition: sent.partition, offset: sent.baseOffset });
    const got = await withTimeout(received, 20_000, 'consuming the probe record');
    if (got !== value) throw new Error(`read back ${got}, expected ${value}`);
    return `produced and consumed offset ${sent.baseOffset}`;
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()]);
  }
}

/** Registers a small Avro schema and reads it back by id. */
export async function probeRegistry(ep: StackEndpoints): Promise<string> {
  const registry = new SchemaRegistry({ host: ep.registryUrl });
  const schema = JSON.stringify({
    type: 'record',
    name: 'StackProbe',
    namespace: 'io.dok.rap.probe',
    fields: [{ name: 'at', type: 'string' }],
  });
  const { id } = await registry.register({ type: SchemaType.AVRO, schema }, { subject: 'rapflow.stack-probe-value' });
  const encoded = await registry.encode(id, { at: new Date().toISOString() });
  const decoded = (await registry.decode(encoded)) as { at?: unknown };
  if (typeof decoded.at !== 'string') throw new Error('decoded probe has no "at" field');
  return `schema id ${id}, encode/decode ok`;
}

/** Puts and gets an object, creating the buckets rapflow needs first. */
export async function probeMinio(ep: StackEndpoints): Promise<string> {
  const client = minioClient(ep);
  const store = new ObjectStore(client);
  for (const bucket of ep.buckets) await store.ensureBucket(bucket);
  const bucket = ep.buckets[0]!;
  const body = randomUUID();
  await client.putObject(bucket, '.rapflow/stack-probe', body, body.length, { 'Content-Type': 'text/plain' });
  const stream = await client.getObject(bucket, '.rapflow/stack-probe');
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  if (Buffer.concat(chunks).toString() !== body) throw new Error('object read back differs');
  return `buckets ${ep.buckets.join(', ')}; put/get ok`;
}

export function minioClient(ep: StackEndpoints): Minio.Client {
  return s3Client({ endpoint: ep.s3Endpoint, accessKey: ep.s3AccessKey, secretKey: ep.s3SecretKey });
}

/**
 * Writes and reads a row over CQL. On a cluster (`replication` 3) the probe's keyspace has a copy
 * on every node, and `authReplication` gives the logins (system_auth) as many copies: the first
 * node does this before the others join, so they receive the logins as they bootstrap and any
 * node can go down without taking the logins with it.
 */
export async function probeCassandra(ep: StackEndpoints, replication = 1, authReplication?: number): Promise<string> {
  const [host, port] = ep.cqlContactPoint.split(':');
  const client = new cassandra.Client({
    contactPoints: [host!],
    protocolOptions: { port: Number(port ?? 9042) },
    localDataCenter: ep.cassandraDatacenter,
    authProvider: new cassandra.auth.PlainTextAuthProvider(ep.cassandraUser, ep.cassandraPassword),
    socketOptions: { connectTimeout: 3_000, readTimeout: 20_000 },
  });
  try {
    await client.connect();
    await client.execute(`CREATE KEYSPACE IF NOT EXISTS rapflow_stack_probe WITH replication = {'class':'SimpleStrategy','replication_factor':${replication}}`);
    let auth = '';
    if (authReplication !== undefined) {
      const rs = await client.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'system_auth'");
      const current = Number((rs.first()?.get('replication') as Record<string, string> | undefined)?.replication_factor ?? 1);
      if (current !== authReplication) await client.execute(`ALTER KEYSPACE system_auth WITH replication = {'class':'SimpleStrategy','replication_factor':${authReplication}}`);
      auth = `; logins (system_auth) replicated ${authReplication}`;
    }
    await client.execute('CREATE TABLE IF NOT EXISTS rapflow_stack_probe.probe (id text PRIMARY KEY, at timestamp)');
    const id = randomUUID();
    await client.execute('INSERT INTO rapflow_stack_probe.probe (id, at) VALUES (?, ?)', [id, new Date()], { prepare: true });
    const rs = await client.execute('SELECT id FROM rapflow_stack_probe.probe WHERE id = ?', [id], { prepare: true });
    if (rs.rowLength !== 1) throw new Error('row written over CQL was not read back');
    const version = await client.execute('SELECT release_version FROM system.local');
    return `Cassandra ${String(version.first()?.get('release_version'))}; CQL write/read ok${auth}`;
  } finally {
    await client.shutdown();
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const STARGATE_PROBE_KEYSPACE = 'rapflow_stargate_probe';

/**
 * Stargate end to end: its readiness check, a token from `/v1/auth`, a row written and read through
 * REST v2, and a document written and read through the Document API (schema through its own
 * schema API, so it sees it at once).
 */
export async function probeStargate(ep: StackEndpoints): Promise<string> {
  const health = new URL(ep.stargateUrl);
  health.port = '8084';
  health.pathname = '/checker/readiness';
  const ready = await fetch(health, { signal: AbortSignal.timeout(3_000) });
  if (ready.status !== 200) throw new Error(`readiness answered ${ready.status}`);
  const client = new StargateClient({ restUrl: ep.stargateUrl, authUrl: ep.stargateAuthUrl, username: ep.cassandraUser, password: ep.cassandraPassword, retry: { attempts: 1, initialDelayMs: 0, maxDelayMs: 0 } });
  const ks = STARGATE_PROBE_KEYSPACE;
  const table: TableDef = { name: 'probe', columns: [['id', 'text'], ['at', 'text']], partitionKey: ['id'], clustering: [] };
  if ((await client.request('GET', `/v2/schemas/keyspaces/${ks}`, { accept: [200, 404] })).status === 404) {
    await client.request('POST', '/v2/schemas/keyspaces', { body: { name: ks, replicas: 1 }, accept: [201] });
  }
  await client.request('POST', `/v2/schemas/keyspaces/${ks}/tables`, { body: stargateTable(table), accept: [201, 409] });
  const collections = await client.request<{ data?: { name: string }[] }>('GET', `/v2/namespaces/${ks}/collections`, { accept: [200] });
  if (!(collections.data.data ?? []).some((c) => c.name === 'probe_docs')) {
    await client.request('POST', `/v2/namespaces/${ks}/collections`, { body: { name: 'probe_docs' }, accept: [201, 409] });
  }
  const id = randomUUID();
  const at = new Date().toISOString();
  await client.request('POST', `/v2/keyspaces/${ks}/probe`, { body: { id, at }, accept: [201] });
  const row = await client.get<{ data: { at?: string }[] }>(`/v2/keyspaces/${ks}/probe/${id}`);
  if (row.data[0]?.at !== at) throw new Error('row written through REST was not read back');
  await client.request('PUT', `/v2/namespaces/${ks}/collections/probe_docs/${id}`, { body: { id, at }, accept: [200] });
  const doc = await client.get<{ data?: { at?: string } }>(`/v2/namespaces/${ks}/collections/probe_docs/${id}`);
  if (doc.data?.at !== at) throw new Error('document written through the Document API was not read back');
  return `auth, REST row and document write/read ok`;
}
