// The Stargate path against a real coordinator from the local stack: the sink writes rows through
// REST v2 and documents through the Document API, the reader reads them back, and what Stargate
// answers for missing schema becomes a clear error. Without a coordinator installed this suite
// cannot run; it says so on stderr and in its skipped tests, never silently.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicOf } from '../../src/codec/schemas.js';
import { loadConfig } from '../../src/config/index.js';
import { everyRow } from '../../src/read/reader.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { StargateClient } from '../../src/store/stargate/client.js';
import { StargateReader } from '../../src/store/stargate/reader.js';
import { TABLE_DEFS, TABLES } from '../../src/store/tables.js';
import { rapflow, runProcess } from './cli.js';
import { config, dropIsolated, dropKeyspace, isolatedEnv, readTopics, sampleRecords, splitSample, testStack, uniqueName } from './stack.js';

const [stargate] = await testStack().status(['stargate']);
const available = stargate?.state === 'up';
if (!available) {
  process.stderr.write(
    `\n*** test/integration/stargate.test.ts NOT RUN: the local stack has no Stargate coordinator (${stargate?.state ?? 'unknown'}: ${stargate?.detail.split('\n')[0] ?? ''}).\n` +
      '*** The Stargate sink and reader were not tested against a real Stargate. `rapflow stack status` says how to install one.\n\n',
  );
}

const expected = sampleRecords();
const records = expected.songs.length + expected.lines.length + expected.artists.length + expected.meetups.length;

const client = () => new StargateClient({ restUrl: config.read.stargateUrl, authUrl: config.read.stargateAuthUrl, username: config.cassandra.username, password: config.cassandra.password });

