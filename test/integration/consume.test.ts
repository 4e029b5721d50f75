// split -> consume -> Cassandra, read back row by row; replays change nothing; poison goes to the dead-letter topic.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/codec/registry.js';
import { loadSchemaSet, topicOf } from '../../src/codec/schemas.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { rapflow } from './cli.js';
import { config, dropIsolated, isolatedEnv, readTopics, sampleRecords, splitSample, uniqueName } from './stack.js';

const set = loadSchemaSet('avro');
const tmp = mkdtempSync(join(tmpdir(), 'rapflow-consume-'));
const env = isolatedEnv('consume');
const prefix = env.KAFKA_TOPIC_PREFIX;
const kafka = new Kafka({ clientId: 'consume-test', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
const cql = new CqlSession({ ...config.cassandra, keyspace: env.CASSANDRA_KEYSPACE });

const expected = sampleRecords();

/** Everything in the keyspace, as plain comparable values. */
async function snapshot() {
  const all = async (table: string) => (await cql.execute(`SELECT * FROM ${env.CASSANDRA_KEYSPACE}.${table}`, [], { fetchSize: 5_000 })).rows;
  const str = (v: unknown) => (v === null || v === undefined ? null : (v as { toString(): string }).toString());
  return {
    songs: (await all('songs')).map((r) => ({ id: str(r.get('id')), title: r.get('title') as string, artist: r.get('artist') as string, releaseDate: str(r.get('release_date')), lineCount: r.get('line_count') as number })).sort((a, b) => a.id!.localeCompare(b.id!)),
    byArtist: (await all('songs_by_artist')).length,
    lines: (await all('lyric_lines')).map((r) => ({ id: str(r.get('id')), songId: str(r.get('song_id')), lineNumber: r.get('line_number') as number, text: r.get('text') as string, section: r.get('section') as string })).sort((a, b) => a.id!.localeCompare(b.id!)),
    artists: (await all('artists')).map((r) => ({ id: str(r.get('id')), name: r.get('name') as string })).sort((a, b) => a.id!.localeCompare(b.id!)),
    meetups: (await all('meetups')).map((r) => ({ id: str(r.get('id')), title: r.get('title') as string, setlist: JSON.parse(r.get('setlist') as string) as unknown })).sort((a, b) => a.id!.localeCompare(b.id!)),
  };
}

describe('consume: Kafka to Cassandra', () => {
  beforeAll(async () => {
    expect((await rapflow(['db', 'init'], env)).code).toBe(0);
    await splitSample(env, tmp);
    await cql.connect();
  });

  afterAll(async () => {
    await cql.close();
    await dropIsolated(env);
  });

  it('writes exactly the sample data into every table', async () => {
    const r = await rapflow(['consume', '--idle-exit', '3'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('consumed 534 records: 534 written, 0 dead-lettered');
    const rows = await snapshot();
    const byId = <T extends { id: string | null }>(xs: T[]) => [...xs].sort((a, b) => a.id!.localeCompare(b.id!));
    expect(rows.songs).toEqual(byId(expected.songs.map((s) => ({ id: s.id, title: s.title, artist: s.artist, releaseDate: s.releaseDate, lineCount: s.lineCount }))));
    expect(rows.byArtist).toBe(expected.songs.length);
    expect(rows.lines).toEqual(byId(expected.lines.map((l) => ({ id: l.id, songId: l.songId, lineNumber: l.lineNumber, text: l.text, section: l.section }))));
    expect(rows.artists).toEqual(byId(expected.artists.map((a) => ({ id: a.id, name: a.name }))));
    expect(rows.meetups).toEqual(byId(expected.meetups.map((m) => ({ id: m.id, title: m.title, setlist: m.setlist }))));
  });

  it('changes nothing when the same records are consumed again (a new group replays from the start)', async () => {
    const before = await snapshot();
    const r = await rapflow(['consume', '--idle-exit', '3'], { ...env, KAFKA_CONSUMER_GROUP: uniqueName('replay') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('consumed 534 records: 534 written');
    expect(await snapshot()).toEqual(before);
  });

  it('dead-letters garbage bytes and an unknown schema id with their reasons, and writes the rest', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const registry = new Registry(config.registry.url, prefix);
    const ids = await registry.registerAll(set, ['LyricLine']);
    const good = { ...expected.lines[0]!, text: 'a line that arrives after the poison' };
    const goodValue = await registry.encode(ids.get('LyricLine')!.id, good);
    const unknownId = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), Buffer.from('whatever')]);
    await producer.send({
      topic: topicOf('LyricLine', prefix),
      messages: [
        { key: 'garbage', value: Buffer.from('definitely not avro'), headers: { 'rapflow.source.key': 'incoming/none.yaml' } },
        { key: 'unknown-id', value: unknownId },
        { key: good.id, value: goodValue },
      ],
    });
    await producer.disconnect();

    const r = await rapflow(['consume', '--idle-exit', '3'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('consumed 3 records: 1 written, 2 dead-lettered');
    const line = await cql.execute(`SELECT text FROM ${env.CASSANDRA_KEYSPACE}.lyric_lines WHERE song_id = ? AND line_number = ?`, [good.songId, good.lineNumber]);
    expect(line.first()?.get('text')).toBe('a line that arrives after the poison');

    const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: topicOf('DeadLetter', prefix), fromBeginning: true });
    const letters: { key: string; headers: Record<string, string>; value: Record<string, unknown> }[] = [];
    const dlqRegistry = new Registry(config.registry.url);
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          letters.push({ key: message.key!.toString(), headers, value: (await dlqRegistry.decode(message.value!)) as Record<string, unknown> });
          if (letters.length === 2) resolve();
        },
      });
    });
    await consumer.disconnect();
    const byKey = Object.fromEntries(letters.map((l) => [l.key, l]));
    expect(byKey.garbage!.headers['rapflow.dlq.code']).toBe('RECORD_UNDECODABLE');
    expect(byKey.garbage!.headers['rapflow.dlq.reason']).toMatch(/not in Confluent wire format/);
    expect(byKey.garbage!.headers['rapflow.source.key']).toBe('incoming/none.yaml');
    expect(byKey.garbage!.value).toMatchObject({ sourceTopic: topicOf('LyricLine', prefix), errorCode: 'RECORD_UNDECODABLE', consumerGroup: env.KAFKA_CONSUMER_GROUP });
    expect(Buffer.from(byKey.garbage!.value.value as Buffer).toString()).toBe('definitely not avro');
    expect(byKey['unknown-id']!.headers['rapflow.dlq.reason']).toMatch(/404|not found|schema/i);
  });

  it('serves /healthz, /readyz and /metrics while it runs, and stops cleanly on SIGTERM', async () => {
    const port = 19464 + Math.floor(Math.random() * 500);
    const child = spawn('node', ['dist/cli/main.js', 'consume'], { env: { ...process.env, ...env, KAFKA_CONSUMER_GROUP: uniqueName('metrics'), HTTP_PORT: String(port), LOG_LEVEL: 'info' } });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined);
      return res ? { status: res.status, body: await res.text() } : undefined;
    };
    const written = () => get('/metrics').then((r) => [...(r?.body ?? '').matchAll(/^rapflow_consumer_records_written_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0));
    const deadline = Date.now() + 60_000;
    while ((await written()) < 535 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await written()).toBe(535);
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    const ready = await get('/readyz');
    expect(ready?.status).toBe(200);
    expect(JSON.parse(ready!.body)).toEqual({ ready: true, failures: {} });
    const metrics = (await get('/metrics'))!.body;
    expect(metrics).toMatch(/^rapflow_consumer_records_dead_lettered_total\{topic="[^"]+rap\.lyrics"\} 2$/m);
    expect(metrics).toMatch(/^rapflow_consumer_batch_seconds_count \d+$/m);
    expect(metrics).toMatch(/^rapflow_consumer_lag_records\{topic="[^"]+",partition="\d+"\} 0$/m);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain('consumed 537 records: 535 written, 2 dead-lettered');
  });

  it('a column and a table dropped behind the consumer stop it with exit 78, dead-letter nothing and commit nothing past them; db init mends them and a restart writes everything', async () => {
    const ks = env.CASSANDRA_KEYSPACE;
    const dlqTopic = topicOf('DeadLetter', prefix);
    const lettersBefore = (await readTopics([dlqTopic], 1_000)).length;
    await cql.execute(`ALTER TABLE ${ks}.lyric_lines DROP performer`);
    await cql.execute(`DROP TABLE ${ks}.meetups`);
    const group = uniqueName('drift');
    const broken = await rapflow(['consume', '--idle-exit', '5'], { ...env, KAFKA_CONSUMER_GROUP: group });
    expect(broken.code, broken.stderr.slice(-2000)).toBe(78);
    expect(broken.stderr).toMatch(/CONFIG_INVALID: CQL (batch of \d+ )?INSERT \S+\.(lyric_lines|meetups): .*rapflow db init/);
    expect((await readTopics([dlqTopic], 1_000)).length).toBe(lettersBefore);

    const init = await rapflow(['db', 'init'], env);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('columns added for the datamodel: lyric_lines.performer');
    const fixed = await rapflow(['consume', '--idle-exit', '5'], { ...env, KAFKA_CONSUMER_GROUP: group });
    expect(fixed.code, fixed.stderr.slice(-2000)).toBe(0);
    // A new group reads from the start: the two garbage records of the test above are its only dead letters.
    expect(fixed.stdout).toMatch(/consumed \d+ records: \d+ written, 2 dead-lettered/);
    expect((await readTopics([dlqTopic], 1_000)).length).toBe(lettersBefore + 2);
    const rows = await snapshot();
    expect(rows.meetups.map((m) => m.id).sort()).toEqual(expected.meetups.map((m) => m.id).sort());
    const performers = await cql.execute(`SELECT performer FROM ${ks}.lyric_lines`, [], { fetchSize: 5_000 });
    expect(performers.rows.filter((r) => r.get('performer') === null)).toEqual([]);
  });

  it('a keyspace that does not exist is a configuration error that names the table and what to check, over CQL too', async () => {
    const r = await rapflow(['query', 'artists'], { LOG_LEVEL: 'warn', CASSANDRA_KEYSPACE: 'nosuch_keyspace', READ_API: 'cql' });
    expect(r.code).toBe(78);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('CONFIG_INVALID: CQL SELECT nosuch_keyspace.artists: keyspace nosuch_keyspace does not exist');
    expect(r.stderr).toContain('check CASSANDRA_KEYSPACE');
  });
});
