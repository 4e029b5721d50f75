// Event-driven start: MinIO announces new inbox objects on Kafka and `rapflow split --follow` splits them.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicOf } from '../../src/codec/schemas.js';
import type { Manifest } from '../../src/pipeline/split.js';
import { enableNotifications } from '../../src/source/s3.js';
import { minioClient } from '../../src/stack/probes.js';
import { rapflow } from './cli.js';
import { dropBucket, dropKeyspace, dropTopics, endpoints, uniqueName } from './stack.js';

const prefix = `${uniqueName('follow')}.`;
const env = {
  KAFKA_TOPIC_PREFIX: prefix,
  KAFKA_FOLLOW_GROUP: uniqueName('follow'),
  S3_INBOX_BUCKET: uniqueName('follow'),
  CASSANDRA_KEYSPACE: uniqueName('follow', '_'),
  LOG_LEVEL: 'info',
};
const s3 = minioClient(endpoints);

describe('split --follow', () => {
  beforeAll(async () => {
    await s3.makeBucket(env.S3_INBOX_BUCKET);
    await enableNotifications(s3, env.S3_INBOX_BUCKET, 'incoming/', '');
    for (const args of [['db', 'init'], ['topics', 'create']]) expect((await rapflow(args, env)).code).toBe(0);
  });

  afterAll(async () => {
    await dropTopics(prefix);
    await dropKeyspace(env.CASSANDRA_KEYSPACE);
    await dropBucket(env.S3_INBOX_BUCKET);
  });

  it('splits files as they land in the inbox, ignores the rest, and stops cleanly on SIGTERM', async () => {
    const manifestFile = join(mkdtempSync(join(tmpdir(), 'rapflow-follow-')), 'follow.jsonl');
    const child = spawn('node', ['dist/cli/main.js', 'split', '--follow', '--manifest', manifestFile], { env: { ...process.env, ...env } });
    let stderr = '';
    let exited: number | null | undefined;
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (c) => (exited = c));
    const waitFor = async (re: RegExp, count = 1) => {
      const deadline = Date.now() + 60_000;
      while ((stderr.match(new RegExp(re.source, 'g')) ?? []).length < count) {
        if (exited !== undefined) throw new Error(`split --follow exited ${exited}: ${stderr.slice(-1500)}`);
        if (Date.now() > deadline) throw new Error(`no ${re.source} x${count} within 60 s: ${stderr.slice(-1500)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitFor(/following inbox events/);

    for (const f of ['songs-mc-quorum.yaml', 'meetups.yaml']) {
      const body = readFileSync(join('data', f));
      await s3.putObject(env.S3_INBOX_BUCKET, `incoming/${f}`, body, body.length);
    }
    const other = readFileSync('data/artists.yaml');
    await s3.putObject(env.S3_INBOX_BUCKET, 'elsewhere/artists.yaml', other, other.length); // outside the inbox prefix
    await waitFor(/"file split"/, 2);

    child.kill('SIGTERM');
    while (exited === undefined) await new Promise((r) => setTimeout(r, 100));
    expect(exited).toBe(0);
    expect(stderr).toContain('"msg":"stopped"');

    const manifests = readFileSync(manifestFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Manifest);
    const totals: Record<string, number> = {};
    for (const m of manifests) for (const [t, n] of Object.entries(m.totals)) totals[t] = (totals[t] ?? 0) + n;
    expect(totals, stderr.slice(-3000)).toEqual({ [topicOf('Song', prefix)]: 3, [topicOf('LyricLine', prefix)]: 53, [topicOf('Meetup', prefix)]: 5 });
    expect(manifests.flatMap((m) => m.files.map((f) => f.key)).sort()).toEqual(['incoming/meetups.yaml', 'incoming/songs-mc-quorum.yaml']);
  });
});
