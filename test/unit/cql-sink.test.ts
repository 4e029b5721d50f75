// The CQL sink's grouping of rows into requests, and its handling of refused rows and batches.
// The writer here is an in-process fake: a real Cassandra cannot be made to refuse one chosen row
// of a batch on demand (every value our schemas let through is one it accepts). The sink against
// the real database is covered by the consume integration tests and the fault matrix.
import { describe, expect, it } from 'vitest';
import { RapflowError } from '../../src/errors.js';
import { CqlSink, DEFAULT_SINK_LIMITS, planWrites, type CqlWriter } from '../../src/store/cql/writer.js';
import { cqlDdl, partitionKeyOf, TABLE_DEFS, type Row } from '../../src/store/tables.js';
import { stargateTable } from '../../src/store/stargate/schema.js';

const line = (song: string, n: number, text = `line ${n}`): Row => ({
  table: 'lyric_lines',
  values: { song_id: song, line_number: n, id: `${song}-${n}`, section_index: 0, section: 'verse', performer: 'A', text },
});
const artist = (id: string): Row => ({ table: 'artists', values: { id, slug: id, name: id, real_name: null, origin: null, genres: [], active_since: null, bio: null } });

describe('partitionKeyOf', () => {
  it('reads the partition key of the tables with clustering columns from their DDL, and no other', () => {
    expect(partitionKeyOf('lyric_lines')).toEqual(['song_id']);
    expect(partitionKeyOf('songs_by_artist')).toEqual(['artist_id']);
    expect(partitionKeyOf('songs')).toBeUndefined();
    expect(partitionKeyOf('artists')).toBeUndefined();
    expect(partitionKeyOf('meetups')).toBeUndefined();
  });
});

describe('planWrites', () => {
  it('puts the lines of one song in one batch and every single-row partition on its own, in order', () => {
    const rows = [line('s1', 1), artist('a1'), line('s2', 1), line('s1', 2), artist('a2'), line('s2', 2), line('s1', 3)];
    expect(planWrites(rows)).toEqual([[0, 3, 6], [1], [2, 5], [4]]);
  });

  it('closes a batch at the row limit and at the byte limit', () => {
    const rows = Array.from({ length: 10 }, (_, i) => line('s', i));
    expect(planWrites(rows, { batchRows: 4, batchBytes: 1 << 20 })).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const long = Array.from({ length: 4 }, (_, i) => line('s', i, 'x'.repeat(1500)));
    expect(planWrites(long, DEFAULT_SINK_LIMITS)).toEqual([[0, 1], [2, 3]]);
    // Japanese text is three bytes a character in UTF-8, which is what Cassandra's threshold counts.
    const cjk = Array.from({ length: 4 }, (_, i) => line('s', i, '韻'.repeat(600)));
    expect(planWrites(cjk, DEFAULT_SINK_LIMITS)).toEqual([[0, 1], [2, 3]]);
  });

  it('never puts a row into two requests, nor leaves one out', () => {
    const rows = Array.from({ length: 500 }, (_, i) => (i % 7 === 0 ? artist(`a${i}`) : line(`s${i % 13}`, i, 'y'.repeat(i % 300))));
    const all = planWrites(rows).flat().sort((a, b) => a - b);
    expect(all).toEqual(rows.map((_, i) => i));
  });
});

/**
 * A writer that records what it was asked and refuses the rows whose text is "bad" for their data;
 * on call `failOnCall` it throws `failure` instead (by default a retryable one).
 */
function fakeWriter(failOnCall?: number, failure: RapflowError = new RapflowError('SINK_UNAVAILABLE', 'Cassandra unavailable (timeout)')) {
  const calls: { kind: 'execute' | 'batch'; ids: unknown[] }[] = [];
  const refuse = (params: unknown[]) => {
    if (calls.length === failOnCall) throw failure;
    if (params.includes('bad')) throw new RapflowError('RECORD_UNDECODABLE', 'Invalid value for column text');
  };
  const writer: CqlWriter = {
    settings: { keyspace: 'ks' },
    execute: (_q, params = []) => {
      calls.push({ kind: 'execute', ids: [params[2]] });
      refuse(params);
      return Promise.resolve(undefined as never);
    },
    batch: (queries) => {
      calls.push({ kind: 'batch', ids: queries.map((q) => q.params[2]) });
      for (const q of queries) refuse(q.params);
      return Promise.resolve();
    },
  };
  return { writer, calls };
}

