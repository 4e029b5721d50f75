// upload -> discover -> split against the real stack, read back by an independent consumer through the registry.
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/codec/registry.js';
import { loadSchemaSet, topicOf, type RecordName } from '../../src/codec/schemas.js';
import { recordsOf, validateFile } from '../../src/model/validate.js';
import type { Manifest } from '../../src/pipeline/split.js';
import { minioClient } from '../../src/stack/probes.js';
import { HEADER } from '../../src/transport/topics.js';
import { rapflow } from './cli.js';
import { config, dropBucket, dropKeyspace, dropTopics, endpoints, testStack, uniqueName } from './stack.js';

const set = loadSchemaSet('avro');
const tmp = mkdtempSync(join(tmpdir(), 'rapflow-split-'));
const prefix = `${uniqueName('split')}.`;
const env = {
  KAFKA_TOPIC_PREFIX: prefix,
  S3_INBOX_BUCKET: uniqueName('inbox'),
  CASSANDRA_KEYSPACE: uniqueName('split', '_'),
  LOG_LEVEL: 'warn',
};
const kafka = new Kafka({ clientId: 'split-test-reader', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });

/** What data/ must become: every record by topic and key. */
function expected(): Map<string, Map<string, unknown>> {
  const out = new Map<string, Map<string, unknown>>();
  const add = (name: RecordName, records: { id: string }[]) => {
    const m = out.get(topicOf(name, prefix)) ?? new Map<string, unknown>();
    for (const r of records) m.set(r.id, r);
    out.set(topicOf(name, prefix), m);
  };
  for (const f of readdirSync('data').filter((n) => n.endsWith('.yaml'))) {
    const r = recordsOf(validateFile(f, readFileSync(join('data', f)), set.types));
    add('Artist', r.artists);
    add('Song', r.songs);
    add('LyricLine', r.lines);
    add('Meetup', r.meetups);
  }
  return out;
}

interface ReadRecord {
  topic: string;
  key: string;
  value: unknown;
  headers: Record<string, string>;
}

/**
 * An independent read_committed consumer from the beginning, decoding every value through the
 * registry. Reads until `count` records arrived, then `settleMs` more to catch any extra.
 */
async function readAll(count: number, settleMs = 1_500): Promise<ReadRecord[]> {
  const registry = new Registry(config.registry.url);
  const topics = (['Artist', 'Song', 'LyricLine', 'Meetup'] as const).map((n) => topicOf(n, prefix));
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const out: ReadRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let enough: () => void = () => {};
  const reachedCount = new Promise<void>((resolve) => (enough = resolve));
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      out.push({ topic, key: message.key!.toString(), value: await registry.decode(message.value!, set.types.get(nameOf(topic))), headers });
      if (out.length >= count) enough();
    },
  });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`read ${out.length} of ${count} records in 60 s`)), 60_000));
  try {
    await Promise.race([reachedCount, timeout]);
    await new Promise((r) => setTimeout(r, settleMs));
  } finally {
    await consumer.disconnect();
  }
  return out;
}

const nameOf = (topic: string): RecordName =>
  (({ 'rap.songs': 'Song', 'rap.lyrics': 'LyricLine', 'rap.artists': 'Artist', 'rap.meetups': 'Meetup' }) as Record<string, RecordName>)[topic.slice(prefix.length)]!;

async function endOffsets(): Promise<Record<string, string>> {
  const admin = kafka.admin();
  await admin.connect();
  const out: Record<string, string> = {};
  for (const n of ['Artist', 'Song', 'LyricLine', 'Meetup'] as const) {
    for (const p of await admin.fetchTopicOffsets(topicOf(n, prefix))) out[`${topicOf(n, prefix)}/${p.partition}`] = p.high;
  }
  await admin.disconnect();
  return out;
}