describe.runIf(available)('Stargate: the sink and the reader against a real coordinator', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'rapflow-stargate-'));
  const env = { ...isolatedEnv('sg'), SINK: 'stargate', READ_API: 'stargate' };
  const ks = env.CASSANDRA_KEYSPACE;
  const cql = new CqlSession({ ...config.cassandra, keyspace: ks });
  const reader = new StargateReader(client(), ks);

  /** Rows over CQL, straight from Cassandra: what Stargate wrote, seen without Stargate. */
  const counts = async () => {
    const n = async (table: string) => (await cql.execute(`SELECT COUNT(*) AS n FROM ${ks}.${table}`)).first().get('n') as { toNumber(): number };
    return Object.fromEntries(await Promise.all(TABLE_DEFS.map(async (t) => [t.name, (await n(t.name)).toNumber()] as const)));
  };
  const documents = async () => ({
    songs: (await reader.existingDocuments('Song', expected.songs.map((s) => s.id))).size,
    artists: (await reader.existingDocuments('Artist', expected.artists.map((a) => a.id))).size,
    meetups: (await reader.existingDocuments('Meetup', expected.meetups.map((m) => m.id))).size,
  });
  const want = {
    rows: { songs: expected.songs.length, songs_by_artist: expected.songs.length, lyric_lines: expected.lines.length, artists: expected.artists.length, meetups: expected.meetups.length },
    documents: { songs: expected.songs.length, artists: expected.artists.length, meetups: expected.meetups.length },
  };

  beforeAll(async () => {
    const init = await rapflow(['db', 'init'], env);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('through Stargate: 5 tables and 3 collections created');
    await splitSample(env, tmp);
    await cql.connect();
  });

  afterAll(async () => {
    await cql.close();
    await dropIsolated(env);
  });

  it('consume writes every record as rows through REST and every song, artist and meetup as a document', async () => {
    const r = await rapflow(['consume', '--idle-exit', '5'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`consumed ${records} records: ${records} written, 0 dead-lettered, 0 retried batches (through Stargate)`);
    expect(await counts()).toEqual(want.rows);
    expect(await documents()).toEqual(want.documents);
  });

  it('reads back through REST what went in: a song, its lines in order, the artist page, a meetup', async () => {
    const song = expected.songs.find((s) => s.featuring.length > 0 && s.album)!;
    expect(await reader.song(song.id)).toEqual(song);
    expect(await reader.lines(song.id)).toEqual(expected.lines.filter((l) => l.songId === song.id));
    const page = [];
    for await (const row of everyRow((p) => reader.songsByArtist(song.artistId, p), 2)) page.push(row);
    const theirs = expected.songs.filter((s) => s.artistId === song.artistId);
    expect(page.map((p) => p.songId).sort()).toEqual(theirs.map((s) => s.id).sort());
    // Newest first, as the clustering order says.
    expect(page.map((p) => p.releaseDate)).toEqual([...page.map((p) => p.releaseDate)].sort().reverse());
    const meetup = expected.meetups[0]!;
    expect(await reader.meetup(meetup.id)).toEqual(meetup);
    expect(await reader.song('00000000-0000-5000-8000-000000000000')).toBeUndefined();
  });

  it('a document is the record whole, and `query song --document` prints it', async () => {
    const song = expected.songs[0]!;
    expect(await reader.document('Song', song.id)).toEqual(song);
    const r = await rapflow(['query', 'song', '--id', song.id, '--document'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(song);
  });

  it('verify reconciles rows and documents through Stargate', async () => {
    const r = await rapflow(['verify', '--manifest', join(tmp, 'm.json'), '--timeout', '30'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/song documents \d+\/\d+/);
    expect(r.stdout).toContain(`song documents ${expected.songs.length}/${expected.songs.length}`);
  });

  it('consuming the same records again changes nothing: same rows, same documents', async () => {
    const r = await rapflow(['consume', '--idle-exit', '5'], { ...env, KAFKA_CONSUMER_GROUP: uniqueName('sg-replay') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`consumed ${records} records: ${records} written`);
    expect(await counts()).toEqual(want.rows);
    expect(await documents()).toEqual(want.documents);
  });

  it('a column dropped behind the consumer is a configuration error (exit 78, nothing dead-lettered); db init adds it back and a restart writes everything', async () => {
    const sg = client();
    await sg.request('DELETE', `/v2/schemas/keyspaces/${ks}/tables/lyric_lines/columns/performer`, { accept: [204] });
    const group = uniqueName('sg-drift');
    const broken = await rapflow(['consume', '--idle-exit', '5'], { ...env, KAFKA_CONSUMER_GROUP: group });
    expect(broken.code, broken.stderr.slice(-2000)).toBe(78);
    expect(broken.stderr).toMatch(/lyric_lines does not match the datamodel.*db init/);
    expect(await readTopics([topicOf('DeadLetter', env.KAFKA_TOPIC_PREFIX)], 1_000)).toEqual([]);
    const init = await rapflow(['db', 'init'], env);
    expect(init.stdout).toContain('columns added for the datamodel: lyric_lines.performer');
    const fixed = await rapflow(['consume', '--idle-exit', '5'], { ...env, KAFKA_CONSUMER_GROUP: group });
    expect(fixed.code, fixed.stderr.slice(-2000)).toBe(0);
    // Batches of other topics may have been written and committed before the lyrics stopped it;
    // every lyric line waited, uncommitted, for the fix.
    expect(fixed.stdout).toMatch(new RegExp(`consumed (\\d+) records: \\1 written, 0 dead-lettered`));
    expect(Number(/consumed (\d+) records/.exec(fixed.stdout)![1])).toBeGreaterThanOrEqual(expected.lines.length);
    expect(await readTopics([topicOf('DeadLetter', env.KAFKA_TOPIC_PREFIX)], 1_000)).toEqual([]);
    expect(await counts()).toEqual(want.rows);
    const song = expected.songs[0]!;
    expect(await reader.lines(song.id)).toEqual(expected.lines.filter((l) => l.songId === song.id));
  });
});

describe.runIf(available)('Stargate: the coordinator the stack starts', () => {
  it('listens on loopback only: its APIs, CQL and gossip, and no JMX or RMI port on every interface', async () => {
    const r = await runProcess('ss', ['-ltnpH'], { env: process.env });
    const mine = r.stdout.split('\n').filter((l) => l.includes(`pid=${stargate!.pid},`));
    const addresses = mine.map((l) => l.trim().split(/\s+/)[3]!);
    // What rapflow uses: gossip, auth, REST and Docs, health, CQL. A coordinator with every v1
    // bundle also serves GraphQL (8080) and gRPC (8090); whatever it opens must be on loopback.
    const ports = new Set(addresses.map((a) => a.replace(/^.*:/, '')));
    for (const p of ['7000', '8081', '8082', '8084', '9042']) expect(ports, `port ${p} of ${[...ports].join(', ')}`).toContain(p);
    for (const a of addresses) expect(a).toMatch(/^(127\.|\[::ffff:127\.)/);
  });
});

describe.runIf(available)('Stargate: missing schema is an error, never an empty result', () => {
  it('`query artists` against a keyspace that does not exist exits 78 and says what to check', async () => {
    const r = await rapflow(['query', 'artists'], { READ_API: 'stargate', CASSANDRA_KEYSPACE: 'nosuch_keyspace', LOG_LEVEL: 'warn' });
    expect(r.code).toBe(78);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('CASSANDRA_KEYSPACE (nosuch_keyspace)');
  });

  it('schema made over CQL reaches Stargate only after a while: the reader waits it out, bounded, and the time is printed', async () => {
    const ks = uniqueName('sg_cql', '_');
    const cql = new CqlSession({ ...loadConfig({ ...process.env, CASSANDRA_KEYSPACE: ks }).cassandra });
    await cql.connect();
    try {
      await cql.bootstrap(TABLES);
      const t0 = Date.now();
      const page = await new StargateReader(client(), ks, { schemaWaitMs: 150_000 }).artists({ size: 5 });
      const seconds = (Date.now() - t0) / 1000;
      process.stderr.write(`[stargate] a keyspace made over CQL became visible through Stargate after ${seconds.toFixed(1)} s\n`);
      expect(page.rows).toEqual([]);
    } finally {
      await cql.close();
      await dropKeyspace(ks);
    }
  }, 200_000);
});
