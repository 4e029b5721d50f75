// Bad-input sweep: every invalid fixture and a seeded set of random mutations of valid files go
// through validate and split. No crash, no hang, a message naming file and line for each
// rejected file, and no partial production: a file's records are on Kafka all or not at all.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchemaSet, topicOf, type RecordName } from '../../src/codec/schemas.js';
import { prng } from '../../src/model/generate.js';
import { validateFile } from '../../src/model/validate.js';
import type { Manifest } from '../../src/pipeline/split.js';
import { HEADER } from '../../src/transport/topics.js';
import { rapflow } from './cli.js';
import { dropIsolated, isolatedEnv, readTopics } from './stack.js';

const FUZZ_COUNT = 120;
const set = loadSchemaSet('avro');
const tmp = mkdtempSync(join(tmpdir(), 'rapflow-bad-'));
const dir = join(tmp, 'inbox');
const env = isolatedEnv('bad');
const prefix = env.KAFKA_TOPIC_PREFIX;

/** Seeded mutations of a valid file: the kinds of damage hands and tools do to YAML. */
export function mutate(text: string, rnd: () => number): string {
  const lines = text.split('\n');
  const at = () => Math.floor(rnd() * lines.length);
  const ops = [
    () => lines.splice(at(), 1), // a line deleted
    () => lines.splice(at(), 0, lines[at()]!), // a line duplicated elsewhere
    () => { const i = at(); lines[i] = `  ${lines[i]}`; }, // indentation shifted
    () => { const i = at(); lines[i] = lines[i]!.slice(0, Math.floor(rnd() * lines[i]!.length)); }, // a line cut short
    () => { const i = at(); lines[i] = lines[i]!.replace(/:/, ''); }, // a colon lost
    () => { const i = at(); lines[i] = `${lines[i]} ${String.fromCharCode(Math.floor(rnd() * 0x3000))}`; }, // a stray character, any plane
    () => { const i = at(); lines[i] = lines[i]!.replace(/"/, ''); }, // an unbalanced quote
    () => lines.splice(Math.floor(lines.length * rnd())), // the file truncated
    () => { const i = at(); lines[i] = lines[i]!.replace(/\d/, 'x'); }, // a digit replaced
    () => { const i = at(); lines[i] = `${lines[i]!.split(':')[0]}: [`; }, // an unclosed flow sequence
  ];
  const n = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < n; k++) ops[Math.floor(rnd() * ops.length)]!();
  return lines.join('\n');
}

/** The mutations' seed: in the suite's name, so a failure says how to run the same inputs again. */
const SEED = Number(process.env.RAPFLOW_TEST_SEED ?? 2026);

describe(`bad input through validate and split (mutation seed ${SEED}: RAPFLOW_TEST_SEED)`, () => {
  const names: string[] = [];
  let manifest: Manifest;
  let splitRun = { code: -1, stdout: '', stderr: '' };

  beforeAll(async () => {
    mkdirSync(dir);
    for (const f of readdirSync('test/fixtures/invalid')) {
      writeFileSync(join(dir, `fixture-${f}`), readFileSync(join('test/fixtures/invalid', f)));
      names.push(`fixture-${f}`);
    }
    const valid = readdirSync('data').filter((f) => f.endsWith('.yaml'));
    const rnd = prng(SEED);
    for (let i = 0; i < FUZZ_COUNT; i++) {
      const source = valid[Math.floor(rnd() * valid.length)]!;
      const name = `fuzz-${String(i).padStart(3, '0')}-${source}`;
      writeFileSync(join(dir, name), mutate(readFileSync(join('data', source), 'utf8'), rnd));
      names.push(name);
    }
    for (const args of [['db', 'init'], ['topics', 'create'], ['upload', dir]]) {
      const r = await rapflow(args, env);
      expect(r.code, r.stderr).toBe(0);
    }
    expect((await rapflow(['discover', '--out', join(tmp, 'todo.json')], env)).code).toBe(0);
    splitRun = await rapflow(['split', '--from-list', join(tmp, 'todo.json'), '--manifest', join(tmp, 'manifest.json')], env);
    manifest = JSON.parse(readFileSync(join(tmp, 'manifest.json'), 'utf8')) as Manifest;
  });

  afterAll(async () => {
    await dropIsolated(env);
  });

  // How long validation takes is bench/split's to measure; a hang still fails here, on the test's timeout.
  it('validate: never throws, and names file and line for every problem', () => {
    for (const name of names) {
      const result = validateFile(name, readFileSync(join(dir, name)), set.types);
      for (const p of result.problems) {
        expect(p.file).toBe(name);
        expect(p.message.length).toBeGreaterThan(5);
        // A problem of the whole file (bytes, size, encoding) has document 0; inside a document it has a line.
        if (p.document > 0) expect(p.line, `${name}: ${p.message}`).toBeGreaterThanOrEqual(1);
      }
    }
    const invalid = names.filter((n) => validateFile(n, readFileSync(join(dir, n)), set.types).problems.length > 0);
    // Most mutations break something; the sweep is only worth its time if they do.
    expect(invalid.length).toBeGreaterThan(names.length / 2);
  });

  it('split: finishes, and every file is either quarantined with its problems or split whole', async () => {
    expect(splitRun.code, splitRun.stderr.slice(-2000)).toBe(0);
    expect(manifest.files.map((f) => f.key.replace(/^incoming\//, '')).sort()).toEqual([...names].sort());
    const quarantined = manifest.files.filter((f) => f.status === 'quarantined');
    for (const f of quarantined) {
      expect(f.problems!.length, f.key).toBeGreaterThan(0);
      expect(f.problems![0]!.file).toBe(`s3://${env.S3_INBOX_BUCKET}/${f.key}`);
    }
    expect(manifest.files.every((f) => f.status === 'split' || f.status === 'quarantined')).toBe(true);
    expect(quarantined.length).toBeGreaterThan(names.length / 2);

    // What reached Kafka, per source file: nothing of a quarantined file, everything of a split one.
    const topics = (['Song', 'LyricLine', 'Artist', 'Meetup'] as RecordName[]).map((n) => topicOf(n, prefix));
    const bySource = new Map<string, Record<string, number>>();
    for (const r of await readTopics(topics)) {
      const counts = bySource.get(r.headers[HEADER.sourceKey]!) ?? {};
      counts[r.topic] = (counts[r.topic] ?? 0) + 1;
      bySource.set(r.headers[HEADER.sourceKey]!, counts);
    }
    for (const f of manifest.files) {
      if (f.status === 'quarantined') expect(bySource.get(f.key), `${f.key} was quarantined yet produced`).toBeUndefined();
      else expect(bySource.get(f.key) ?? {}, f.key).toEqual(Object.fromEntries(Object.entries(f.records).filter(([, n]) => n > 0)));
    }
  });
});
