// verify's logic over in-process fakes (pure: offsets arithmetic, reconciliation bookkeeping);
// the real thing against the local stack is in test/integration/run.test.ts.
import { describe, expect, it } from 'vitest';
import { loadSchemaSet } from '../../src/codec/schemas.js';
import { recordsOf, validateFile } from '../../src/model/validate.js';
import type { Manifest } from '../../src/pipeline/split.js';
import type { LedgerEntry } from '../../src/pipeline/ledger.js';
import { behind, documentLag, ledgerManifest, parseManifests, reconcile, targetOffsets, waitForConsumer, type VerifyDeps } from '../../src/pipeline/verify.js';
import type { RapReader } from '../../src/read/reader.js';
import { HEADER } from '../../src/transport/topics.js';
import { readFileSync } from 'node:fs';

const set = loadSchemaSet('avro');
const file = 'data/songs-lil-sidecar.yaml';
const bytes = readFileSync(file);
const records = recordsOf(validateFile(file, bytes, set.types));

const manifest = (files: Partial<Manifest['files'][number]>[]): Manifest => ({
  runId: 'r1',
  startedAt: '2026-11-25T00:00:00Z',
  totals: {},
  files: files.map((f) => ({ uri: '', bucket: 'b', key: 'k', etag: 'e1', status: 'split', records: {}, ...f })),
});

describe('verify: offsets', () => {
  const m1 = manifest([{ lastOffsets: { 'rap.lyrics': { '0': '10', '1': '4' } } }, { key: 'k2', lastOffsets: { 'rap.lyrics': { '0': '25' }, 'rap.songs': { '2': '3' } } }]);

  it('needs one past the highest last offset per partition', () => {
    expect(targetOffsets([m1])).toEqual({ 'rap.lyrics': { '0': '25', '1': '4' }, 'rap.songs': { '2': '3' } });
    expect(behind(targetOffsets([m1]), { 'rap.lyrics': { '0': '26', '1': '5' }, 'rap.songs': { '2': '4' } })).toEqual([]);
    expect(behind(targetOffsets([m1]), { 'rap.lyrics': { '0': '25', '1': '5' } })).toEqual([
      { topic: 'rap.lyrics', partition: '0', needed: '26', committed: '25' },
      { topic: 'rap.songs', partition: '2', needed: '4', committed: '-1' },
    ]);
  });

  it('polls until the group has caught up, and gives up at the deadline with what is behind', async () => {
    let now = 0;
    let calls = 0;
    const deps = {
      committed: () => Promise.resolve(++calls < 3 ? {} : { 'rap.lyrics': { '0': '26', '1': '5' }, 'rap.songs': { '2': '4' } }),
      sleep: (ms: number) => ((now += ms), Promise.resolve()),
      now: () => now,
    } as unknown as VerifyDeps;
    expect(await waitForConsumer([m1], deps, 10_000)).toEqual([]);
    expect(calls).toBe(3);
    calls = -100;
    now = 0;
    const lag = await waitForConsumer([m1], deps, 5_000);
    expect(lag.map((b) => `${b.topic}[${b.partition}]`)).toEqual(['rap.lyrics[0]', 'rap.lyrics[1]', 'rap.songs[2]']);
    expect(now).toBe(5_000);
  });
});

describe('verify: manifests', () => {
  it('reads one JSON manifest or JSON lines, and names the file and line of anything else', () => {
    const m = manifest([{}]);
    expect(parseManifests(JSON.stringify(m), 'a.json')).toHaveLength(1);
    expect(parseManifests(`${JSON.stringify(m)}\n${JSON.stringify(m)}`, 'f.jsonl')).toHaveLength(2);
    expect(parseManifests('  ', 'empty.json')).toEqual([]);
    expect(() => parseManifests('[{"bucket":"b"}]', 'todo.json')).toThrow('todo.json: not a split manifest (top level: Invalid input: expected object, received array)');
    expect(() => parseManifests(`${JSON.stringify(m)}\n{oops`, 'f.jsonl')).toThrow(/^f\.jsonl:2: not JSON/);
    expect(() => parseManifests(JSON.stringify({ ...m, files: [{ ...m.files[0], status: 'done' }] }), 'm.json')).toThrow('m.json: not a split manifest (files.0.status:');
  });
});

