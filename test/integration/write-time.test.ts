// A replayed older version must not overwrite a newer one. Against the real stack: version 1 of a
// file is uploaded and split, then version 2; the consumer writes both; then version 1's records,
// exactly as split produced them, are put on the topics again (a replay) and consumed last. Over
// CQL the rows are written with their file's version time (USING TIMESTAMP), so version 2 stays.
// Then a column is dropped and added again (db init): a replay fills it again, written no lower than
// the drop (the floor), where versions older than the drop tie.
// (Stargate takes no write time: test/unit/stargate-sink.test.ts shows what it is sent.)
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { songId } from '../../src/model/ids.js';
import type { Manifest } from '../../src/pipeline/split.js';
import { s3Client } from '../../src/source/s3.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { rapTopics } from '../../src/transport/topics.js';
import { rapflow } from './cli.js';
import { config, dropIsolated, isolatedEnv, uniqueName } from './stack.js';

const tmp = mkdtempSync(join(tmpdir(), 'rapflow-write-time-'));
const env = { ...isolatedEnv('wtime'), SINK: 'cql', READ_API: 'cql' };
const kafka = new Kafka({ clientId: 'write-time-test', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
const cql = new CqlSession({ ...config.cassandra, keyspace: env.CASSANDRA_KEYSPACE });
const s3 = s3Client({ endpoint: config.s3.endpoint, accessKey: config.s3.accessKey, secretKey: config.s3.secretKey });
const KEY = 'incoming/write-time-probe.yaml';

const version = (album: string, hook: string) => `apiVersion: rap.dok.community/v1
kind: Artist
metadata:
  name: vera-version
spec:
  name: "Vera Version"
---
apiVersion: rap.dok.community/v1
kind: Song
metadata:
  name: last-writer
spec:
  title: "Last Writer"
  artist: "Vera Version"
  album: "${album}"
  releaseDate: "2025-04-01"
  language: "en"
  lyrics:
    - section: verse
      lines:
        - "Two copies of a file, one key in the bucket"
    - section: hook
      lines:
        - "${hook}"
`;

/** Uploads `text` as the probe file, then discovers and splits it; returns the manifest. */
async function ingest(name: string, text: string): Promise<Manifest> {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'write-time-probe.yaml'), text);
  for (const args of [['upload', dir], ['discover', '--out', join(tmp, `${name}.todo.json`)], ['split', '--from-list', join(tmp, `${name}.todo.json`), '--manifest', join(tmp, `${name}.json`)]]) {
    const r = await rapflow(args, env);
    expect(r.code, `${args[0]}: ${r.stderr}`).toBe(0);
  }
  return JSON.parse(readFileSync(join(tmp, `${name}.json`), 'utf8')) as Manifest;
}

interface Raw {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

/** Every committed record of the rap topics whose source etag is `etag`, as it is on the topic. */
async function recordsOf(etag: string, expected: number): Promise<Raw[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('write-time-reader') });
  const out: Raw[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: rapTopics(env.KAFKA_TOPIC_PREFIX).map((t) => t.name), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ topic, message }) => {
        if (String(message.headers?.['rapflow.source.etag']) === etag) out.push({ topic, key: message.key, value: message.value, headers: message.headers ?? {} });
        return Promise.resolve();
      },
    });
    const t0 = Date.now();
    while (out.length < expected && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 200));
  } finally {
    await consumer.disconnect();
  }
  return out;
}

