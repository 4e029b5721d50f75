// The version time of a record's file travels as a header from split to the sink, and the CQL sink
// writes with it (USING TIMESTAMP), so the newest version of a file wins whatever order its records
// arrive in. Pure parts here, with in-process fakes of the ports; against the real MinIO, Kafka and
// Cassandra it is test/integration/write-time.test.ts.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { EncodeResult } from '../../src/pipeline/encode.js';
import type { Claim, Ledger } from '../../src/pipeline/ledger.js';
import { splitAll } from '../../src/pipeline/split.js';
import { CqlSink, UNTIMED_WARNING, rowWriteTime, writeTimeFloors, type ColumnDrop, type CqlWriter } from '../../src/store/cql/writer.js';
import { columnFit, rowsOfRecords, TABLE_DEFS, typeToAdd, untimedTables, type FoundColumn } from '../../src/store/tables.js';
import { HEADER, writeTimeOf } from '../../src/transport/topics.js';
import type { OutRecord } from '../../src/transport/types.js';
import { RapflowError } from '../../src/errors.js';

describe('writeTimeOf', () => {
  it('reads the header as microseconds since the epoch', () => {
    expect(writeTimeOf({ [HEADER.sourceLastModified]: '2026-12-07T00:27:23.000Z' })).toBe(Date.UTC(2026, 11, 7, 0, 27, 23) * 1000);
    expect(writeTimeOf({ [HEADER.sourceLastModified]: '2026-12-07T00:27:23.456Z' })).toBe((Date.UTC(2026, 11, 7, 0, 27, 23) + 456) * 1000);
  });

  it('is undefined for a record split before the header existed', () => {
    expect(writeTimeOf({ [HEADER.sourceKey]: 'incoming/a.yaml' })).toBeUndefined();
  });

  it.each(['yesterday', '2026-12-07', '2026-12-07T00:27:23+01:00', '', '2026-13-40T99:99:99Z'])('makes a record whose header is %j poison, naming the header', (text) => {
    let err: unknown;
    try {
      writeTimeOf({ [HEADER.sourceLastModified]: text });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RapflowError);
    expect((err as RapflowError).code).toBe('RECORD_UNDECODABLE');
    expect((err as RapflowError).message).toContain(`header ${HEADER.sourceLastModified} is "${text}"`);
  });
});

describe('split', () => {
  it("puts the object's Last-Modified on every record it produces", async () => {
    const lastModified = new Date('2026-12-07T00:27:23.000Z');
    const sent: OutRecord[] = [];
    const encoded = { ok: true, keys: ['k1', 'k2'], values: [Buffer.from('a'), Buffer.from('b')], topics: ['rap.songs', 'rap.lyrics'], partitions: [0, 1], schemaIds: [1, 2], schemaVersions: [1, 1] } as unknown as EncodeResult;
    const ledger = {
      claim: () => Promise.resolve({ outcome: 'claimed' } as Claim),
      release: () => Promise.resolve(),
      finish: () => Promise.resolve(true),
      finished: () => Promise.resolve(new Map()),
      get: () => Promise.resolve(undefined),
    } as Ledger;
    const { manifest } = await splitAll(
      [{ bucket: 'b', key: 'incoming/a.yaml' }],
      {
        store: {
          stat: (bucket, key) => Promise.resolve({ bucket, key, etag: 'e1', size: 10, uri: `s3://${bucket}/${key}`, lastModified }),
          read: () => Promise.resolve(new Uint8Array()),
          put: () => Promise.resolve(''),
          copy: () => Promise.resolve(),
        },
        ledger,
        producer: { sendAtomically: (records) => (sent.push(...records), Promise.resolve({})) },
        encoder: { encode: () => Promise.resolve(encoded), close: () => Promise.resolve() },
        log: pino({ level: 'silent' }),
      },
      { runId: 'r', topicPrefix: '', quarantinePrefix: 'q/' },
    );
    expect(manifest.files[0]!.status).toBe('split');
    expect(sent.map((r) => r.headers[HEADER.sourceLastModified])).toEqual(['2026-12-07T00:27:23.000Z', '2026-12-07T00:27:23.000Z']);
    expect(writeTimeOf(sent[0]!.headers)).toBe(lastModified.getTime() * 1000);
  });
});

