// `rapflow backfill` on the real stack: the retained topics again from the beginning, in a group of
// its own, into a store that lost rows; idempotent, with progress, ending in verify --all; and past
// the topics' retention, the files re-split from the bucket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicOf } from '../../src/codec/schemas.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { rapflow } from './cli.js';
import { config, dropIsolated, isolatedEnv, readTopics, sampleRecords, splitSample, uniqueName } from './stack.js';

const env = isolatedEnv('backfill');
const prefix = env.KAFKA_TOPIC_PREFIX;
const ks = env.CASSANDRA_KEYSPACE;
const tmp = mkdtempSync(join(tmpdir(), 'rapflow-backfill-'));
const cql = new CqlSession({ ...config.cassandra, keyspace: ks });
const kafka = new Kafka({ clientId: 'backfill-test', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
const expected = sampleRecords();
const group = uniqueName('backfill');

const rowCounts = async () => {
  const n = async (t: string) => Number((await cql.execute(`SELECT count(*) FROM ${ks}.${t}`)).first().get(0));
  return { songs: await n('songs'), byArtist: await n('songs_by_artist'), lines: await n('lyric_lines'), artists: await n('artists'), meetups: await n('meetups') };
};
const all = { songs: expected.songs.length, byArtist: expected.songs.length, lines: expected.lines.length, artists: expected.artists.length, meetups: expected.meetups.length };
const lines = async () => (await cql.execute(`SELECT id, text FROM ${ks}.lyric_lines`, [], { fetchSize: 5_000 })).rows.map((r) => `${String(r.get('id'))} ${r.get('text') as string}`).sort();

describe('rapflow backfill', () => {
  beforeAll(async () => {
    expect((await rapflow(['db', 'init'], env)).code).toBe(0);
    await splitSample(env, tmp);
    // One record the consumer cannot decode: dead-lettered once by the consumer, never again by a backfill.
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: topicOf('LyricLine', prefix), messages: [{ key: 'garbage', value: Buffer.from('not avro') }] });
    await producer.disconnect();
    const consumed = await rapflow(['consume', '--idle-exit', '3'], env);
    expect(consumed.stdout).toContain('consumed 535 records: 534 written, 1 dead-lettered');
    await cql.connect();
    expect(await rowCounts()).toEqual(all);
  });

  afterAll(async () => {
    await cql.close();
    await dropIsolated(env);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('brings lost rows back from the retained topics, with progress, and ends in verify --all', async () => {
    const before = await lines();
    for (const t of ['songs', 'songs_by_artist', 'lyric_lines']) await cql.execute(`TRUNCATE ${ks}.${t}`);
    const broken = await rapflow(['verify', '--all'], env);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^11 of 13 files do not reconcile/m);

    const r = await rapflow(['backfill', '--group', group, '--idle-exit', '3', '--progress', '1'], env);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^backfill: group ${group}, from the beginning, over CQL: about \\d+ records to read$`, 'm'));
    expect(r.stderr).toMatch(/^backfill: 535 records read, 534 written, 1 dead-lettered; about \d+ to go$/m);
    expect(r.stdout).toContain(`backfilled 535 records in group ${group} (over CQL): 534 written, 1 dead-lettered`);
    expect(r.stdout).toContain('verified 13 files: every record is a row or a dead letter');
    expect(await rowCounts()).toEqual(all);
    expect(await lines()).toEqual(before);
    expect(await readTopics([topicOf('DeadLetter', prefix)], 1_000)).toHaveLength(1);
  });

  it('starts a group only once from the beginning; --resume continues it, and nothing changes', async () => {
    const again = await rapflow(['backfill', '--group', group], env);
    expect(again.code).toBe(78);
    expect(again.stderr).toContain(`CONFIG_INVALID: group ${group} has committed offsets already, so it would not start at the beginning: pass --resume`);
    const own = await rapflow(['backfill', '--group', env.KAFKA_CONSUMER_GROUP], env);
    expect(own.code).toBe(78);
    expect(own.stderr).toContain("is the consumer's own group");

    const before = await lines();
    const resumed = await rapflow(['backfill', '--group', group, '--resume', '--idle-exit', '3'], env);
    expect(resumed.code, resumed.stderr.slice(-2000)).toBe(0);
    expect(resumed.stderr).toContain(`backfill: group ${group}, resuming where it committed, over CQL`);
    expect(resumed.stdout).toContain(`backfilled 0 records in group ${group}`);
    expect(resumed.stdout).toContain('verified 13 files');
    expect(await lines()).toEqual(before);
  });

  it('past the retention it says which partitions lost records and which files to split again; split again, they verify', async () => {
    const artists = topicOf('Artist', prefix);
    const admin = kafka.admin();
    await admin.connect();
    const [end] = await admin.fetchTopicOffsets(artists);
    // What retention.ms does to old segments, at once.
    await admin.deleteTopicRecords({ topic: artists, partitions: [{ partition: 0, offset: end!.high }] });
    await admin.disconnect();
    await cql.execute(`TRUNCATE ${ks}.artists`);

    const r = await rapflow(['backfill', '--group', uniqueName('backfill-late'), '--idle-exit', '3'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`backfill: warning: ${artists}[0] begins at offset ${end!.high}: Kafka has deleted its older records`);
    expect(r.stdout).toMatch(/^mismatch {4}s3:\/\/\S+\/incoming\/artists\.yaml {2}artists 0\/10$/m);
    expect(r.stderr).toMatch(/VERIFY_MISMATCH: after the backfill, 1 file does not reconcile: incoming\/artists\.yaml \(records past the topics' retention: split these files again from the bucket\)/);

    // The remedy the docs give: forget the file in the ledger, discover and split it again, consume.
    await cql.execute(`DELETE FROM ${ks}.ingest_ledger WHERE bucket = ? AND object_key = ?`, [env.S3_INBOX_BUCKET, 'incoming/artists.yaml'], { prepare: true });
    const todo = join(tmp, 'todo-again.json');
    expect((await rapflow(['discover', '--out', todo], env)).stdout).toMatch(/^1 to split/);
    expect((await rapflow(['split', '--from-list', todo, '--manifest', join(tmp, 'm-again.json')], env)).code).toBe(0);
    expect((await rapflow(['consume', '--idle-exit', '3'], env)).stdout).toContain('consumed 10 records: 10 written');
    const ok = await rapflow(['verify', '--all'], env);
    expect(ok.code, ok.stdout).toBe(0);
    expect(await rowCounts()).toEqual(all);
  });
});