describe('split: MinIO to Kafka', () => {
  const s3 = minioClient(endpoints);

  beforeAll(async () => {
    for (const args of [['db', 'init'], ['topics', 'create']]) {
      const r = await rapflow(args, env);
      expect(r.code, r.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    await dropTopics(prefix);
    await dropKeyspace(env.CASSANDRA_KEYSPACE);
    await dropBucket(env.S3_INBOX_BUCKET);
  });

  it('uploads data/, discovers 13 files and splits them into exactly the sample records', async () => {
    expect((await rapflow(['upload', 'data/'], env)).code).toBe(0);
    const list = join(tmp, 'list.json');
    const d = await rapflow(['discover', '--out', list], env);
    expect(d.stdout).toContain('13 to split, 0 already done');

    const manifestFile = join(tmp, 'manifest.json');
    const r = await rapflow(['split', '--from-list', list, '--manifest', manifestFile], env);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    expect(manifest.files.map((f) => f.status)).toEqual(Array(13).fill('split'));
    expect(manifest.totals).toEqual({
      [topicOf('Artist', prefix)]: 10,
      [topicOf('Song', prefix)]: 33,
      [topicOf('LyricLine', prefix)]: 486,
      [topicOf('Meetup', prefix)]: 5,
    });

    const read = await readAll(534);
    const want = expected();
    const got = new Map<string, Map<string, unknown>>();
    for (const r of read) {
      const m = got.get(r.topic) ?? new Map<string, unknown>();
      expect(m.has(r.key), `duplicate ${r.topic} ${r.key}`).toBe(false);
      m.set(r.key, r.value);
      got.set(r.topic, m);
      expect(r.headers[HEADER.sourceBucket]).toBe(env.S3_INBOX_BUCKET);
      expect(r.headers[HEADER.sourceKey]).toMatch(/^incoming\/.+\.yaml$/);
      expect(r.headers[HEADER.runId]).toBe(manifest.runId);
      expect(r.headers[HEADER.sourceEtag]).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(got).toEqual(want);

    // The manifest's last offsets are where each file's records really ended.
    const last = manifest.files.flatMap((f) => Object.entries(f.lastOffsets ?? {}).flatMap(([t, ps]) => Object.entries(ps).map(([p, o]) => [`${t}/${p}`, BigInt(o)] as const)));
    const ends = await endOffsets();
    for (const [tp, o] of last) expect(o < BigInt(ends[tp]!)).toBe(true);
  });

  it('splits nothing new the second time: the ledger skips finished files', async () => {
    const before = await endOffsets();
    const list = join(tmp, 'list2.json');
    expect((await rapflow(['discover', '--out', list], env)).stdout).toContain('0 to split, 13 already done');
    const keys = readdirSync('data').filter((n) => n.endsWith('.yaml')).map((n) => `s3://${env.S3_INBOX_BUCKET}/incoming/${n}`);
    const manifestFile = join(tmp, 'manifest2.json');
    const r = await rapflow(['split', ...keys, '--manifest', manifestFile], env);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    expect(manifest.files.every((f) => f.status === 'skipped')).toBe(true);
    expect(manifest.totals).toEqual({});
    expect(await endOffsets()).toEqual(before);
  });

  it('quarantines an invalid file with its report and produces nothing of it', async () => {
    const before = await endOffsets();
    const bad = readFileSync('test/fixtures/invalid/section-by-stranger.yaml');
    await s3.putObject(env.S3_INBOX_BUCKET, 'incoming/late/section-by-stranger.yaml', bad, bad.length);
    const list = join(tmp, 'list3.json');
    expect((await rapflow(['discover', '--out', list], env)).stdout).toContain('1 to split, 13 already done');
    const manifestFile = join(tmp, 'manifest3.json');
    const r = await rapflow(['split', '--from-list', list, '--manifest', manifestFile], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 quarantined');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    expect(manifest.files[0]).toMatchObject({ status: 'quarantined', quarantinedAs: 'quarantine/incoming/late/section-by-stranger.yaml' });

    const chunks: Buffer[] = [];
    for await (const c of await s3.getObject(env.S3_INBOX_BUCKET, 'quarantine/incoming/late/section-by-stranger.yaml.report.json')) chunks.push(c as Buffer);
    const report = JSON.parse(Buffer.concat(chunks).toString()) as { problems: { line: number; path: string; message: string }[] };
    expect(report.problems).toEqual([expect.objectContaining({ line: 15, path: 'spec.lyrics.1.by' })]);
    const copy = await s3.statObject(env.S3_INBOX_BUCKET, 'quarantine/incoming/late/section-by-stranger.yaml');
    expect(copy.size).toBe(bad.length);
    expect(await endOffsets()).toEqual(before);
    // Quarantined counts as finished: the next discover does not offer it again.
    expect((await rapflow(['discover', '--out', list], env)).stdout).toContain('0 to split, 14 already done');
  });

  it('exits 78 naming the problem when the topics do not exist', async () => {
    const r = await rapflow(['split', `s3://${env.S3_INBOX_BUCKET}/incoming/artists.yaml`, '--manifest', join(tmp, 'm.json')], { ...env, KAFKA_TOPIC_PREFIX: 'nonexistent.' });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/topic/i);
  });

  it('keeps the stack healthy for the next suites', async () => {
    // Stargate without a coordinator is `not installed`: the stack runs without it.
    expect((await testStack().status()).filter((s) => s.state !== 'up' && s.state !== 'not installed')).toEqual([]);
  });
});
