import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSchemaSet } from '../../src/codec/schemas.js';
import { songId } from '../../src/model/ids.js';
import { recordsOf, referenceProblems, validateFile, type Problem } from '../../src/model/validate.js';
import { readYaml, readYamlFast } from '../../src/model/yaml.js';

const { types } = loadSchemaSet('avro');
const dir = 'test/fixtures/invalid';
const check = (name: string, bytes: Uint8Array | string) => validateFile(name, typeof bytes === 'string' ? Buffer.from(bytes) : bytes, types).problems;

// One row per fixture: the single problem it must produce (line, field path, words of the message).
const EXPECTED: Record<string, [line: number, path: string, message: RegExp]> = {
  'alias-bomb.yaml': [8, '', /more than 200000 values once aliases are expanded/],
  'bad-language-tag.yaml': [9, 'spec.language', /BCP-47 language tag/],
  'bad-slug.yaml': [4, 'metadata.name', /expected a slug/],
  'binary-nul.yaml': [3, '', /binary content \(a NUL byte\)/],
  'duplicate-key.yaml': [8, '', /duplicate key "title"/],
  'duplicate-song.yaml': [20, 'spec.title', /duplicate song .* already defined in document 1/],
  'empty-file.yaml': [1, '', /no documents/],
  'empty-section.yaml': [12, 'spec.lyrics.0.lines', /at least one line/],
  'featuring-self.yaml': [8, 'spec.featuring.0', /the song's own artist/],
  'flat-missing-singer.yaml': [1, 'singer', /^required$/],
  'impossible-release-date.yaml': [8, 'spec.releaseDate', /real date YYYY-MM-DD, got "2023-02-29"/],
  'line-too-long.yaml': [13, 'spec.lyrics.0.lines.0', /at most 400 characters/],
  'missing-title.yaml': [5, 'spec.title', /^required$/],
  'not-utf8.yaml': [6, '', /not valid UTF-8 \(byte 0xe9 at offset 96\)/],
  'section-by-stranger.yaml': [15, 'spec.lyrics.1.by', /neither the artist nor a featured artist/],
  'setlist-artist-not-performing.yaml': [59, 'spec.setlist.1.artist', /not among the meetup's performers/],
  'unknown-field.yaml': [5, 'spec', /unknown field "producer"/],
  'unknown-kind.yaml': [2, 'kind', /unknown kind "Album"/],
  'unknown-section-kind.yaml': [14, 'spec.lyrics.1.section', /expected one of intro, verse/],
  'wrong-api-version.yaml': [1, 'apiVersion', /expected "rap.dok.community\/v1"/],
  'yaml-syntax-error.yaml': [7, '', /YAML syntax/],
  'year-not-a-number.yaml': [7, 'spec.activeSince', /expected a year/],
};

describe('invalid fixtures: one precise problem each', () => {
  it('covers every file in the fixtures folder', () => {
    expect(readdirSync(dir).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('%s', (file, [line, path, message]) => {
    const problems = check(`${dir}/${file}`, readFileSync(`${dir}/${file}`));
    expect(problems).toHaveLength(1);
    const p = problems[0]!;
    expect({ file: p.file, line: p.line, path: p.path }).toEqual({ file: `${dir}/${file}`, line, path });
    expect(p.message).toMatch(message);
  });

  it('still finds exactly one problem per file when the folder is validated as one set', () => {
    const files = readdirSync(dir).map((f) => validateFile(`${dir}/${f}`, readFileSync(`${dir}/${f}`), types));
    const all: Problem[] = files.flatMap((f) => f.problems);
    expect(referenceProblems(files).problems).toEqual([]);
    const perFile = new Map<string, number>();
    for (const p of all) perFile.set(p.file, (perFile.get(p.file) ?? 0) + 1);
    expect([...perFile.values()].every((n) => n === 1)).toBe(true);
    expect(perFile.size).toBe(Object.keys(EXPECTED).length);
  });
});

const song = (extra = '', title = 'Ready Probe') => `apiVersion: rap.dok.community/v1
kind: Song
metadata:
  name: ready-probe
spec:
  title: "${title}"
  artist: "Fixture Fred"
  releaseDate: "2024-03-01"
  language: "en"${extra}
  lyrics:
    - section: verse
      lines:
        - "First line"
        - "Second line"
    - section: hook
      lines:
        - "Hook line"
`;

describe('every problem of a file, not just the first', () => {
  it('reports problems in several documents and fields together', () => {
    const text = `${song('\n  bpm: "fast"').replace('"2024-03-01"', '"2024-13-01"')}---\n${song('', 'Other').replace('kind: Song', 'kind: Sng')}`;
    const problems = check('multi.yaml', text);
    expect(problems.map((p) => [p.document, p.path])).toEqual([
      [1, 'spec.releaseDate'],
      [1, 'spec.bpm'],
      [2, 'kind'],
    ]);
  });
});

describe('hostile and surprising input', () => {
  it('keeps YAML 1.1 surprises as the strings the author wrote', () => {
    const f = validateFile('surprise.yaml', Buffer.from(song().replace('"Ready Probe"', 'no').replace('"First line"', 'on').replace('"Second line"', '1e3')), types);
    expect(f.problems).toEqual([]);
    const records = recordsOf(f);
    expect(records.songs[0]!.title).toBe('no');
    expect(records.lines.map((l) => l.text)).toEqual(['on', '1e3', 'Hook line']);
  });

  it('accepts bare (unquoted) dates as text', () => {
    const f = validateFile('bare-date.yaml', Buffer.from(song().replace('"2024-03-01"', '2024-03-01')), types);
    expect(f.problems).toEqual([]);
    expect(recordsOf(f).songs[0]!.releaseDate).toBe('2024-03-01');
  });

  it('reads a UTF-8 BOM and CRLF line ends the same as plain LF', () => {
    const plain = validateFile('lf.yaml', Buffer.from(song()), types);
    const crlf = validateFile('crlf.yaml', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(song().replace(/\n/g, '\r\n'))]), types);
    expect(crlf.problems).toEqual([]);
    expect(recordsOf(crlf)).toEqual(recordsOf(plain));
    expect(check('crlf-bad.yaml', song().replace('"2024-03-01"', '"2024-02-30"').replace(/\n/g, '\r\n'))[0]!.line).toBe(8);
  });

  it('refuses deep nesting with a position', () => {
    const deep = `${song()}---\napiVersion: rap.dok.community/v1\nkind: Artist\nmetadata:\n  name: deep\nspec:\n  name: "Deep"\n  bio: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
    const problems = check('deep.yaml', deep);
    expect(problems).toHaveLength(1);
    const line = deep.split('\n').findIndex((l) => l.includes('[[[')) + 1;
    expect(problems[0]).toMatchObject({ line, message: expect.stringMatching(/nested deeper than 32 levels/) as unknown });
  });

  it('refuses a file over the size limit before parsing it', () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x61);
    const problems = check('big.yaml', big);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/file is 5242880 bytes, more than the limit of 4194304/);
  });

  it('refuses a huge single line by the line-length rule, naming the line', () => {
    const huge = song().replace('"First line"', `"${'la '.repeat(1_000_000)}"`);
    const problems = check('huge-line.yaml', huge);
    expect(problems.map((p) => [p.line, p.path])).toEqual([[13, 'spec.lyrics.0.lines.0']]);
    expect(problems[0]!.message).toMatch(/at most 400 characters/);
  });

  it('refuses a self-referencing alias', () => {
    const problems = check('loop.yaml', `apiVersion: rap.dok.community/v1\nkind: Artist\nmetadata:\n  name: loop\nspec: &s\n  name: "Loop"\n  bio: *s\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/alias|anchor/);
  });
});

describe('the flat legacy format', () => {
  const flat = `singer: "Kube Kid"
collaborated_artists:
  - artist: "Helm Hustler"
song_name: "Old School Cron"
album: "Before Operators"
date_of_release: "2016-09-01"
lyrics: |
  [Verse]
  Cron ran the jobs
  before we had pods

  [Hook]
  Old school, old school
`;

  it('converts to a v1 song with sections from stanza markers', () => {
    const f = validateFile('flat.yaml', Buffer.from(flat), types);
    expect(f.problems).toEqual([]);
    const { songs, lines } = recordsOf(f);
    expect(songs[0]).toMatchObject({
      id: songId('Kube Kid', 'Old School Cron'),
      slug: 'old-school-cron',
      featuring: ['Helm Hustler'],
      language: 'und',
      sourceFormat: 'FLAT_LEGACY',
      sections: [
        { index: 0, kind: 'VERSE', firstLine: 1, lineCount: 2 },
        { index: 1, kind: 'HOOK', firstLine: 3, lineCount: 1 },
      ],
    });
    expect(lines.map((l) => [l.lineNumber, l.section, l.text])).toEqual([
      [1, 'VERSE', 'Cron ran the jobs'],
      [2, 'VERSE', 'before we had pods'],
      [3, 'HOOK', 'Old school, old school'],
    ]);
  });
});

describe('the fast path and the careful reader agree', () => {
  const dataFiles = readdirSync('data').filter((f) => f.endsWith('.yaml'));

  it.each(dataFiles)('on data/%s', (f) => {
    const bytes = readFileSync(`data/${f}`);
    expect(readYamlFast(bytes)).toEqual(readYaml(bytes).documents.map((d) => d.value));
  });

  it('on nulls, empty values, quoted nulls and YAML 1.1 look-alikes', () => {
    const text = 'a: ~\nb:\nc: null\nd: "null"\ne: no\nf: 1e3\ng: 2024-01-01\nh: [x, "~", \'y\']\n';
    expect(readYamlFast(Buffer.from(text))).toEqual(readYaml(Buffer.from(text)).documents.map((d) => d.value));
  });

  it.each([
    ['anchors and aliases', 'a: &x [1]\nb: *x\n'],
    ['a duplicate key', 'a: 1\na: 2\n'],
    ['a tag', 'a: !custom 1\n'],
    ['bad bytes', Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a])],
  ])('hands %s to the careful reader', (_what, input) => {
    expect(readYamlFast(typeof input === 'string' ? Buffer.from(input) : input)).toBeUndefined();
  });
});