/**
 * A CqlWriter that records the writes it is asked to run, and answers the sink's reads of
 * system_schema.dropped_columns with `drops` and of system_schema.columns with `columns` (the only
 * other statements the sink runs).
 */
function recorder(drops: ColumnDrop[] = [], columns: FoundColumn[] = []) {
  const calls: { query: string; params: unknown[] }[][] = [];
  const schemaReads: unknown[][] = [];
  const cql: CqlWriter = {
    settings: { keyspace: 'ks' },
    execute: (query: string, params?: unknown) => {
      if (query.includes('system_schema.dropped_columns')) {
        schemaReads.push(params as unknown[]);
        const rows = drops.map((d) => ({ get: (c: string) => (c === 'table_name' ? d.table : c === 'dropped_time' ? d.droppedAt : undefined) }));
        return Promise.resolve({ rows } as never);
      }
      if (query.includes('system_schema.columns')) {
        const rows = columns.map((f) => ({ get: (c: string) => (c === 'table_name' ? f.table : c === 'column_name' ? f.column : c === 'type' ? f.type : undefined) }));
        return Promise.resolve({ rows } as never);
      }
      calls.push([{ query, params: params as unknown[] }]);
      return Promise.resolve(undefined as never);
    },
    batch: (queries: { query: string; params: unknown[] }[]) => (calls.push(queries), Promise.resolve()),
  };
  return { cql, calls, schemaReads };
}

const artist = (name: string) => ({ id: 'a1', slug: 'a', name, realName: null, origin: null, genres: [], activeSince: null, bio: null });
const line = (n: number, text: string) => ({ songId: 's1', lineNumber: n, id: `l${n}`, sectionIndex: 0, section: 'verse', performer: 'A', text });

describe('the CQL sink', () => {
  it("writes a record's rows USING TIMESTAMP its version time, bound as the last parameter", async () => {
    const { cql, calls } = recorder();
    const t = Date.UTC(2026, 11, 7) * 1000;
    await new CqlSink(cql).write([{ name: 'Artist', record: artist('MC Quorum'), writeTime: t }]);
    expect(calls).toHaveLength(1);
    const { query, params } = calls[0]![0]!;
    expect(query).toBe('INSERT INTO ks.artists (id, slug, name, real_name, origin, genres, active_since, bio) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?');
    expect(params.at(-1)).toBe(t);
    expect(params.slice(0, -1)).toEqual(['a1', 'a', 'MC Quorum', null, null, [], null, null]);
  });

  it('writes a record without a version time as before: no timestamp, the write takes its own, and no floor is read', async () => {
    const { cql, calls, schemaReads } = recorder([{ table: 'artists', droppedAt: new Date('2026-12-07T00:00:00.000Z') }]);
    await new CqlSink(cql).write([{ name: 'Artist', record: artist('MC Quorum') }]);
    expect(calls[0]![0]!.query).not.toContain('USING TIMESTAMP');
    expect(calls[0]![0]!.params).toHaveLength(8);
    expect(schemaReads).toEqual([]);
  });

  it('gives each row in a batch the time of its own record (two versions of a song in one batch)', async () => {
    const { cql, calls } = recorder();
    const v1 = Date.UTC(2026, 0, 1) * 1000;
    const v2 = Date.UTC(2026, 5, 1) * 1000;
    await new CqlSink(cql).write([
      { name: 'LyricLine', record: line(1, 'new words'), writeTime: v2 },
      { name: 'LyricLine', record: line(1, 'old words'), writeTime: v1 },
    ]);
    // One partition (song s1): one batch, each statement with its own timestamp.
    expect(calls).toHaveLength(1);
    expect(calls[0]!.map((s) => [s.query.endsWith('USING TIMESTAMP ?'), s.params.at(-2), s.params.at(-1)])).toEqual([
      [true, 'new words', v2],
      [true, 'old words', v1],
    ]);
  });

  it('rowsOfRecords carries the record time onto every row of the record', () => {
    const song = { id: 's1', slug: 's', title: 'T', artistId: 'a1', artist: 'A', featuring: [], album: null, releaseDate: '2026-01-01', language: 'en', tags: [], sections: [], lineCount: 0, bpm: null, sourceFormat: 'RAP_AS_CODE_V1' };
    const { rows } = rowsOfRecords([{ name: 'Song', record: song, writeTime: 42 }]);
    expect(rows.map((r) => [r.table, r.writeTime])).toEqual([
      ['songs', 42],
      ['songs_by_artist', 42],
    ]);
  });
});

