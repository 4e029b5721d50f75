// The whole store against the ingest ledger, on the real stack: `verify --all` finds per file what is
// missing, rows or (where the sink writes them) documents; and the run summary says when the
// documents lag the rows, as after a first run over CQL and a later switch to Stargate.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../src/store/stargate/schema.js';
import { s3Client } from '../../src/source/s3.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { rapflow } from './cli.js';
import { config, dropIsolated, isolatedEnv, sampleRecords } from './stack.js';

const env = isolatedEnv('vall');
const ks = env.CASSANDRA_KEYSPACE;
const tmp = mkdtempSync(join(tmpdir(), 'rapflow-verify-all-'));
const cql = new CqlSession({ ...config.cassandra, keyspace: ks });
const expected = sampleRecords();
let run = { code: -1, stdout: '', stderr: '' };

/**
 * The tables a Document API collection is, as Stargate makes them (a document per partition, its id
 * in `key`; path columns p0.. clustering, then leaf and values: Stargate's DocumentTableColumns),
 * with fewer path columns. Stargate itself is not on this machine; what is read here is only the
 * partitions.
 */
async function collections(): Promise<void> {
  for (const name of Object.values(COLLECTIONS)) {
    await cql.execute(`CREATE TABLE IF NOT EXISTS ${ks}.${name} (key text, p0 text, p1 text, leaf text, text_value text, dbl_value double, bool_value boolean, PRIMARY KEY ((key), p0, p1))`);
  }
}

describe('verify --all and the documents behind the rows', () => {
  beforeAll(async () => {
    expect((await rapflow(['db', 'init'], env)).code).toBe(0);
    await cql.connect();
    // As after a Stargate run that wrote two songs' documents, then lost (or never had) the rest.
    await collections();
    for (const s of expected.songs.slice(0, 2)) {
      await cql.execute(`INSERT INTO ${ks}.${COLLECTIONS.Song} (key, p0, p1, leaf, text_value) VALUES (?, 'title', '', 'title', ?)`, [s.id, s.title], { prepare: true });
    }
    cpSync('data', join(tmp, 'data'), { recursive: true });
    run = await rapflow(['run', '--data', join(tmp, 'data'), '--out', join(tmp, 'out')], { ...env, SINK: 'cql' });
  });

  afterAll(async () => {
    await cql.close();
    await dropIsolated(env);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the run summary counts the documents and warns that they lag the rows', () => {
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.stdout).toContain('verify:     ok, 13 files reconciled');
    expect(run.stdout).toContain('documents:  2 songs, 0 artists, 0 meetups (Document API collections)');
    expect(run.stdout).toContain(`warning:    the documents lag the rows (2 of ${expected.songs.length} songs, 0 of ${expected.artists.length} artists, 0 of ${expected.meetups.length} meetups)`);
  });

  it('reconciles every file of the ledger with the rows, though this run split nothing new', async () => {
    const again = await rapflow(['run', '--data', join(tmp, 'data'), '--out', join(tmp, 'out2')], { ...env, SINK: 'cql' });
    expect(again.code, again.stderr.slice(-2000)).toBe(0);
    expect(again.stdout).toContain('verify:     ok, 0 files reconciled');
    const r = await rapflow(['verify', '--all'], env);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const n = (what: { length: number }) => `${what.length}/${what.length}`;
    expect(r.stdout).toContain(`verified 13 files: every record is a row or a dead letter (artists ${n(expected.artists)}, songs ${n(expected.songs)}, songs_by_artist ${n(expected.songs)}, lyric_lines ${n(expected.lines)}, meetups ${n(expected.meetups)})`);
    expect(r.stdout).toMatch(/^ok {10}s3:\/\/\S+\/incoming\/songs-lil-sidecar\.yaml {2}songs 3\/3, songs_by_artist 3\/3, lyric_lines 39\/39$/m);
  });

  it('with SINK=stargate, names per file the documents that are missing', async () => {
    const r = await rapflow(['verify', '--all', '--json'], { ...env, SINK: 'stargate' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('VERIFY_MISMATCH');
    const report = JSON.parse(r.stdout) as { files: { key: string; status: string; tables: Record<string, { expected: number; found: number }>; differences: string[] }[]; totals: Record<string, { expected: number; found: number }> };
    expect(report.totals['song documents']).toEqual({ expected: expected.songs.length, found: 2, deadLettered: 0 });
    expect(report.totals['artist documents']).toEqual({ expected: expected.artists.length, found: 0, deadLettered: 0 });
    expect(report.totals.lyric_lines).toEqual({ expected: expected.lines.length, found: expected.lines.length, deadLettered: 0 });
    const withTwo = report.files.find((f) => f.differences.some((d) => d.includes(`song "${expected.songs[2]!.title}"`)))!;
    expect(withTwo.status).toBe('mismatch');
    expect(withTwo.differences.find((d) => d.startsWith('song documents:'))).toMatch(/^song documents: \d+ expected, \d+ found, \d+ missing \(song "/);
  });

  it('names per file the rows that are missing once some are gone', async () => {
    const song = expected.songs[0]!;
    const artist = expected.artists.find((a) => a.name === song.artist)!;
    await cql.execute(`DELETE FROM ${ks}.lyric_lines WHERE song_id = ?`, [song.id], { prepare: true });
    await cql.execute(`DELETE FROM ${ks}.artists WHERE id = ?`, [artist.id], { prepare: true });
    const r = await rapflow(['verify', '--all'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/VERIFY_MISMATCH: 2 files do not reconcile: /);
    const lines = expected.lines.filter((l) => l.songId === song.id).length;
    expect(r.stdout).toContain(`lyric_lines: ${lines} expected, 0 found, ${lines} missing (line "${song.title}" 1, line "${song.title}" 2`);
    expect(r.stdout).toContain(`artists: ${expected.artists.length} expected, ${expected.artists.length - 1} found, 1 missing (artist "${artist.name}")`);
    expect(r.stdout).toMatch(/^2 of 13 files do not reconcile/m);
  });

  it('goes on past a file deleted from the bucket since, and says so', async () => {
    await s3Client({ endpoint: config.s3.endpoint, accessKey: config.s3.accessKey, secretKey: config.s3.secretKey }).removeObject(env.S3_INBOX_BUCKET, 'incoming/meetups.yaml');
    const r = await rapflow(['verify', '--all'], env);
    expect(r.stderr).not.toContain('no such object');
    expect(r.stdout).toMatch(/^changed {5}s3:\/\/\S+\/incoming\/meetups\.yaml$/m);
    expect(r.stdout).toContain('the object is no longer in the bucket (deleted since it was split)');
    // The two files whose rows were deleted above still do not reconcile; the rest are checked.
    expect(r.stdout).toMatch(/^2 of 13 files do not reconcile/m);
  });
});
