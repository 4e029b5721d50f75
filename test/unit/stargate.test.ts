// The Stargate REST client and reader against an in-process fake of Stargate's HTTP API, for the
// failure shapes a real Stargate cannot be made to produce on demand (a 401 on one chosen request,
// 429s, a refused login mid-run); the fake answers with the shapes a real v1.0.91 gave. The reader
// against a real Stargate is test/integration/stargate.test.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RapflowError } from '../../src/errors.js';
import { everyRow } from '../../src/read/reader.js';
import { isSchemaChange, StargateClient } from '../../src/store/stargate/client.js';
import { StargateReader } from '../../src/store/stargate/reader.js';

const PASSWORD = 'sg-secret-pw-4711';
const songsByArtist = Array.from({ length: 7 }, (_, i) => ({ artist_id: 'a1', release_date: `2024-0${i + 1}-01`, song_id: `00000000-0000-0000-0000-00000000000${i}`, title: `Song ${i}`, album: null }));
const songRow = { id: 's1', slug: 'one', title: 'One', artist_id: 'a1', artist: 'A', featuring: ['B'], album: null, release_date: '2024-01-01', language: 'en', tags: [], sections: '[{"index":0,"kind":"verse","performer":"A","firstLine":1,"lineCount":2}]', line_count: 2, bpm: 92, source_format: 'RAP_AS_CODE_V1' };

let server: Server;
let base = '';
const seen: { path: string; token?: string; query: URLSearchParams }[] = [];
let logins = 0;
let expireNext = false;
let overloadNext = 0;
let refuseAll = false;

function handle(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url!, 'http://x');
  const send = (status: number, body?: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  if (req.method === 'POST' && url.pathname === '/v1/auth') {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { username, password } = JSON.parse(body) as { username: string; password: string };
      if (username !== 'cassandra' || password !== PASSWORD) return send(401, { description: 'Failed to authenticate', code: 401 });
      logins++;
      send(201, { authToken: `tok-${logins}` });
    });
    return;
  }
  const token = req.headers['x-cassandra-token'] as string | undefined;
  seen.push({ path: url.pathname, token, query: url.searchParams });
  if (refuseAll || token !== `tok-${logins}`) return send(401, { description: 'Unauthorized', code: 401 });
  if (expireNext) {
    expireNext = false;
    return send(401, { description: 'token expired', code: 401 });
  }
  if (overloadNext > 0) {
    overloadNext--;
    return send(429, { description: 'overloaded', code: 429 });
  }
  if (url.pathname === '/v2/keyspaces/ks/songs_by_artist') {
    const size = Number(url.searchParams.get('page-size'));
    const from = Number(url.searchParams.get('page-state') ?? 0);
    const where = JSON.parse(url.searchParams.get('where')!) as { artist_id: { $eq: string } };
    const rows = songsByArtist.filter((r) => r.artist_id === where.artist_id.$eq);
    const data = rows.slice(from, from + size);
    return send(200, { count: data.length, pageState: from + size < rows.length ? String(from + size) : null, data });
  }
  // A real Stargate answers a schema change once the ring agrees on it, which took up to 61 s on
  // the local stack; here, 2 s, against a client whose data requests give up after 200 ms (undici checks its
  // timeouts about every half second, so the gap is wide).
  if (url.pathname === '/v2/schemas/keyspaces/ks/tables/lyric_lines/columns/performer' || url.pathname === '/v2/keyspaces/ks/slow') {
    setTimeout(() => send(req.method === 'DELETE' ? 204 : 200, req.method === 'DELETE' ? undefined : { count: 0, data: [] }), 2_000);
    return;
  }
  if (url.pathname === '/v2/keyspaces/ks/songs/s1') return send(200, { count: 1, data: [songRow] });
  // A real Stargate: a missing row is a 200 with no data; a 404 means the table or keyspace is missing.
  if (url.pathname.startsWith('/v2/keyspaces/ks/songs/')) return send(200, { count: 0, data: [] });
  if (url.pathname.startsWith('/v2/keyspaces/nosuch/')) return send(404, { description: 'keyspace nosuch not found', code: 404 });
  if (url.pathname === '/v2/keyspaces/ks/songs') {
    const where = JSON.parse(url.searchParams.get('where')!) as { id: { $in: string[] } };
    const data = where.id.$in.filter((id) => id === 's1').map((id) => ({ ...songRow, id }));
    return send(200, { count: data.length, data });
  }
  send(400, { description: `no route ${url.pathname}`, code: 400 });
}

const reader = (password = PASSWORD) => new StargateReader(new StargateClient({ restUrl: base, authUrl: base, username: 'cassandra', password, retry: { attempts: 4, initialDelayMs: 1, maxDelayMs: 5 } }), 'ks');

