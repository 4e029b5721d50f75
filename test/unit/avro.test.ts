import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  incompatibility,
  loadSchemaDir,
  loadSchemaSet,
  NAMESPACE,
  parseType,
  RECORD_NAMES,
  valueProblems,
} from '../../src/codec/schemas.js';

const avroDir = fileURLToPath(new URL('../../avro/', import.meta.url));
const current = loadSchemaSet(avroDir);

const song = {
  id: '3f1d1d2e-7c2b-5a8e-9f00-0c7a2b1d9e11',
  slug: 'etcd-never-forgets',
  title: 'Etcd Never Forgets',
  artistId: '6b0c5b1a-2d3e-5f40-8a9b-1c2d3e4f5a6b',
  artist: 'Zoë Quorum',
  featuring: ['Helm Hustler'],
  album: null,
  releaseDate: '2024-02-29',
  language: 'en',
  tags: ['etcd', '☸️'],
  sections: [{ index: 0, kind: 'VERSE', performer: 'Zoë Quorum', firstLine: 1, lineCount: 2 }],
  lineCount: 2,
  bpm: 92,
  sourceFormat: 'RAP_AS_CODE_V1',
};

describe('avro/ datamodel', () => {
  const defs = loadSchemaDir(avroDir);

  it('has every record the pipeline needs, namespaced io.dok.rap', () => {
    expect([...current.types.keys()].sort()).toEqual([...RECORD_NAMES].sort());
    for (const name of defs.keys()) expect(name.startsWith(`${NAMESPACE}.`)).toBe(true);
  });

  it('documents every record, enum and field', () => {
    const missing: string[] = [];
    const walk = (node: unknown, where: string) => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}[${i}]`));
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if ((o.type === 'record' || o.type === 'enum') && typeof o.doc !== 'string') missing.push(`${where} ${String(o.name)}`);
      if (Array.isArray(o.fields)) {
        for (const f of o.fields as Record<string, unknown>[]) {
          if (typeof f.doc !== 'string' || f.doc.length < 5) missing.push(`${where}.${String(f.name)}`);
          walk(f.type, `${where}.${String(f.name)}`);
        }
      }
      if (o.items) walk(o.items, where);
    };
    for (const [name, def] of defs) walk(def, name);
    expect(missing).toEqual([]);
  });

  it('round-trips a song losslessly, Unicode included', () => {
    const type = current.types.get('Song')!;
    expect(type.fromBuffer(type.toBuffer(song))).toEqual(song);
  });
});

describe('value validation with paths', () => {
  const type = current.types.get('Song')!;
  it.each([
    ['a date that does not exist', { ...song, releaseDate: '2023-02-29' }, 'releaseDate', 'a date YYYY-MM-DD'],
    ['an id that is not a UUID', { ...song, id: 'song-1' }, 'id', 'a UUID'],
    ['an unknown section kind', { ...song, sections: [{ ...song.sections[0], kind: 'SKIT' }] }, 'sections.0.kind', 'one of INTRO, VERSE'],
    ['a number where a string belongs', { ...song, title: 1000 }, 'title', 'a string'],
    ['a string where an int belongs', { ...song, bpm: '92' }, 'bpm', 'a null or an int'],
  ])('names the path of %s', (_what, value, path, expected) => {
    const problems = valueProblems(type, value);
    expect(problems.map((p) => p.path)).toEqual([path]);
    expect(problems[0]!.expected).toContain(expected);
  });

  it('reports every bad value, not only the first', () => {
    expect(valueProblems(type, { ...song, title: null, language: 7 }).map((p) => p.path).sort()).toEqual(['language', 'title']);
  });
});

describe('schema evolution', () => {
  const history = loadSchemaSet(fileURLToPath(new URL('../../avro/history/', import.meta.url)), '.v1.avsc');
  const v1 = history.types.get('Song')!;
  const v2 = current.types.get('Song')!;

  it('every current schema reads data written with every released version (BACKWARD, transitive)', () => {
    for (const [name, writer] of history.types) {
      expect(incompatibility(current.types.get(name)!, writer), name).toBeUndefined();
    }
  });

  it('a v1 writer and a v2 reader: the new field takes its default', () => {
    const asV1: Partial<typeof song> = { ...song };
    delete asV1.bpm;
    const read = v2.createResolver(v1);
    expect(v2.fromBuffer(v1.toBuffer(asV1), read)).toEqual({ ...asV1, bpm: null });
  });

  it('a v2 writer and a v1 reader: the new field is skipped', () => {
    const asV1: Partial<typeof song> = { ...song };
    delete asV1.bpm;
    const read = v1.createResolver(v2);
    expect(v1.fromBuffer(v2.toBuffer(song), read)).toEqual(asV1);
  });

  it('detects an incompatible change: a new field without a default', () => {
    const broken = structuredClone(current.bundled.get('Song')!) as { fields: unknown[] };
    broken.fields.push({ name: 'label', type: 'string', doc: 'Record label.' });
    expect(incompatibility(parseType(broken as never), v1)).toMatch(/label/);
  });
});
