// List columns written again at the same version time, against the real stack. In a new keyspace
// they are frozen: consumed, backfilled (the same versions again) and written once more by the sink,
// each list holds its elements once, at the version time. In a keyspace made before (non-frozen
// lists, made here by hand) db init accepts the tables, the sink writes them without a version time
// and warns once per table, and the lists hold their elements once too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, everyRow } from '../../src/read/reader.js';
import { CqlReader } from '../../src/store/cql/reader.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { CqlSink, UNTIMED_WARNING } from '../../src/store/cql/writer.js';
import { cqlDdl, TABLE_DEFS } from '../../src/store/tables.js';
import { rapflow } from './cli.js';
import { config, dropIsolated, isolatedEnv, sampleRecords, splitSample, uniqueName } from './stack.js';

const expected = sampleRecords();
const LIST_COLUMNS = ['artists.genres', 'meetups.performers', 'songs.featuring', 'songs.tags'];

/** Every list of the sample, `table.column id` to its elements, as the datamodel has them. */
const expectedLists = () => {
  const out = new Map<string, string[]>();
  for (const a of expected.artists) out.set(`artists.genres ${a.id}`, a.genres);
  for (const m of expected.meetups) out.set(`meetups.performers ${m.id}`, m.performers);
  for (const s of expected.songs) {
    out.set(`songs.featuring ${s.id}`, s.featuring);
    out.set(`songs.tags ${s.id}`, s.tags);
  }
  return out;
};

/** The same lists as the readers (query, verify, report) get them from the keyspace. */
async function listsRead(cql: CqlSession, ks: string): Promise<Map<string, string[]>> {
  const reader = new CqlReader(cql, ks);
  const out = new Map<string, string[]>();
  for (const a of await collect(everyRow((p) => reader.artists(p)))) out.set(`artists.genres ${a.id}`, a.genres);
  for (const m of await collect(everyRow((p) => reader.meetups(p)))) out.set(`meetups.performers ${m.id}`, m.performers);
  for (const s of await collect(everyRow((p) => reader.songs(p)))) {
    out.set(`songs.featuring ${s.id}`, s.featuring);
    out.set(`songs.tags ${s.id}`, s.tags);
  }
  return out;
}

/** `table.column type` of each list column of the keyspace, as Cassandra has it. */
async function listTypes(cql: CqlSession, ks: string): Promise<string[]> {
  const rs = await cql.execute('SELECT table_name, column_name, type FROM system_schema.columns WHERE keyspace_name = ?', [ks], { prepare: true });
  return rs.rows
    .map((r) => `${String(r.get('table_name'))}.${String(r.get('column_name'))} ${String(r.get('type'))}`)
    .filter((c) => LIST_COLUMNS.includes(c.split(' ')[0]!))
    .sort();
}

/** Split data/, consume it, then backfill it in a group of its own: every version written twice. */
async function consumeTwice(env: Record<string, string>, tmp: string): Promise<{ consume: string; backfill: string; consumeStarted: number }> {
  await splitSample(env, tmp);
  const consumeStarted = Date.now();
  const consumed = await rapflow(['consume', '--idle-exit', '3'], env);
  expect(consumed.code, consumed.stderr.slice(-2000)).toBe(0);
  expect(consumed.stdout).toContain('consumed 534 records: 534 written, 0 dead-lettered');
  const group = uniqueName('lists-backfill');
  const backfilled = await rapflow(['backfill', '--group', group, '--idle-exit', '3'], env);
  expect(backfilled.code, backfilled.stderr.slice(-2000)).toBe(0);
  expect(backfilled.stdout).toContain(`backfilled 534 records in group ${group} (over CQL): 534 written, 0 dead-lettered`);
  expect(backfilled.stdout).toContain('verified 13 files: every record is a row or a dead letter');
  return { consume: consumed.stderr, backfill: backfilled.stderr, consumeStarted };
}

it('the sample has a non-empty list in every list column (else nothing below could duplicate)', () => {
  const lists = expectedLists();
  for (const c of LIST_COLUMNS) expect([...lists].some(([k, v]) => k.startsWith(`${c} `) && v.length > 0), c).toBe(true);
});