describe('the write-time floor after a column drop', () => {
  const drop = (table: string, iso: string): ColumnDrop => ({ table, droppedAt: new Date(iso) });

  it('is, per table, the next whole millisecond after its latest drop, in microseconds', () => {
    const floors = writeTimeFloors([
      drop('lyric_lines', '2026-12-07T01:00:00.250Z'),
      drop('lyric_lines', '2026-12-07T01:05:00.000Z'), // a second column, dropped later
      drop('lyric_lines', '2026-12-07T00:59:00.999Z'),
      drop('songs', '2026-12-01T00:00:00.000Z'),
    ]);
    expect(floors).toEqual(
      new Map([
        ['lyric_lines', (Date.UTC(2026, 11, 7, 1, 5, 0) + 1) * 1000],
        ['songs', (Date.UTC(2026, 11, 1) + 1) * 1000],
      ]),
    );
    expect(writeTimeFloors([])).toEqual(new Map());
  });

  it('raises a version time below it to it, leaves one above it, and gives no time to a row that has none', () => {
    expect(rowWriteTime(5_000_000, 7_000_001)).toBe(7_000_001);
    expect(rowWriteTime(7_000_001, 7_000_001)).toBe(7_000_001);
    expect(rowWriteTime(9_000_000, 7_000_001)).toBe(9_000_000);
    expect(rowWriteTime(5_000_000, undefined)).toBe(5_000_000);
    expect(rowWriteTime(undefined, 7_000_001)).toBeUndefined();
  });

  it('writes the rows of a table with a dropped column at its floor when older, its own time when newer; other tables at their version time', async () => {
    const dropped = '2026-12-07T01:00:00.250Z';
    const floor = (Date.parse(dropped) + 1) * 1000;
    const before = Date.UTC(2026, 0, 1) * 1000;
    const after = Date.UTC(2026, 11, 7, 2) * 1000;
    const { cql, calls, schemaReads } = recorder([drop('lyric_lines', dropped)]);
    await new CqlSink(cql, { concurrency: 1, batchRows: 64, batchBytes: 4 * 1024 }).write([
      { name: 'LyricLine', record: line(1, 'replayed'), writeTime: before },
      { name: 'Artist', record: artist('MC Quorum'), writeTime: before },
      { name: 'LyricLine', record: line(2, 'uploaded after the drop'), writeTime: after },
    ]);
    expect(schemaReads).toEqual([['ks']]);
    // [table, the line's text or the artist's name, write time]
    const written = calls.flat().map((s) => [s.query.split(' ')[2], s.query.includes('lyric_lines') ? s.params.at(-2) : s.params[2], s.params.at(-1)]);
    expect(written).toEqual([
      ['ks.lyric_lines', 'replayed', floor],
      ['ks.lyric_lines', 'uploaded after the drop', after],
      ['ks.artists', 'MC Quorum', before],
    ]);
  });

  it('reads the floors again for every write, so a drop made while the sink runs is seen', async () => {
    const drops: ColumnDrop[] = [];
    const { cql, calls } = recorder(drops);
    const sink = new CqlSink(cql);
    const t = Date.UTC(2026, 0, 1) * 1000;
    await sink.write([{ name: 'LyricLine', record: line(1, 'first'), writeTime: t }]);
    drops.push(drop('lyric_lines', '2026-12-07T01:00:00.000Z'));
    await sink.write([{ name: 'LyricLine', record: line(1, 'second'), writeTime: t }]);
    expect(calls.map((c) => c[0]!.params.at(-1))).toEqual([t, (Date.UTC(2026, 11, 7, 1) + 1) * 1000]);
  });
});