describe('write time over CQL: a replayed older version does not overwrite a newer one', () => {
  let v1: Manifest;
  let v2: Manifest;
  let v2Modified: Date;

  beforeAll(async () => {
    for (const args of [['db', 'init'], ['topics', 'create']]) {
      const r = await rapflow(args, env);
      expect(r.code, r.stderr).toBe(0);
    }
    v1 = await ingest('v1', version('First Pressing', 'the old hook'));
    // Last-Modified has whole seconds: the second version is a second later.
    await new Promise((r) => setTimeout(r, 1_100));
    v2 = await ingest('v2', version('Second Pressing', 'the new hook'));
    v2Modified = (await s3.statObject(env.S3_INBOX_BUCKET, KEY)).lastModified;
    await cql.connect();
  });

  afterAll(async () => {
    await cql.close();
    await dropIsolated(env);
  });

  const read = async () => {
    const id = songId('Vera Version', 'Last Writer');
    const song = (await cql.execute(`SELECT album, writetime(album) AS wt FROM ${env.CASSANDRA_KEYSPACE}.songs WHERE id = ?`, [id], { prepare: true })).first();
    const hook = (await cql.execute(`SELECT text, writetime(text) AS wt FROM ${env.CASSANDRA_KEYSPACE}.lyric_lines WHERE song_id = ? AND line_number = 2`, [id], { prepare: true })).first();
    return { album: song.get('album') as string, hook: hook.get('text') as string, albumWritten: Number(song.get('wt')), hookWritten: Number(hook.get('wt')) };
  };

  it('split both versions, each record carrying its version time', async () => {
    expect(v1.files.map((f) => f.status)).toEqual(['split']);
    expect(v2.files.map((f) => f.status)).toEqual(['split']);
    expect(v1.files[0]!.etag).not.toBe(v2.files[0]!.etag);
    const time = (records: Raw[]) => [...new Set(records.map((m) => String(m.headers['rapflow.source.last-modified'])))];
    expect(time(await recordsOf(v2.files[0]!.etag, 4))).toEqual([v2Modified.toISOString()]);
    const old = time(await recordsOf(v1.files[0]!.etag, 4));
    expect(old).toHaveLength(1);
    expect(Date.parse(old[0]!)).toBeLessThan(v2Modified.getTime());
  });

  it('writes version 2 over version 1 (in order), at version 2’s time', async () => {
    const r = await rapflow(['consume', '--idle-exit', '3'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('consumed 8 records: 8 written, 0 dead-lettered');
    expect(await read()).toEqual({ album: 'Second Pressing', hook: 'the new hook', albumWritten: v2Modified.getTime() * 1000, hookWritten: v2Modified.getTime() * 1000 });
  });

  it('keeps version 2 when version 1’s records are replayed after it', async () => {
    const old = await recordsOf(v1.files[0]!.etag, 4);
    expect(old).toHaveLength(4); // the artist, the song, its two lines
    // The replay: version 1's records, bytes and headers as split produced them, on the topics again.
    const producer = kafka.producer();
    await producer.connect();
    try {
      for (const topic of new Set(old.map((m) => m.topic))) {
        await producer.send({ topic, acks: -1, messages: old.filter((m) => m.topic === topic).map((m) => ({ key: m.key, value: m.value, headers: m.headers })) });
      }
    } finally {
      await producer.disconnect();
    }
    const r = await rapflow(['consume', '--idle-exit', '3'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('consumed 4 records: 4 written, 0 dead-lettered');
    expect(await read()).toEqual({ album: 'Second Pressing', hook: 'the new hook', albumWritten: v2Modified.getTime() * 1000, hookWritten: v2Modified.getTime() * 1000 });
  });

  it('after songs.album is dropped and db init adds it again, a replay fills it: versions older than the drop tie at the floor, a version uploaded after it wins', async () => {
    const ks = env.CASSANDRA_KEYSPACE;
    await cql.execute(`ALTER TABLE ${ks}.songs DROP album`);
    const init = await rapflow(['db', 'init'], env);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('columns added for the datamodel: songs.album');
    const dropped = (await cql.execute('SELECT dropped_time FROM system_schema.dropped_columns WHERE keyspace_name = ? AND table_name = ?', [ks, 'songs'], { prepare: true })).first();
    const floor = ((dropped.get('dropped_time') as Date).getTime() + 1) * 1000;
    expect(floor).toBeGreaterThan(v2Modified.getTime() * 1000);

    // Version 2's records, then version 1's: both older than the drop. The last arrival is version 1.
    // Version 1's records are on the topics twice now (split, and the replay above): once each here.
    const once = (xs: Raw[]) => [...new Map(xs.map((m) => [`${m.topic}\u0000${m.key?.toString('hex')}`, m])).values()];
    const replay = [...once(await recordsOf(v2.files[0]!.etag, 4)), ...once(await recordsOf(v1.files[0]!.etag, 8))];
    expect(replay).toHaveLength(8);
    const producer = kafka.producer();
    await producer.connect();
    try {
      for (const topic of new Set(replay.map((m) => m.topic))) {
        await producer.send({ topic, acks: -1, messages: replay.filter((m) => m.topic === topic).map((m) => ({ key: m.key, value: m.value, headers: m.headers })) });
      }
    } finally {
      await producer.disconnect();
    }
    const r = await rapflow(['consume', '--idle-exit', '3'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('consumed 8 records: 8 written, 0 dead-lettered');
    // songs: both versions at the floor, a tie Cassandra settles by value ("Second…" > "First…"), not
    // by arrival. lyric_lines lost no column: its rows keep their version times, version 2 wins.
    expect(await read()).toEqual({ album: 'Second Pressing', hook: 'the new hook', albumWritten: floor, hookWritten: v2Modified.getTime() * 1000 });

    // A version uploaded after the drop is later than the floor and wins, "A…" < "Second…" though it is.
    await new Promise((res) => setTimeout(res, 1_100));
    const v3 = await ingest('v3', version('A Third Pressing', 'the third hook'));
    expect(v3.files.map((f) => f.status)).toEqual(['split']);
    const v3Modified = (await s3.statObject(env.S3_INBOX_BUCKET, KEY)).lastModified;
    const again = await rapflow(['consume', '--idle-exit', '3'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('consumed 4 records: 4 written, 0 dead-lettered');
    expect(await read()).toEqual({ album: 'A Third Pressing', hook: 'the third hook', albumWritten: v3Modified.getTime() * 1000, hookWritten: v3Modified.getTime() * 1000 });
  });
});
