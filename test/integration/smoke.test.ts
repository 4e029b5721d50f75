// The local stack works through the same client libraries rapflow uses.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import cassandra from 'cassandra-driver';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { minioClient } from '../../src/stack/probes.js';
import { config, endpoints, testStack, uniqueName } from './stack.js';

const run = promisify(execFile);

describe('kafka (kafkajs)', () => {
  const kafka = new Kafka({ clientId: 'rapflow-smoke', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });

  it('creates a topic, produces idempotently with acks=all and consumes in a group with commits', async () => {
    const topic = uniqueName('smoke');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const messages = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    await producer.send({ topic, acks: -1, messages });
    await producer.disconnect();

    const groupId = uniqueName('smoke-group');
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Map<string, string>();
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: ({ message }) => {
          seen.set(message.key!.toString(), message.value!.toString());
          if (seen.size === messages.length) resolve();
          return Promise.resolve();
        },
      });
    });
    await consumer.disconnect(); // commits what was consumed
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();

    expect(seen).toEqual(new Map(messages.map((m) => [m.key, m.value])));
    const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    expect(committed).toBe(messages.length);
  });
});

describe('schema registry (@kafkajs/confluent-schema-registry, Apicurio ccompat)', () => {
  const registry = new SchemaRegistry({ host: config.registry.url });
  const v1 = { type: 'record', name: 'Smoke', namespace: 'io.dok.rap.smoke', fields: [{ name: 'title', type: 'string' }] };

  it('registers, encodes in Confluent framing and decodes', async () => {
    const subject = `${uniqueName('smoke')}-value`;
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    const buf = await registry.encode(id, { title: 'Ça marche 🎤' });
    expect(buf[0]).toBe(0); // magic byte
    expect(buf.readInt32BE(1)).toBe(id);
    expect(await registry.decode(buf)).toEqual({ title: 'Ça marche 🎤' });
  });

  it('enforces BACKWARD compatibility globally', async () => {
    const subject = `${uniqueName('smoke')}-value`;
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    const compatible = { ...v1, fields: [...v1.fields, { name: 'album', type: ['null', 'string'], default: null }] };
    const { id: id2 } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(compatible) }, { subject });
    expect(id2).toBeGreaterThan(0);
    const incompatible = { ...v1, fields: [...v1.fields, { name: 'year', type: 'int' }] };
    await expect(registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(incompatible) }, { subject })).rejects.toThrow(
      /409|incompatible|compatib/i,
    );
  });
});

describe('minio (minio SDK)', () => {
  const client = minioClient(endpoints);

  it('has the buckets rapflow needs', async () => {
    for (const bucket of endpoints.buckets) expect(await client.bucketExists(bucket), bucket).toBe(true);
  });

  it('puts, stats, lists and gets an object in a fresh bucket', async () => {
    const bucket = uniqueName('smoke');
    await client.makeBucket(bucket);
    const body = 'apiVersion: rap.dok.community/v1\nkind: Song\n';
    const put = await client.putObject(bucket, 'in/song.yaml', body, Buffer.byteLength(body), { 'Content-Type': 'application/yaml' });
    const stat = await client.statObject(bucket, 'in/song.yaml');
    expect(stat.etag).toBe(put.etag);
    expect(stat.metaData['content-type']).toBe('application/yaml');
    const keys: string[] = [];
    for await (const item of client.listObjectsV2(bucket, 'in/', true)) keys.push((item as { name: string }).name);
    expect(keys).toEqual(['in/song.yaml']);
    const chunks: Buffer[] = [];
    for await (const c of await client.getObject(bucket, 'in/song.yaml')) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(body);
    await client.removeObject(bucket, 'in/song.yaml');
    await client.removeBucket(bucket);
  });
});

describe('cassandra (cassandra-driver over CQL)', () => {
  const [host, port] = config.cassandra.contactPoint.split(':');
  const client = new cassandra.Client({
    contactPoints: [host!],
    protocolOptions: { port: Number(port) },
    localDataCenter: config.cassandra.datacenter,
    authProvider: new cassandra.auth.PlainTextAuthProvider(config.cassandra.username, config.cassandra.password),
  });
  afterAll(() => client.shutdown());

  it('writes and reads rows in a fresh keyspace with clustering order', async () => {
    const ks = uniqueName('smoke', '_');
    await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class':'SimpleStrategy','replication_factor':1}`);
    await client.execute(`CREATE TABLE ${ks}.lines (song text, n int, line text, PRIMARY KEY (song, n)) WITH CLUSTERING ORDER BY (n ASC)`);
    const insert = `INSERT INTO ${ks}.lines (song, n, line) VALUES (?, ?, ?)`;
    await Promise.all([3, 1, 2].map((n) => client.execute(insert, ['s', n, `ligne ${n} — ✓`], { prepare: true })));
    const rs = await client.execute(`SELECT n, line FROM ${ks}.lines WHERE song = ?`, ['s'], { prepare: true });
    expect(rs.rows.map((r) => [r.get('n') as number, r.get('line') as string])).toEqual([
      [1, 'ligne 1 — ✓'],
      [2, 'ligne 2 — ✓'],
      [3, 'ligne 3 — ✓'],
    ]);
    await client.execute(`DROP KEYSPACE ${ks}`);
  });
});

describe('the stack as a whole', () => {
  it('`rapflow stack status` reports every service up', async () => {
    const { stdout } = await run('node', ['dist/cli/main.js', 'stack', 'status', '--json'], { env: process.env });
    const reports = JSON.parse(stdout) as { name: string; state: string }[];
    // An optional service that is not installed (Stargate without a coordinator) is reported as such,
    // and is no failure: the stack runs without it (`stack status` exits 0 then too).
    expect(reports.map((r) => [r.name, r.state])).toEqual(testStack().select([]).map((s) => [s.name, s.optional && reports.find((r) => r.name === s.name)?.state === 'not installed' ? 'not installed' : 'up']));
  });

  // MinIO also binds the IPv6 loopback [::1] whatever --address says (it adds every local
  // loopback for its console, cmd/server-main.go getServerListenAddrs): loopback, never a network.
  it('listens on loopback only (127.0.0.1, Stargate on its own 127.0.0.2, and [::1] for MinIO)', async () => {
    const stack = testStack();
    const pids = new Set<number>();
    for (const r of await stack.status()) if (r.pid) pids.add(r.pid);
    const { stdout } = await run('ss', ['-ltnpH']);
    const ours = stdout
      .split('\n')
      .filter((line) => [...line.matchAll(/pid=(\d+)/g)].some((m) => isInGroupOf(Number(m[1]), pids)));
    expect(ours.length).toBeGreaterThanOrEqual(stack.select([]).length);
    const local = ours.map((line) => line.trim().split(/\s+/)[3]!);
    // Any 127.x address is loopback on Linux; Java may show one IPv6-mapped.
    expect(local.filter((addr) => !/^(127\.\d+\.\d+\.\d+|\[::ffff:127\.\d+\.\d+\.\d+\]|\[::1\]):\d+$/.test(addr))).toEqual([]);
    expect(local.filter((addr) => addr.startsWith('127.0.0.1:')).length).toBeGreaterThanOrEqual(stack.select([]).length);
  });
});

/** The run script execs the service, which may fork helpers: match listeners by process group. */
function isInGroupOf(pid: number, leaders: Set<number>): boolean {
  try {
    // Field 5 of /proc/<pid>/stat is the process group id.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return leaders.has(Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[2]));
  } catch {
    return false;
  }
}
