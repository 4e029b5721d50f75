// The broker stops in the middle of a split: the command ends 75 (or finishes), and a rerun leaves exactly the expected records.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSchemaSet, topicOf } from '../../src/codec/schemas.js';
import { generateCorpus } from '../../src/model/generate.js';
import { recordsOf, validateFile } from '../../src/model/validate.js';
import type { Manifest } from '../../src/pipeline/split.js';
import { rapflow } from './cli.js';
import { config, dropKeyspace, dropTopics, testStack, uniqueName } from './stack.js';

const set = loadSchemaSet('avro');
const tmp = mkdtempSync(join(tmpdir(), 'rapflow-split-fault-'));
const prefix = `${uniqueName('fault')}.`;
const env = { KAFKA_TOPIC_PREFIX: prefix, S3_INBOX_BUCKET: uniqueName('fault'), CASSANDRA_KEYSPACE: uniqueName('fault', '_'), LOG_LEVEL: 'info' };
const corpus = { songs: 1_600, seed: 11, linesPerSong: 20, songsPerFile: 40 };

/** Expected keys per topic for the generated corpus. */
function expectedKeys(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (topic: string, ids: string[]) => {
    const s = out.get(topic) ?? new Set<string>();
    for (const id of ids) s.add(id);
    out.set(topic, s);
  };
  for (const f of generateCorpus(corpus)) {
    const r = recordsOf(validateFile(f.name, Buffer.from(f.content), set.types));
    add(topicOf('Artist', prefix), r.artists.map((x) => x.id));
    add(topicOf('Song', prefix), r.songs.map((x) => x.id));
    add(topicOf('LyricLine', prefix), r.lines.map((x) => x.id));
  }
  return out;
}

/** Every committed record's key, per topic, with how often each key was seen. */
async function committedKeys(total: number): Promise<Map<string, Map<string, number>>> {
  const kafka = new Kafka({ clientId: 'fault-reader', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniqueName('fault-reader') });
  const out = new Map<string, Map<string, number>>();
  let seen = 0;
  await consumer.connect();
  await consumer.subscribe({ topics: (['Artist', 'Song', 'LyricLine'] as const).map((n) => topicOf(n, prefix)), fromBeginning: true });
  let enough: () => void = () => {};
  const reached = new Promise<void>((r) => (enough = r));
  await consumer.run({
    eachBatch: ({ batch }) => {
      const m = out.get(batch.topic) ?? new Map<string, number>();
      for (const msg of batch.messages) m.set(msg.key!.toString(), (m.get(msg.key!.toString()) ?? 0) + 1);
      out.set(batch.topic, m);
      seen += batch.messages.length;
      if (seen >= total) enough();
      return Promise.resolve();
    },
  });
  // An aborted transaction of the stopped run can hold read_committed readers until it times out (30 s).
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`read ${seen} of ${total} records in 90 s`)), 90_000));
  try {
    await Promise.race([reached, timeout]);
    await new Promise((r) => setTimeout(r, 2_000));
  } finally {
    await consumer.disconnect();
  }
  return out;
}

describe('split when the broker stops', () => {
  const stack = testStack();
  afterAll(async () => {
    await stack.up(['kafka']);
    await dropTopics(prefix);
    await dropKeyspace(env.CASSANDRA_KEYSPACE);
  });

  it('fails with 75 or finishes, and a rerun leaves exactly the expected records', async () => {
    const dir = join(tmp, 'corpus');
    expect((await rapflow(['generate', '--songs', String(corpus.songs), '--seed', String(corpus.seed), '--lines-per-song', String(corpus.linesPerSong), '--songs-per-file', String(corpus.songsPerFile), '--out', dir])).code).toBe(0);
    for (const args of [['db', 'init'], ['topics', 'create'], ['upload', dir]]) expect((await rapflow(args, env)).code).toBe(0);
    const list = join(tmp, 'list.json');
    expect((await rapflow(['discover', '--out', list], env)).stdout).toContain('41 to split');

    // Start the split, and stop the broker once a few files are through.
    const child = spawn('node', ['dist/cli/main.js', 'split', '--from-list', list, '--manifest', join(tmp, 'm1.json')], { env: { ...process.env, ...env } });
    let stderr = '';
    let stopped: Promise<string[]> | undefined;
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (!stopped && (stderr.match(/"file split"/g) ?? []).length >= 3) stopped = stack.down(['kafka']);
    });
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    await stopped;
    expect([0, 75], stderr.slice(-3000)).toContain(code);
    const first = JSON.parse(readFileSync(join(tmp, 'm1.json'), 'utf8')) as Manifest;
    if (code === 75) expect(first.stoppedBy?.code).toBe('KAFKA_UNAVAILABLE');

    // The operator's rerun: broker back, discover again, split what is left.
    await stack.up(['kafka']);
    const list2 = join(tmp, 'list2.json');
    expect((await rapflow(['discover', '--out', list2], env)).code).toBe(0);
    const again = await rapflow(['split', '--from-list', list2, '--manifest', join(tmp, 'm2.json')], env);
    expect(again.code, again.stderr.slice(-2000)).toBe(0);
    const second = JSON.parse(readFileSync(join(tmp, 'm2.json'), 'utf8')) as Manifest;
    expect(first.files.filter((f) => f.status === 'split').length + second.files.filter((f) => f.status === 'split').length).toBe(41);

    const want = expectedKeys();
    const total = [...want.values()].reduce((n, s) => n + s.size, 0);
    const got = await committedKeys(total);
    for (const [topic, keys] of want) {
      const seen = got.get(topic) ?? new Map<string, number>();
      expect(new Set(seen.keys()), topic).toEqual(keys);
      const duplicated = [...seen.values()].filter((n) => n > 1).length;
      expect(duplicated, `${topic}: keys delivered twice`).toBe(0);
    }
  });
});
