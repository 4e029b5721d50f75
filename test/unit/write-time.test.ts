// The version time of a record's file travels as a header from split to the sink, and the CQL sink
// writes with it (USING TIMESTAMP), so the newest version of a file wins whatever order its records
// arrive in. Pure parts here, with in-process fakes of the ports; against the real MinIO, Kafka and
// Cassandra it is test/integration/write-time.test.ts.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { EncodeResult } from '../../src/pipeline/encode.js';
import type { Claim, Ledger } from '../../src/pipeline/ledger.js';
import { splitAll } from '../../src/pipeline/split.js';
import { CqlSink, type CqlWriter } from '../../src/store/cql/writer.js';
import { rowsOfRecords } from '../../src/store/tables.js';
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

/** A CqlWriter that records what it is asked to run. */
function recorder() {
  const calls: { query: string; params: unknown[] }[][] = [];
  const cql: CqlWriter = {
    settings: { keyspace: 'ks' },
    execute: (query: string, params?: unknown) => (calls.push([{ query, params: params as unknown[] }]), Promise.resolve(undefined as never)),
    batch: (queries: { query: string; params: unknown[] }[]) => (calls.push(queries), Promise.resolve()),
  };
  return { cql, calls };
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

  it('writes a record without a version time as before: no timestamp, the write takes its own', async () => {
    const { cql, calls } = recorder();
    await new CqlSink(cql).write([{ name: 'Artist', record: artist('MC Quorum') }]);
    expect(calls[0]![0]!.query).not.toContain('USING TIMESTAMP');
    expect(calls[0]![0]!.params).toHaveLength(8);
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
