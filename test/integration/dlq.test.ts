// Dead letters after a fix, against the real Kafka, registry and Cassandra: a consumer older than the
// producer dead-letters every lyric line (its LyricLine still needs a field the producer dropped);
// after the upgrade, `rapflow dlq replay`, killed half way and run again, writes them all once,
// leaves what still fails for its reason, and dead-letters what fails for a new reason, once.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/codec/registry.js';
import { loadSchemaSet, topicOf } from '../../src/codec/schemas.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { runProcess, rapflow } from './cli.js';
import { config, dropIsolated, isolatedEnv, readTopics, sampleRecords, splitSample } from './stack.js';

const env = isolatedEnv('dlq');
const prefix = env.KAFKA_TOPIC_PREFIX;
const ks = env.CASSANDRA_KEYSPACE;
const tmp = mkdtempSync(join(tmpdir(), 'rapflow-dlq-'));
const expected = sampleRecords();
const set = loadSchemaSet('avro');
const cql = new CqlSession({ ...config.cassandra, keyspace: ks });
const dlqTopic = topicOf('DeadLetter', prefix);
const foreignSubject = `${prefix}foreign-lyrics-value`;

/**
 * The consumer as it was before the upgrade: the same build, with a LyricLine that still has a
 * `mood` field without a default (the producer's LyricLine dropped it; BACKWARD allows that, and
 * it is why consumers are upgraded first).
 */
function oldConsumer(): string {
  const dir = join(tmp, 'old-consumer');
  mkdirSync(dir);
  cpSync('dist', join(dir, 'dist'), { recursive: true });
  cpSync('avro', join(dir, 'avro'), { recursive: true });
  cpSync('package.json', join(dir, 'package.json'));
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'));
  const file = join(dir, 'avro', 'LyricLine.avsc');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as { fields: object[] };
  schema.fields.unshift({ name: 'mood', type: 'string', doc: 'The mood of the line (dropped since).' });
  writeFileSync(file, JSON.stringify(schema, null, 2));
  return join(dir, 'dist', 'cli', 'main.js');
}