describe('Stargate REST reader', () => {
  beforeAll(async () => {
    server = createServer(handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('pages with page-size and page-state until the last page, filtering with where', async () => {
    const r = reader();
    const page1 = await r.songsByArtist('a1', { size: 3 });
    expect(page1.rows.map((x) => x.title)).toEqual(['Song 0', 'Song 1', 'Song 2']);
    expect(page1.next).toBe('3');
    const all = [];
    for await (const row of everyRow((p) => r.songsByArtist('a1', p), 3)) all.push(row.songId);
    expect(all).toEqual(songsByArtist.map((s) => s.song_id));
    const last = seen.at(-1)!;
    expect(last.query.get('page-state')).toBe('6');
    expect(JSON.parse(last.query.get('where')!)).toEqual({ artist_id: { $eq: 'a1' } });
  });

  it('maps a row by key to the record shape, and a 200 with no data to nothing', async () => {
    const r = reader();
    expect(await r.song('s1')).toMatchObject({ id: 's1', artistId: 'a1', featuring: ['B'], bpm: 92, sections: [{ kind: 'verse', lineCount: 2 }] });
    expect(await r.song('missing')).toBeUndefined();
    expect([...(await r.existing('songs', ['s1', 'nope']))]).toEqual(['s1']);
  });

  it('a 404 from a rows endpoint is a configuration error naming the keyspace, never an empty result', async () => {
    const client = new StargateClient({ restUrl: base, authUrl: base, username: 'cassandra', password: PASSWORD });
    const err = (await new StargateReader(client, 'nosuch').artists({ size: 10 }).catch((e: unknown) => e)) as RapflowError;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('CASSANDRA_KEYSPACE (nosuch)');
    expect(err.message).toContain('keyspace nosuch not found');
  });

  it('renews an expired token once and retries the call', async () => {
    const r = reader();
    await r.song('s1');
    const before = logins;
    expireNext = true;
    expect(await r.song('s1')).toBeDefined();
    expect(logins).toBe(before + 1);
    expect(seen.at(-1)!.token).toBe(`tok-${logins}`);
  });

  it('backs off and retries 429 overloaded, within its budget', async () => {
    overloadNext = 2;
    expect(await reader().song('s1')).toBeDefined();
    overloadNext = 10;
    const err = await reader().song('s1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RapflowError);
    expect((err as RapflowError).code).toBe('SINK_UNAVAILABLE');
    expect((err as RapflowError).message).toContain('HTTP 429: overloaded');
    overloadNext = 0;
  });

  it('fails with SINK_AUTH_FAILED when credentials or tokens keep being refused, never printing either', async () => {
    const bad = await reader('wrong-pw-123').song('s1').catch((e: unknown) => e);
    expect((bad as RapflowError).code).toBe('SINK_AUTH_FAILED');
    refuseAll = true;
    const refused = await reader().song('s1').catch((e: unknown) => e);
    refuseAll = false;
    expect((refused as RapflowError).code).toBe('SINK_AUTH_FAILED');
    for (const e of [bad, refused] as RapflowError[]) {
      const printed = JSON.stringify({ message: e.message, context: e.context, cause: e.cause });
      expect(printed).not.toMatch(/tok-\d|sg-secret|wrong-pw/);
    }
  });

  it('a Stargate that does not answer is SINK_UNAVAILABLE (retryable, exit 75)', async () => {
    const r = new StargateReader(new StargateClient({ restUrl: 'http://127.0.0.1:1', authUrl: 'http://127.0.0.1:1', username: 'u', password: 'p', retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 2 } }), 'ks');
    const err = (await r.song('s1').catch((e: unknown) => e)) as RapflowError;
    expect(err.code).toBe('SINK_UNAVAILABLE');
    expect(err.message).toMatch(/authenticating: Stargate unavailable \(ECONNREFUSED/);
  });

  describe('schema changes', () => {
    it('tells schema changes from data requests', () => {
      expect(isSchemaChange('DELETE', '/v2/schemas/keyspaces/ks/tables/t/columns/c')).toBe(true);
      expect(isSchemaChange('POST', '/v2/schemas/keyspaces')).toBe(true);
      expect(isSchemaChange('POST', '/v2/namespaces/ks/collections')).toBe(true);
      expect(isSchemaChange('GET', '/v2/schemas/keyspaces/ks/tables')).toBe(false);
      expect(isSchemaChange('POST', '/v2/keyspaces/ks/songs')).toBe(false);
      expect(isSchemaChange('POST', '/v2/namespaces/ks/collections/song_docs/batch')).toBe(false);
    });

    it('waits for a schema change as long as Stargate waits for agreement, and sends it once; a data request still times out', async () => {
      const client = new StargateClient({ restUrl: base, authUrl: base, username: 'cassandra', password: PASSWORD, timeoutMs: 200, retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 } });
      const before = seen.filter((r) => r.path.endsWith('/columns/performer')).length;
      const res = await client.request('DELETE', '/v2/schemas/keyspaces/ks/tables/lyric_lines/columns/performer', { accept: [204] });
      expect(res.status).toBe(204);
      expect(seen.filter((r) => r.path.endsWith('/columns/performer')).length - before).toBe(1);
      await expect(client.get('/v2/keyspaces/ks/slow')).rejects.toMatchObject({ code: 'SINK_UNAVAILABLE' });
      await client.close();
    });

  });
});
