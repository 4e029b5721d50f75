// The Stargate sink's handling of what its batches answer, against an in-process fake of the REST
// and Document APIs. A real Stargate cannot be made on demand to leave one document out of a 202,
// to refuse one chosen row, or to answer 503 to the third request; those shapes come from its code
// and from what a real v1.0.91 answered. The sink against a real Stargate is
// test/integration/stargate.test.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Decoded } from '../../src/pipeline/consume.js';
import { StargateClient } from '../../src/store/stargate/client.js';
import { StargateSink } from '../../src/store/stargate/writer.js';
import { rowsOf } from '../../src/store/tables.js';

let server: Server;
let base = '';
/** What the fake received: method, path, query string and body. */
let calls: { method: string; path: string; search: string; body: unknown }[] = [];
const rows = new Map<string, unknown>();
const docs = new Map<string, unknown>();
/** Behaviours of the fake for the next requests. */
let dropFromBatch = new Set<string>();
let refuseBatchWith: string | undefined;
const badText = 'BAD';
let unavailableAfter = Infinity;
let schemaProblem = false;

function handle(req: IncomingMessage, res: ServerResponse) {
  let text = '';
  req.on('data', (c: Buffer) => (text += c.toString()));
  req.on('end', () => {
    const url = new URL(req.url!, 'http://x');
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    const send = (status: number, data?: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(data === undefined ? '' : JSON.stringify(data));
    };
    if (url.pathname === '/v1/auth') return send(201, { authToken: 'tok' });
    calls.push({ method: req.method!, path: url.pathname, search: url.search, body });
    if (calls.length > unavailableAfter) return send(503, { description: 'unavailable', code: 503 });
    const row = /^\/v2\/keyspaces\/ks\/(\w+)$/.exec(url.pathname);
    if (row && req.method === 'POST') {
      const values = body as Record<string, unknown>;
      if (schemaProblem) return send(400, { description: 'Unknown field name \'bpm\'.', code: 400 });
      if (values.text === badText) return send(400, { description: 'Invalid value for column text', code: 400 });
      rows.set(`${row[1]}:${JSON.stringify(values)}`, values);
      return send(201, {});
    }
    const batch = /^\/v2\/namespaces\/ks\/collections\/(\w+)\/batch$/.exec(url.pathname);
    if (batch) {
      const list = body as { id: string; title?: string }[];
      if (url.searchParams.get('id-path') !== 'id') return send(400, { description: 'id-path missing', code: 400 });
      if (refuseBatchWith && list.some((d) => d.title === refuseBatchWith)) return send(400, { description: 'bad document', code: 400 });
      if (new Set(list.map((d) => d.id)).size !== list.length) return send(400, { description: 'duplicate id', code: 400 });
      const written = list.filter((d) => !dropFromBatch.has(d.id));
      for (const d of written) docs.set(`${batch[1]}/${d.id}`, d);
      return send(202, { documentIds: written.map((d) => d.id) });
    }
    const doc = /^\/v2\/namespaces\/ks\/collections\/(\w+)\/(.+)$/.exec(url.pathname);
    if (doc && req.method === 'PUT') {
      if ((body as { title?: string }).title === refuseBatchWith) return send(400, { description: 'bad document', code: 400 });
      docs.set(`${doc[1]}/${decodeURIComponent(doc[2]!)}`, body);
      return send(200, { documentId: doc[2] });
    }
    send(404, { description: 'table not found', code: 404 });
  });
}

const song = (id: string, title = `Song ${id}`): Decoded => ({ name: 'Song', record: { id, title, artistId: 'a', releaseDate: '2024-01-01', sections: [], featuring: [], tags: [] } });
const line = (songId: string, n: number, text = `line ${n}`): Decoded => ({ name: 'LyricLine', record: { id: `${songId}-${n}`, songId, lineNumber: n, sectionIndex: 0, section: 'verse', performer: 'A', text } });
const sink = (docBatch = 100) =>
  new StargateSink(new StargateClient({ restUrl: base, authUrl: base, username: 'u', password: 'p', retry: { attempts: 1, initialDelayMs: 0, maxDelayMs: 0 } }), 'ks', { rowConcurrency: 4, docBatch, docConcurrency: 2 });

