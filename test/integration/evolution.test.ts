// The tables follow the datamodel: a keyspace made before Song v2 (no bpm column) meets v1 data and
// then a v2 writer. The consumer refuses to write into tables that disagree with the datamodel
// (exit 78, no dead letters); `db init` adds the column; then every record lands, bpm included.
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { frame } from '../../src/codec/confluent.js';
import { loadReleases, loadSchemaSet, topicOf } from '../../src/codec/schemas.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { rapflow } from './cli.js';
import { config, dropIsolated, isolatedEnv, readTopics, sampleRecords } from './stack.js';

const env = isolatedEnv('evolve');
const ks = env.CASSANDRA_KEYSPACE;
const songsTopic = topicOf('Song', env.KAFKA_TOPIC_PREFIX);
const [release1] = loadReleases('avro/history');
const current = loadSchemaSet('avro');
const songs = sampleRecords().songs.slice(0, 3);
const cql = new CqlSession({ ...config.cassandra, keyspace: ks });
const registry = new SchemaRegistry({ host: config.registry.url });
const kafka = new Kafka({ clientId: 'evolve-test', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });

async function produce(values: { key: string; value: Buffer }[]) {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: songsTopic, messages: values });
  await producer.disconnect();
}
const bpmOf = async (id: string) => (await cql.execute(`SELECT bpm FROM ${ks}.songs WHERE id = ?`, [id], { prepare: true })).first()?.get('bpm') as number | null | undefined;
const deadLetters = () => readTopics([topicOf('DeadLetter', env.KAFKA_TOPIC_PREFIX)], 1_000);

describe('schema evolution into the tables', () => {
  beforeAll(async () => {
    for (const args of [['db', 'init'], ['topics', 'create']]) expect((await rapflow(args, env)).code).toBe(0);
    await cql.connect();
    // As a keyspace made before Song v2 was released.
    await cql.execute(`ALTER TABLE ${ks}.songs DROP bpm`);
  });

  afterAll(async () => {
    await cql.close();
    await dropIsolated(env);
  });

  it('v1 data into a v1 table, then a v2 writer: db init adds bpm, rows carry it, nothing is dead-lettered', async () => {
    const v1 = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(release1!.set.bundled.get('Song')) }, { subject: `${songsTopic}-value` });
    await produce(songs.slice(0, 2).map((s) => ({ key: s.id, value: frame(release1!.set.types.get('Song')!, v1.id, s) })));

    // The consumer writes the datamodel's columns; the table lacks one: configuration, not poison.
    const refused = await rapflow(['consume', '--idle-exit', '4'], env);
    expect(refused.code, refused.stderr.slice(-1500)).toBe(78);
    expect(refused.stderr).toMatch(/bpm.*rapflow db init|rapflow db init/s);
    expect(await deadLetters()).toEqual([]);

    const init = await rapflow(['db', 'init'], env);
    expect(init.stdout).toContain('columns added for the datamodel: songs.bpm');
    const written = await rapflow(['consume', '--idle-exit', '4'], env);
    expect(written.code, written.stderr.slice(-1500)).toBe(0);
    expect(written.stdout).toContain('consumed 2 records: 2 written, 0 dead-lettered');
    expect(await bpmOf(songs[0]!.id)).toBeNull();

    // A writer on Song v2 (the current schema) with a tempo.
    const v2 = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(current.bundled.get('Song')) }, { subject: `${songsTopic}-value` });
    await produce([{ key: songs[2]!.id, value: frame(current.types.get('Song')!, v2.id, { ...songs[2]!, bpm: 96 }) }]);
    const again = await rapflow(['consume', '--idle-exit', '4'], env);
    expect(again.code, again.stderr.slice(-1500)).toBe(0);
    expect(again.stdout).toContain('consumed 1 record: 1 written, 0 dead-lettered');
    expect(await bpmOf(songs[2]!.id)).toBe(96);
    expect(await deadLetters()).toEqual([]);
  });
});