describe('verify: reconcile', () => {
  const songs = new Set(records.songs.map((s) => s.id));
  const lines = new Map(records.lines.map((l) => [l.id, l]));
  const reader = (drop: { line?: string; song?: string } = {}): RapReader =>
    ({
      existing: (table: string, ids: string[]) => Promise.resolve(new Set(ids.filter((id) => (table === 'songs' ? songs.has(id) && id !== drop.song : true)))),
      songsByArtist: (artistId: string) => Promise.resolve({ rows: records.songs.filter((s) => s.artistId === artistId).map((s) => ({ songId: s.id })) }),
      lines: (songId: string) => Promise.resolve([...lines.values()].filter((l) => l.songId === songId && l.id !== drop.line)),
    }) as unknown as RapReader;
  const deps = (r: RapReader, etag = 'e1', dead: VerifyDeps['deadLetters'] = () => Promise.resolve([])): VerifyDeps => ({
    committed: () => Promise.resolve({}),
    read: () => Promise.resolve({ etag, bytes }),
    reader: r,
    deadLetters: dead,
    types: set.types,
    topicPrefix: '',
  });
  const m = manifest([{ records: { 'rap.songs': records.songs.length, 'rap.lyrics': records.lines.length } }]);

  it('is ok when every record has its row', async () => {
    const r = await reconcile([m], deps(reader()));
    expect(r.ok).toBe(true);
    expect(r.files[0]!.tables.lyric_lines).toEqual({ expected: records.lines.length, found: records.lines.length, deadLettered: 0 });
  });

  it('names the missing rows, and counts a dead letter as accounted for', async () => {
    const gone = records.lines[4]!;
    const bad = await reconcile([m], deps(reader({ line: gone.id, song: records.songs[0]!.id })));
    expect(bad.ok).toBe(false);
    expect(bad.files[0]!.differences).toEqual([
      `songs: 3 expected, 2 found, 1 missing (song "${records.songs[0]!.title}")`,
      `lyric_lines: ${records.lines.length} expected, ${records.lines.length - 1} found, 1 missing (line "${records.songs.find((s) => s.id === gone.songId)!.title}" ${gone.lineNumber})`,
    ]);
    const dead = () => Promise.resolve([{ topic: 'rap.dlq', partition: 0, offset: '0', key: Buffer.from(gone.id), value: null, headers: { [HEADER.sourceBucket]: 'b', [HEADER.sourceKey]: 'k', [HEADER.sourceEtag]: 'e1' } }]);
    const accounted = await reconcile([m], deps(reader({ line: gone.id }), 'e1', dead));
    expect(accounted.ok).toBe(true);
    expect(accounted.totals.lyric_lines!.deadLettered).toBe(1);
  });

  it('flags a manifest whose counts the file does not yield, and skips an object that changed since', async () => {
    const wrong = await reconcile([manifest([{ records: { 'rap.songs': 5, 'rap.lyrics': records.lines.length } }])], deps(reader()));
    expect(wrong.files[0]!.differences[0]).toBe('rap.songs: the manifest says 5 records were produced, the file yields 3');
    const changed = await reconcile([m], deps(reader(), 'e2'));
    expect(changed.ok).toBe(true);
    expect(changed.files[0]!.status).toBe('changed');
  });

  it('reports an object deleted from the bucket since it was split as such, and goes on with the others', async () => {
    const two = manifest([{ key: 'gone', records: {} }, { key: 'k', records: { 'rap.songs': records.songs.length, 'rap.lyrics': records.lines.length } }]);
    const r = await reconcile([two], { ...deps(reader()), read: (_b, key) => Promise.resolve(key === 'gone' ? undefined : { etag: 'e1', bytes }) });
    expect(r.files.map((f) => [f.key, f.status])).toEqual([
      ['gone', 'changed'],
      ['k', 'ok'],
    ]);
    expect(r.files[0]!.differences[0]).toMatch(/^the object is no longer in the bucket/);
    expect(r.ok).toBe(true);
  });
});

describe('verify --all: the ledger as a manifest', () => {
  const entry = (key: string, etag: string, status: LedgerEntry['status'], at: number, records: Record<string, number> = {}): LedgerEntry => ({
    bucket: 'b',
    key,
    etag,
    status,
    runId: `run-${at}`,
    records,
    problems: status === 'quarantined' ? 1 : 0,
    updatedAt: new Date(at),
  });

  it('checks the newest finished version of each object, with the records split counted, and leaves claims in progress out', () => {
    const m = ledgerManifest([
      entry('incoming/a.yaml', 'v1', 'split', 1, { 'rap.songs': 1 }),
      entry('incoming/a.yaml', 'v2', 'split', 5, { 'rap.songs': 2, 'rap.lyrics': 7 }),
      entry('incoming/a.yaml', 'v3', 'splitting', 9),
      entry('incoming/bad.yaml', 'q1', 'quarantined', 2),
      entry('incoming/c.yaml', 'c1', 'splitting', 3),
    ]);
    expect(m.files.map((f) => [f.key, f.etag, f.status, f.records])).toEqual([
      ['incoming/a.yaml', 'v2', 'split', { 'rap.songs': 2, 'rap.lyrics': 7 }],
      ['incoming/bad.yaml', 'q1', 'quarantined', {}],
    ]);
    expect(m.files[0]!.uri).toBe('s3://b/incoming/a.yaml');
    expect(m.totals).toEqual({ 'rap.songs': 2, 'rap.lyrics': 7 });
  });

  it('finds the documents lagging the rows only where there are collections to count', () => {
    expect(documentLag({ songs: 33, artists: 10, meetups: 5 }, { songs: 0, artists: 10 })).toEqual([{ what: 'songs', rows: 33, documents: 0 }]);
    expect(documentLag({ songs: 33, artists: 10, meetups: 5 }, {})).toEqual([]);
    expect(documentLag({ songs: 33, artists: 10, meetups: 5 }, { songs: 33, artists: 10, meetups: 5 })).toEqual([]);
  });
});
