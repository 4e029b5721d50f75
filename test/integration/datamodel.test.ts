// The datamodel against the real stack: validate from disk and from MinIO, schema evolution in the real registry.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/codec/registry.js';
import { loadReleases, loadSchemaSet, parseType, subjectOf } from '../../src/codec/schemas.js';
import { RapflowError } from '../../src/errors.js';
import { recordsOf, validateFile } from '../../src/model/validate.js';
import { minioClient } from '../../src/stack/probes.js';
import { rapflow } from './cli.js';
import { config, endpoints, uniqueName } from './stack.js';

const current = loadSchemaSet('avro');
const [release1] = loadReleases('avro/history');

describe('rapflow validate', () => {
  it('passes on data/', async () => {
    const r = await rapflow(['validate', 'data/']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/13 files, 48 documents: all valid/);
  });

  it('fails on test/fixtures/invalid/ with one file:line:column message per file', async () => {
    const r = await rapflow(['validate', 'test/fixtures/invalid/']);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n').filter((l) => /^test\/fixtures\/invalid\/[^:]+:\d+:\d+: /.test(l));
    const files = readdirSync('test/fixtures/invalid');
    expect(lines).toHaveLength(files.length);
    expect(new Set(lines.map((l) => l.split(':')[0]))).toEqual(new Set(files.map((f) => `test/fixtures/invalid/${f}`)));
  });

  it('passes a song whose artist is in no file it validates, listing the reference apart (split accepts such a file)', async () => {
    const r = await rapflow(['validate', 'test/fixtures/references/']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('reference: test/fixtures/references/unknown-artist.yaml:14:3: document 2, spec.artist: artist "Nobody Known" is not in these files');
    expect(r.stdout).toMatch(/1 file, 2 documents: all valid; 1 file with references outside these files \(not invalid: split accepts them\)/);
  });

  it('gives machines JSON with file, document, line, column and path', async () => {
    const r = await rapflow(['validate', '--json', 'test/fixtures/invalid/impossible-release-date.yaml']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { valid: boolean; files: { problems: Record<string, unknown>[] }[] };
    expect(report.valid).toBe(false);
    expect(report.files[0]!.problems).toEqual([
      {
        file: 'test/fixtures/invalid/impossible-release-date.yaml',
        document: 1,
        line: 8,
        column: 3,
        path: 'spec.releaseDate',
        message: 'expected a real date YYYY-MM-DD, got "2023-02-29"',
      },
    ]);
  });

  describe('from MinIO (s3://bucket/prefix)', () => {
    const client = minioClient(endpoints);
    const bucket = uniqueName('validate');

    beforeAll(async () => {
      await client.makeBucket(bucket);
      for (const f of readdirSync('data').filter((n) => n.endsWith('.yaml'))) {
        const body = readFileSync(join('data', f));
        await client.putObject(bucket, `inbox/${f}`, body, body.length);
      }
      const bad = readFileSync('test/fixtures/invalid/featuring-self.yaml');
      await client.putObject(bucket, 'broken/featuring-self.yaml', bad, bad.length);
    });

    afterAll(async () => {
      const names: string[] = [];
      for await (const o of client.listObjectsV2(bucket, '', true)) names.push((o as { name: string }).name);
      await client.removeObjects(bucket, names);
      await client.removeBucket(bucket);
    });

    it('validates what is in the bucket, and names objects by their s3:// address', async () => {
      expect((await rapflow(['validate', `s3://${bucket}/inbox/`])).code).toBe(0);
      const r = await rapflow(['validate', `s3://${bucket}/broken/`]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`s3://${bucket}/broken/featuring-self.yaml:8:15: document 1, spec.featuring.0:`);
    });

    it('says which configuration is wrong when the credentials are', async () => {
      const r = await rapflow(['validate', `s3://${bucket}/inbox/`], { S3_SECRET_KEY: 'wrong-secret-value' });
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/SignatureDoesNotMatch|InvalidAccessKeyId/);
      expect(r.stderr).not.toContain('wrong-secret-value');
    });
  });
});

describe('schema evolution in the real registry', () => {
  const prefix = `${uniqueName('evo')}.`;
  const env = { KAFKA_TOPIC_PREFIX: prefix };
  const registry = new Registry(config.registry.url, prefix);

  it('starts with the subjects missing', async () => {
    const r = await rapflow(['schema', 'check'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${prefix.replace(/\./g, '\\.')}rap\\.songs-value +missing`, 'm'));
  });

  it('accepts v2 after v1 under BACKWARD, and `schema check` tells the states apart', async () => {
    await registry.registerAll(release1!.set);
    const before = await rapflow(['schema', 'check', '--json'], env);
    const states = JSON.parse(before.stdout) as { record: string; state: string; compatible?: boolean }[];
    expect(states.find((s) => s.record === 'Song')).toMatchObject({ state: 'differs', compatible: true });
    expect(states.filter((s) => s.record !== 'Song').every((s) => s.state === 'current')).toBe(true);

    const reg = await rapflow(['schema', 'register'], env);
    expect(reg.code).toBe(0);
    const after = await rapflow(['schema', 'check'], env);
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(new RegExp(`^${prefix.replace(/\./g, '\\.')}rap\\.songs-value +current +registered as version 2 `, 'm'));
  });

  it('refuses an incompatible change with a message that names the field', async () => {
    const broken = structuredClone(current.bundled.get('Song')!) as { fields: unknown[] };
    broken.fields.push({ name: 'label', type: 'string', doc: 'Record label, required: breaks old data.' });
    const set = { bundled: new Map([['Song' as const, broken as never]]), types: new Map([['Song' as const, parseType(broken as never)]]) };
    const err = await registry.registerAll(set).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RapflowError);
    expect((err as RapflowError).code).toBe('SCHEMA_INCOMPATIBLE');
    expect((err as RapflowError).message).toMatch(new RegExp(`registering Song under ${subjectOf('Song', prefix).replace(/\./g, '\\.')}.*incompatible.*label`, 's'));
  });

  it('decodes across versions through the registry: v1 writer/v2 reader and v2 writer/v1 reader', async () => {
    const ids1 = await new Registry(config.registry.url, `${uniqueName('evo1')}.`).registerAll(release1!.set, ['Song']);
    const ids2 = await registry.registerAll(current, ['Song']);
    const song = recordsOf(validateFile('data/legacy-flat-song.yaml', readFileSync('data/legacy-flat-song.yaml'), current.types)).songs[0]!;
    const { bpm: _bpm, ...v1Song } = song;
    const fromV1 = await registry.decode(await registry.encode(ids1.get('Song')!.id, v1Song), current.types.get('Song'));
    expect(fromV1).toEqual({ ...v1Song, bpm: null });
    const fromV2 = await registry.decode(await registry.encode(ids2.get('Song')!.id, { ...song, bpm: 96 }), release1!.set.types.get('Song'));
    expect(fromV2).toEqual(v1Song);
  });
});