const registryUrl = config.registry.url;
async function registerForeign(): Promise<number> {
  // A producer elsewhere wrote lines whose text is an int: a schema ours cannot read, before or after the upgrade.
  const schema = structuredClone(set.bundled.get('LyricLine')!) as { fields: { name: string; type: unknown }[] };
  schema.fields.find((f) => f.name === 'text')!.type = 'int';
  const res = await fetch(`${registryUrl}/subjects/${encodeURIComponent(foreignSubject)}/versions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema: JSON.stringify(schema) }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

const letters = () => readTopics([dlqTopic], 2_000);
const lineRows = async () => (await cql.execute(`SELECT id, text FROM ${ks}.lyric_lines`, [], { fetchSize: 5_000 })).rows.map((r) => ({ id: String(r.get('id')), text: r.get('text') as string }));

interface Listing {
  total: number;
  byState: { waiting: number; written: number; superseded: number };
  waiting: { count: number; code: string; reason: string; sourceTopic: string }[];
}
async function list(): Promise<Listing> {
  const r = await rapflow(['dlq', 'list', '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Listing;
}

describe('rapflow dlq: list and replay after a fix', () => {
  beforeAll(async () => {
    expect((await rapflow(['db', 'init'], env)).code).toBe(0);
    await splitSample(env, tmp);
    await cql.connect();
    // Two more lines: one whose version-time header is no time (no fix helps it), one in the foreign schema.
    const registry = new Registry(registryUrl, prefix);
    const lineId = (await registry.registerAll(set, ['LyricLine'])).get('LyricLine')!.id;
    const foreignId = await registerForeign();
    const kafka = new Kafka({ clientId: 'dlq-test', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topicOf('LyricLine', prefix),
      messages: [
        { key: 'bad-header', value: await registry.encode(lineId, { ...expected.lines[0]!, lineNumber: 9001 }), headers: { 'rapflow.source.last-modified': 'yesterday' } },
        { key: 'foreign', value: await registry.encode(foreignId, { ...expected.lines[1]!, lineNumber: 9002, text: 42 }) },
      ],
    });
    await producer.disconnect();

    const old = await runProcess('node', [oldConsumer(), 'consume', '--idle-exit', '3'], { env: { ...process.env, ...env } });
    expect(old.code, old.stderr.slice(-2000)).toBe(0);
    expect(old.stdout).toContain(`consumed 536 records: 48 written, 488 dead-lettered`);
  });

  afterAll(async () => {
    await cql.close();
    await dropIsolated(env);
    rmSync(tmp, { recursive: true, force: true });
    for (const q of ['', '?permanent=true']) await fetch(`${registryUrl}/subjects/${encodeURIComponent(foreignSubject)}${q}`, { method: 'DELETE' });
  });

  it('lists the dead letters waiting, grouped by where from, code and reason', async () => {
    expect(await lineRows()).toEqual([]);
    const l = await list();
    expect(l.total).toBe(488);
    expect(l.byState).toEqual({ waiting: 488, written: 0, superseded: 0 });
    expect(l.waiting.map((g) => [g.count, g.sourceTopic, g.code])).toEqual([
      [486, topicOf('LyricLine', prefix), 'RECORD_UNDECODABLE'],
      [1, topicOf('LyricLine', prefix), 'RECORD_UNDECODABLE'],
      [1, topicOf('LyricLine', prefix), 'RECORD_UNDECODABLE'],
    ]);
    expect(l.waiting[0]!.reason).toMatch(/^the writer's schema \(id \d+\) cannot be read as io\.dok\.rap\.LyricLine: no matching field for default-less io\.dok\.rap\.LyricLine\.mood$/);
    expect(l.waiting.map((g) => g.reason)).toContain('header rapflow.source.last-modified is "yesterday", not an ISO 8601 UTC time such as 2026-12-07T00:27:23.000Z');
    const table = await rapflow(['dlq', 'list'], env);
    expect(table.stdout).toContain(`${dlqTopic}: 488 dead letters: 488 waiting, 0 written by a replay, 0 replaced by a newer dead letter`);
    expect(table.stdout).toContain('then: rapflow dlq replay');
    expect(await letters()).toHaveLength(488);
    const report = await rapflow(['report', '--out', join(tmp, 'report-before')], env);
    expect(report.stdout).toMatch(/^report: .*, 488 dead letters$/m);
  });

  it('replays after the upgrade, killed half way and run again: every line written once, nothing dead-lettered twice', async () => {
    // Killed (SIGKILL, as a node lost) right after its first batch is recorded.
    const child = spawn('node', ['dist/cli/main.js', 'dlq', 'replay', '--batch', '20'], { env: { ...process.env, ...env, LOG_LEVEL: 'info' } });
    const exited = new Promise<number | null>((r) => child.on('close', (code, signal) => r(signal === 'SIGKILL' ? null : code)));
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        if (stderr.includes('"msg":"replayed a batch of dead letters"')) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('close', () => resolve());
    });
    expect(await exited, stderr.slice(-2000)).toBeNull();
    const half = await list();
    expect(half.byState.written).toBeGreaterThan(0);
    expect(half.byState.waiting).toBeGreaterThan(2);
    const halfRows = (await lineRows()).length;
    expect(halfRows).toBeGreaterThan(0);
    expect(halfRows).toBeLessThan(486);

    const again = await rapflow(['dlq', 'replay', '--batch', '20', '--json'], env);
    expect(again.code, again.stderr.slice(-2000)).toBe(0);
    const t = JSON.parse(again.stdout) as { letters: number; skipped: number; replayed: number; written: number; failing: number; deadLettered: number };
    expect(t.replayed + t.skipped).toBe(t.letters);
    expect(t.skipped).toBe(488 - half.byState.waiting);
    expect(t.written + t.failing + t.deadLettered).toBe(t.replayed);

    // Every line of the sample, with its text, and at its file's version time (the record's own write time).
    const rows = await lineRows();
    expect(rows.sort((a, b) => a.id.localeCompare(b.id))).toEqual(expected.lines.map((l) => ({ id: l.id, text: l.text })).sort((a, b) => a.id.localeCompare(b.id)));
    const dlq = await letters();
    const one = dlq.find((m) => m.key === expected.lines[5]!.id)!;
    const wt = await cql.execute(`SELECT WRITETIME(text) AS wt FROM ${ks}.lyric_lines WHERE song_id = ? AND line_number = ?`, [expected.lines[5]!.songId, expected.lines[5]!.lineNumber], { prepare: true });
    expect(String(wt.first().get('wt'))).toBe(String(Date.parse(one.headers['rapflow.source.last-modified']!) * 1000));

    // One new dead letter: the foreign line, for its new reason, marked as the replay of its first.
    expect(dlq).toHaveLength(489);
    const replays = dlq.filter((m) => m.headers['rapflow.dlq.replay-of'] !== undefined);
    expect(replays.map((m) => m.key)).toEqual(['foreign']);
    expect(replays[0]!.headers['rapflow.dlq.reason']).toMatch(/cannot be read as io\.dok\.rap\.LyricLine: cannot read "int" as "string"$/);
    expect(replays[0]!.headers['rapflow.dlq.replay-of']).toMatch(new RegExp(`^${dlqTopic.replaceAll('.', '\\.')}\\[0\\]@\\d+$`));
    expect(await list()).toMatchObject({ total: 489, byState: { waiting: 2, written: 486, superseded: 1 } });
  });

  it('run once more, replays only the two still failing, and changes nothing', async () => {
    const r = await rapflow(['dlq', 'replay'], env);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).toContain(`replayed 2 dead letters of ${dlqTopic} over CQL: 0 written, 2 still failing for the same reason, 0 dead-lettered again with a new reason; 487 done with by an earlier replay, not replayed again`);
    expect(await letters()).toHaveLength(489);
    expect(await list()).toMatchObject({ total: 489, byState: { waiting: 2, written: 486, superseded: 1 } });
    // The report (and a run's summary) counts the dead letters still waiting, not the history.
    const report = await rapflow(['report', '--out', join(tmp, 'report-after')], env);
    expect(report.code, report.stderr.slice(-2000)).toBe(0);
    expect(report.stdout).toMatch(/^report: .*, 2 dead letters$/m);
  });
});