describe('list columns: frozen in new tables, and tables made before written without a version time', () => {
  // A table as system_schema.columns lists it, with its list columns of type `list`.
  const columnsOf = (table: string, list: string): FoundColumn[] =>
    TABLE_DEFS.find((t) => t.name === table)!.columns.map(([column, type]) => ({ table, column, type: type === 'frozen<list<text>>' ? list : type }));

  it('the datamodel types every list frozen', () => {
    const lists = TABLE_DEFS.flatMap((t) => t.columns.filter(([, type]) => type.includes('list')).map(([n, type]) => `${t.name}.${n} ${type}`));
    expect(lists).toEqual(['songs.featuring frozen<list<text>>', 'songs.tags frozen<list<text>>', 'artists.genres frozen<list<text>>', 'meetups.performers frozen<list<text>>']);
  });

  it('columnFit: a non-frozen list where a frozen one is wanted is a legacy list, kept; any other difference is refused', () => {
    expect(columnFit('frozen<list<text>>', 'frozen<list<text>>')).toBe('same');
    expect(columnFit('frozen<list<varchar>>', 'frozen<list<text>>')).toBe('same'); // Stargate's spelling
    expect(columnFit('list<text>', 'frozen<list<text>>')).toBe('legacy-list');
    expect(columnFit('set<text>', 'frozen<list<text>>')).toBe('other');
    expect(columnFit('frozen<list<int>>', 'frozen<list<text>>')).toBe('other');
    expect(columnFit('list<text>', 'text')).toBe('other');
    expect(columnFit('varchar', 'text')).toBe('same');
  });

  it('db init adds a missing list frozen, but as it was when a non-frozen list of that name was dropped (Cassandra refuses another type)', () => {
    expect(typeToAdd('frozen<list<text>>', undefined)).toBe('frozen<list<text>>');
    expect(typeToAdd('frozen<list<text>>', 'frozen<list<text>>')).toBe('frozen<list<text>>');
    expect(typeToAdd('frozen<list<text>>', 'list<text>')).toBe('list<text>');
    expect(typeToAdd('text', 'int')).toBe('text');
  });

  it('untimedTables names the tables with a non-frozen list, and their lists; tables with frozen lists or none write with a time', () => {
    const found = [...columnsOf('songs', 'list<text>'), ...columnsOf('artists', 'frozen<list<text>>'), ...columnsOf('meetups', 'list<text>'), ...columnsOf('lyric_lines', '')];
    expect(untimedTables(found)).toEqual(
      new Map([
        ['songs', ['featuring', 'tags']],
        ['meetups', ['performers']],
      ]),
    );
    expect(untimedTables([])).toEqual(new Map());
  });

  it('the sink writes a legacy table without USING TIMESTAMP and warns once per table; a table with frozen lists keeps its time', async () => {
    const { cql, calls } = recorder([], [...columnsOf('artists', 'list<text>'), ...columnsOf('lyric_lines', '')]);
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const log = { warn: (obj: Record<string, unknown>, msg: string) => warnings.push({ obj, msg }) } as never;
    const sink = new CqlSink(cql, { concurrency: 1, batchRows: 64, batchBytes: 4 * 1024 }, log);
    const t = Date.UTC(2026, 0, 1) * 1000;
    for (let i = 0; i < 2; i++) {
      await sink.write([
        { name: 'Artist', record: artist('MC Quorum'), writeTime: t },
        { name: 'LyricLine', record: line(1, 'words'), writeTime: t },
      ]);
    }
    const written = calls.flat().map((s) => [s.query.split(' ')[2], s.query.includes('USING TIMESTAMP') ? s.params.at(-1) : 'own time']);
    expect(written).toEqual([
      ['ks.artists', 'own time'],
      ['ks.lyric_lines', t],
      ['ks.artists', 'own time'],
      ['ks.lyric_lines', t],
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toBe(UNTIMED_WARNING);
    expect(warnings[0]!.obj).toMatchObject({ table: 'ks.artists', columns: ['genres'] });
    expect(String(warnings[0]!.obj.todo)).toContain('rapflow backfill');
  });
});
