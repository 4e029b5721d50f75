// The consumer under faults: killed mid-stream, Cassandra frozen for 20 s, and stopped by SIGTERM while backing off. The final tables must be exact.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchemaSet } from '../../src/codec/schemas.js';
import { generateCorpus } from '../../src/model/generate.js';
import { recordsOf, validateFile } from '../../src/model/validate.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { rapflow } from './cli.js';
import { config, dropBucket, dropKeyspace, dropTopics, testStack, uniqueName } from './stack.js';

const set = loadSchemaSet('avro');
const tmp = mkdtempSync(join(tmpdir(), 'rapflow-consume-fault-'));
const prefix = `${uniqueName('cfault')}.`;
const base = { KAFKA_TOPIC_PREFIX: prefix, S3_INBOX_BUCKET: uniqueName('cfault'), LOG_LEVEL: 'info' };
const corpus = { songs: 300, seed: 5, linesPerSong: 20, songsPerFile: 50 };
const lines = [...generateCorpus(corpus)].flatMap((f) => recordsOf(validateFile(f.name, Buffer.from(f.content), set.types)).lines);
const keyspaces: string[] = [];

/** Starts `rapflow consume` and resolves once it has written `batches` batches. */
function startConsumer(env: Record<string, string>, batches: number): { child: ChildProcess; started: Promise<void>; exited: Promise<number>; output: () => string } {
  const child = spawn('node', ['dist/cli/main.js', 'consume', '--idle-exit', '5'], { env: { ...process.env, ...base, ...env } });
  let out = '';
  let resolveStarted: () => void = () => {};
  const started = new Promise<void>((r) => (resolveStarted = r));
  const onData = (b: Buffer) => {
    out += b.toString();
    if ((out.match(/"batch written"/g) ?? []).length >= batches) resolveStarted();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number>((r) => child.on('close', (c, signal) => r(c ?? (signal ? 128 : -1))));
  return { child, started, exited, output: () => out };
}

async function linesIn(keyspace: string): Promise<Map<string, string>> {
  const cql = new CqlSession({ ...config.cassandra, keyspace });
  await cql.connect();
  try {
    const rows = (await cql.execute(`SELECT id, text FROM ${keyspace}.lyric_lines`, [], { fetchSize: 10_000 })).rows;
    return new Map(rows.map((r) => [(r.get('id') as { toString(): string }).toString(), r.get('text') as string]));
  } finally {
    await cql.close();
  }
}

describe('consume under faults', () => {
  const want = new Map(lines.map((l) => [l.id, l.text]));

  beforeAll(async () => {
    const dir = join(tmp, 'corpus');
    expect((await rapflow(['generate', '--songs', String(corpus.songs), '--seed', String(corpus.seed), '--lines-per-song', String(corpus.linesPerSong), '--songs-per-file', String(corpus.songsPerFile), '--out', dir])).code).toBe(0);
    const ks = uniqueName('cfault', '_');
    keyspaces.push(ks);
    for (const args of [['db', 'init'], ['topics', 'create'], ['upload', dir]]) expect((await rapflow(args, { ...base, CASSANDRA_KEYSPACE: ks })).code).toBe(0);
    expect((await rapflow(['discover', '--out', join(tmp, 'todo.json')], { ...base, CASSANDRA_KEYSPACE: ks })).code).toBe(0);
    const split = await rapflow(['split', '--from-list', join(tmp, 'todo.json'), '--manifest', join(tmp, 'm.json')], { ...base, CASSANDRA_KEYSPACE: ks, LOG_LEVEL: 'warn' });
    expect(split.code, split.stderr).toBe(0);
  });

  afterAll(async () => {
    await testStack().up(['cassandra']);
    await dropTopics(prefix);
    for (const ks of keyspaces) await dropKeyspace(ks);
    await dropBucket(base.S3_INBOX_BUCKET);
  });

  it('SIGKILL mid-stream, then a restart: every line written, exactly', async () => {
    const ks = uniqueName('kill', '_');
    keyspaces.push(ks);
    expect((await rapflow(['db', 'init'], { ...base, CASSANDRA_KEYSPACE: ks })).code).toBe(0);
    const env = { CASSANDRA_KEYSPACE: ks, KAFKA_CONSUMER_GROUP: uniqueName('kill') };
    const first = startConsumer(env, 2);
    await first.started;
    first.child.kill('SIGKILL');
    await first.exited;
    const partial = (await linesIn(ks)).size;
    expect(partial).toBeLessThan(want.size);

    const second = startConsumer(env, 1);
    expect(await second.exited, second.output().slice(-1500)).toBe(0);
    expect(await linesIn(ks)).toEqual(want);
  });

  it('Cassandra frozen for 20 s: the consumer backs off, commits nothing unwritten, and finishes exactly', async () => {
    const ks = uniqueName('freeze', '_');
    keyspaces.push(ks);
    expect((await rapflow(['db', 'init'], { ...base, CASSANDRA_KEYSPACE: ks })).code).toBe(0);
    const cassandraPid = (await testStack().status(['cassandra']))[0]!.pid!;
    const run = startConsumer({ CASSANDRA_KEYSPACE: ks, KAFKA_CONSUMER_GROUP: uniqueName('freeze') }, 1);
    await run.started;
    process.kill(cassandraPid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 20_000));
    process.kill(cassandraPid, 'SIGCONT');
    expect(await run.exited, run.output().slice(-2000)).toBe(0);
    expect(run.output()).toMatch(/sink unavailable, retrying the batch/);
    expect(await linesIn(ks)).toEqual(want);
  });

  it('SIGTERM while it backs off from a stopped Cassandra: it stops then, commits nothing unwritten, and a restart finishes exactly', async () => {
    const ks = uniqueName('term', '_');
    keyspaces.push(ks);
    expect((await rapflow(['db', 'init'], { ...base, CASSANDRA_KEYSPACE: ks })).code).toBe(0);
    const env = { CASSANDRA_KEYSPACE: ks, KAFKA_CONSUMER_GROUP: uniqueName('term') };
    const run = startConsumer(env, 1);
    await run.started;
    const stack = testStack();
    await stack.down(['cassandra']);
    // In backoff: ten attempts of up to 10 s each would take more than a minute to run out.
    while (!/sink unavailable, retrying the batch/.test(run.output())) await new Promise((r) => setTimeout(r, 200));
    run.child.kill('SIGTERM');
    const code = await run.exited;
    // It stopped on the signal, not when the retries ran out (exit 75): Cassandra was still down.
    const [cassandra] = await stack.status(['cassandra']);
    expect(cassandra!.state).toBe('down');
    expect(code, run.output().slice(-2000)).toBe(0);
    expect(run.output()).toContain('"stopping: retry wait interrupted, the batch left uncommitted"');
    await stack.up(['cassandra']);
    const again = startConsumer(env, 1);
    expect(await again.exited, again.output().slice(-1500)).toBe(0);
    expect(await linesIn(ks)).toEqual(want);
  });
});