describe('CqlSink.write', () => {
  it('writes a song in one batch and a single-row partition with one statement', async () => {
    const { writer, calls } = fakeWriter();
    const failures = await new CqlSink(writer).writeRows([line('s', 1), line('s', 2), artist('a')]);
    expect(failures).toEqual([]);
    expect(calls).toEqual([
      { kind: 'batch', ids: ['s-1', 's-2'] },
      { kind: 'execute', ids: ['a'] },
    ]);
  });

  it('writes a refused batch again row by row, so only the bad row fails, by its index', async () => {
    const { writer, calls } = fakeWriter();
    const failures = await new CqlSink(writer, { ...DEFAULT_SINK_LIMITS, concurrency: 1 }).writeRows([line('s', 1), line('s', 2, 'bad'), line('s', 3)]);
    expect(failures.map((f) => [f.index, f.error.code, f.error.message])).toEqual([[1, 'RECORD_UNDECODABLE', 'lyric_lines: Invalid value for column text']]);
    expect(calls.map((c) => c.kind)).toEqual(['batch', 'execute', 'execute', 'execute']);
  });

  it('throws a retryable error for the whole call, and stops sending once one was seen', async () => {
    const { writer, calls } = fakeWriter(2);
    const rows = Array.from({ length: 5 }, (_, i) => artist(`a${i}`));
    await expect(new CqlSink(writer, { ...DEFAULT_SINK_LIMITS, concurrency: 1 }).writeRows(rows)).rejects.toMatchObject({ code: 'SINK_UNAVAILABLE' });
    expect(calls).toHaveLength(2);
  });

  // Seen on the cluster: songs (one row each) in flight to a killed node failed with an error the
  // adapter did not know, and were dead-lettered though their data was fine. What is not a row's
  // own refusal must never make it a dead letter.
  it.each([
    ['an error nobody expected', new RapflowError('INTERNAL', 'CQL INSERT ks.songs: something new')],
    ['tables that disagree with the datamodel', new RapflowError('CONFIG_INVALID', 'Undefined column name bpm')],
  ])('throws %s for the whole call, for a single row as for a batch, and refuses no row', async (_what, failure) => {
    for (const rows of [[artist('a0'), artist('a1')], [line('s', 1), line('s', 2)]]) {
      const { writer } = fakeWriter(1, failure);
      await expect(new CqlSink(writer, { ...DEFAULT_SINK_LIMITS, concurrency: 1 }).writeRows(rows)).rejects.toBe(failure);
    }
  });
});

describe('the tables as data', () => {
  it('make the CQL DDL the reads were designed for (keys, clustering order)', () => {
    expect(cqlDdl(TABLE_DEFS.find((t) => t.name === 'lyric_lines')!)).toBe(
      'CREATE TABLE IF NOT EXISTS {ks}.lyric_lines (song_id uuid, line_number int, id uuid, section_index int, section text, performer text, text text, PRIMARY KEY ((song_id), line_number)) WITH CLUSTERING ORDER BY (line_number ASC)',
    );
    expect(cqlDdl(TABLE_DEFS.find((t) => t.name === 'songs_by_artist')!)).toContain('PRIMARY KEY ((artist_id), release_date, song_id)) WITH CLUSTERING ORDER BY (release_date DESC, song_id ASC)');
  });

  it('and the same tables for Stargate\'s schema API', () => {
    expect(stargateTable(TABLE_DEFS.find((t) => t.name === 'songs_by_artist')!)).toMatchObject({
      name: 'songs_by_artist',
      ifNotExists: true,
      primaryKey: { partitionKey: ['artist_id'], clusteringKey: ['release_date', 'song_id'] },
      tableOptions: { clusteringExpression: [{ column: 'release_date', order: 'DESC' }, { column: 'song_id', order: 'ASC' }] },
    });
    expect(stargateTable(TABLE_DEFS.find((t) => t.name === 'songs')!)).not.toHaveProperty('tableOptions');
    // Lists as the CQL type string the schema API takes: frozen, one cell (not run against a Stargate here).
    expect(stargateTable(TABLE_DEFS.find((t) => t.name === 'artists')!).columnDefinitions).toContainEqual({ name: 'genres', typeDefinition: 'frozen<list<text>>', static: false });
  });
});