describe('StargateSink', () => {
  beforeAll(async () => {
    server = createServer(handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    calls = [];
    rows.clear();
    docs.clear();
    dropFromBatch = new Set();
    refuseBatchWith = undefined;
    unavailableAfter = Infinity;
    schemaProblem = false;
  });

  it('writes every row with one POST each and each song as a document, batched by collection', async () => {
    const s = sink(2);
    const failures = await s.write([song('s1'), line('s1', 1), song('s2'), song('s3'), line('s1', 2)]);
    expect(failures).toEqual([]);
    // Songs are two rows (songs, songs_by_artist), lines one.
    expect(calls.filter((c) => c.method === 'POST' && c.path.startsWith('/v2/keyspaces/')).length).toBe(8);
    expect(calls.filter((c) => c.path.endsWith('/batch')).map((c) => (c.body as { id: string }[]).map((d) => d.id))).toEqual([['s1', 's2'], ['s3']]);
    expect([...docs.keys()].sort()).toEqual(['song_docs/s1', 'song_docs/s2', 'song_docs/s3']);
    expect(s.stats).toMatchObject({ rows: 8, documents: 3, documentsRewritten: 0 });
  });

  it('writes again exactly the documents a 202 left out of its ids, one by one', async () => {
    dropFromBatch = new Set(['s2']);
    const s = sink();
    expect(await s.write([song('s1'), song('s2'), song('s3')])).toEqual([]);
    expect(calls.filter((c) => c.method === 'PUT').map((c) => c.path)).toEqual(['/v2/namespaces/ks/collections/song_docs/s2']);
    expect(docs.has('song_docs/s2')).toBe(true);
    expect(s.stats.documentsRewritten).toBe(1);
  });

  it('narrows a batch refused whole to the document that caused it, which alone is poison', async () => {
    refuseBatchWith = 'Broken';
    const failures = await sink().write([song('s1'), song('s2', 'Broken'), song('s3')]);
    expect(failures.map((f) => [f.index, f.error.code])).toEqual([[1, 'RECORD_UNDECODABLE']]);
    expect(failures[0]!.error.message).toContain('song_docs document s2');
    expect([...docs.keys()].sort()).toEqual(['song_docs/s1', 'song_docs/s3']);
  });

  it('sends one document per id (the last), and its outcome stands for every record of that id', async () => {
    refuseBatchWith = 'Second';
    const failures = await sink().write([song('s1', 'First'), song('s2'), song('s1', 'Second')]);
    expect(calls.filter((c) => c.path.endsWith('/batch')).map((c) => (c.body as { id: string }[]).map((d) => d.id))).toEqual([['s1', 's2']]);
    expect(failures.map((f) => f.index).sort()).toEqual([0, 2]);
  });

  it('a refused row makes its record poison by the record index; the others are written', async () => {
    const failures = await sink().write([line('s1', 1), line('s1', 2, 'BAD'), line('s1', 3)]);
    expect(failures.map((f) => [f.index, f.error.code])).toEqual([[1, 'RECORD_UNDECODABLE']]);
    expect(rows.size).toBe(2);
  });

  // Stargate v1's REST v2 row POST takes the row's values and nothing else (RowsResource.createRow
  // builds an INSERT without USING TIMESTAMP), and the Document API stamps its writes with the
  // coordinator's clock: neither takes a write time. So the sink sends none, and a replayed older
  // version that arrives last is what Stargate keeps (last write wins by arrival); over CQL the
  // record's version time decides (test/integration/write-time.test.ts). Shown here on the requests
  // the sink builds: no Stargate coordinator runs where these tests run.
  it('sends no write time: whichever version of a record arrives last is what Stargate keeps', async () => {
    const v2: Decoded = { ...song('s1', 'New Title'), writeTime: Date.UTC(2026, 5, 1) * 1000 };
    const v1: Decoded = { ...song('s1', 'Old Title'), writeTime: Date.UTC(2026, 0, 1) * 1000 };
    expect(await sink().write([v2])).toEqual([]);
    expect(await sink().write([v1])).toEqual([]); // the replay of the older version, after the newer one
    for (const c of calls) {
      expect([...new URLSearchParams(c.search).keys()].filter((k) => k !== 'id-path'), `${c.method} ${c.path}${c.search}`).toEqual([]);
      for (const t of [v1.writeTime, v2.writeTime]) expect(JSON.stringify(c.body)).not.toContain(String(t));
    }
    const posts = calls.filter((c) => c.method === 'POST' && c.path === '/v2/keyspaces/ks/songs').map((c) => c.body as Record<string, unknown>);
    // The body is the row's columns as JSON (this fixture leaves some undefined), nothing more.
    const columns = (d: Decoded) => Object.keys(JSON.parse(JSON.stringify(rowsOf('Song', d.record).find((r) => r.table === 'songs')!.values)) as object);
    expect(posts.map((b) => Object.keys(b))).toEqual([columns(v2), columns(v1)]);
    expect(posts.map((b) => b.title)).toEqual(['New Title', 'Old Title']);
    expect(docs.get('song_docs/s1')).toMatchObject({ title: 'Old Title' });
  });

  it('a 400 that names the schema is a configuration error for the whole call, not poison', async () => {
    schemaProblem = true;
    await expect(sink().write([line('s1', 1)])).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('db init') as unknown });
  });

  it('a 404 (no such table) is a configuration error naming the keyspace', async () => {
    const s = new StargateSink(new StargateClient({ restUrl: base, authUrl: base, username: 'u', password: 'p' }), 'nosuch');
    await expect(s.write([line('s1', 1)])).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('CASSANDRA_KEYSPACE (nosuch)') as unknown });
  });

  it('a transient error throws for the whole call only after every request in flight ended', async () => {
    unavailableAfter = 3;
    const err = await sink()
      .write(Array.from({ length: 40 }, (_, i) => line('s1', i)))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SINK_UNAVAILABLE' });
    const seen = calls.length;
    await new Promise((r) => setTimeout(r, 50));
    // Nothing was still being sent after the call returned, and it stopped early.
    expect(calls.length).toBe(seen);
    expect(seen).toBeLessThan(40);
  });
});