describe('a new keyspace: frozen lists, written at the version time', () => {
  const env = { ...isolatedEnv('lists'), SINK: 'cql', READ_API: 'cql' };
  const ks = env.CASSANDRA_KEYSPACE;
  const tmp = mkdtempSync(join(tmpdir(), 'rapflow-lists-'));
  const cql = new CqlSession({ ...config.cassandra, keyspace: ks });
  let run: Awaited<ReturnType<typeof consumeTwice>>;

  beforeAll(async () => {
    const init = await rapflow(['db', 'init'], env);
    expect(init.code, init.stderr).toBe(0);
    run = await consumeTwice(env, tmp);
    await cql.connect();
  });

  afterAll(async () => {
    await cql.close();
    await dropIsolated(env);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('db init makes every list column frozen<list<text>>, with no warning', async () => {
    const again = await rapflow(['db', 'init'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('non-frozen');
    expect(await listTypes(cql, ks)).toEqual(LIST_COLUMNS.map((c) => `${c} frozen<list<text>>`));
  });

  it('consumed and backfilled (each version written twice), then written a third time by the sink at the same time: each list holds its elements once, at the version time', async () => {
    expect(await listsRead(cql, ks)).toEqual(expectedLists());
    // The artists again through the sink itself, each at the time its row was written (its version time).
    const times = new Map((await cql.execute(`SELECT id, writetime(genres) AS wt FROM ${ks}.artists`)).rows.map((r) => [String(r.get('id')), Number(r.get('wt'))]));
    expect([...times.values()].every((t) => t < run.consumeStarted * 1000)).toBe(true); // the upload's Last-Modified, not the arrival
    await new CqlSink(cql).write(expected.artists.map((a) => ({ name: 'Artist', record: { ...a }, writeTime: times.get(a.id)! })));
    expect(await listsRead(cql, ks)).toEqual(expectedLists());
    const after = new Map((await cql.execute(`SELECT id, writetime(genres) AS wt FROM ${ks}.artists`)).rows.map((r) => [String(r.get('id')), Number(r.get('wt'))]));
    expect(after).toEqual(times);
    expect(run.consume + run.backfill).not.toContain(UNTIMED_WARNING);
  });

  it('db init adds a dropped list column again frozen', async () => {
    await cql.execute(`ALTER TABLE ${ks}.songs DROP tags`);
    const init = await rapflow(['db', 'init'], env);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('columns added for the datamodel: songs.tags');
    expect(await listTypes(cql, ks)).toEqual(LIST_COLUMNS.map((c) => `${c} frozen<list<text>>`));
  });
});

describe('a keyspace made before lists were frozen (non-frozen lists)', () => {
  const env = { ...isolatedEnv('legacylists'), SINK: 'cql', READ_API: 'cql' };
  const ks = env.CASSANDRA_KEYSPACE;
  const tmp = mkdtempSync(join(tmpdir(), 'rapflow-legacy-lists-'));
  const cql = new CqlSession({ ...config.cassandra, keyspace: ks });
  let run: Awaited<ReturnType<typeof consumeTwice>>;
  let init: Awaited<ReturnType<typeof rapflow>>;

  beforeAll(async () => {
    // The tables as rapflow made them before: the same DDL with `list<text>` lists.
    await cql.connect();
    await cql.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': ${config.cassandra.replicationFactor}}`);
    for (const t of TABLE_DEFS) await cql.execute(cqlDdl(t).replaceAll('frozen<list<text>>', 'list<text>').replaceAll('{ks}', ks));
    init = await rapflow(['db', 'init'], env);
    run = await consumeTwice(env, tmp);
  });

  afterAll(async () => {
    await cql.close();
    await dropIsolated(env);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('db init accepts the non-frozen lists, keeps them, and says what that means', async () => {
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toContain(`db init: warning: songs (featuring, tags), artists (genres), meetups (performers) of keyspace ${ks} have non-frozen lists`);
    expect(init.stderr).toContain('CASSANDRA_KEYSPACE=<new> rapflow db init, then rapflow backfill');
    expect(await listTypes(cql, ks)).toEqual(LIST_COLUMNS.map((c) => `${c} list<text>`));
  });

  it('each version written twice: each list holds its elements once, written at arrival, not at the version time', async () => {
    expect(await listsRead(cql, ks)).toEqual(expectedLists());
    const wt = (await cql.execute(`SELECT writetime(name) AS wt FROM ${ks}.artists`)).rows.map((r) => Number(r.get('wt')));
    expect(wt.length).toBe(expected.artists.length);
    expect(wt.every((t) => t > run.consumeStarted * 1000)).toBe(true);
  });

  it('the consumer and the backfill each warn once per table with lists, saying how to get version order', () => {
    for (const stderr of [run.consume, run.backfill]) {
      const warnings = stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; table: string; columns: string[]; todo: string })
        .filter((w) => w.msg === UNTIMED_WARNING);
      expect(warnings.map((w) => `${w.table} ${w.columns.join(',')}`).sort()).toEqual([`${ks}.artists genres`, `${ks}.meetups performers`, `${ks}.songs featuring,tags`]);
      expect(warnings[0]!.todo).toContain('rapflow db init, then rapflow backfill');
    }
  });

  it('db init adds a dropped non-frozen list again as it was: Cassandra refuses another type under a dropped name', async () => {
    await cql.execute(`ALTER TABLE ${ks}.songs DROP tags`);
    const again = await rapflow(['db', 'init'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('columns added for the datamodel: songs.tags');
    expect(await listTypes(cql, ks)).toEqual(LIST_COLUMNS.map((c) => `${c} list<text>`));
  });
});
