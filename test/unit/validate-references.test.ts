// One meaning of "invalid" in validate, run and split: a file with problems of its own, which split
// quarantines. A song whose artist is in another file (or ingested already) is not invalid: split
// accepts it, so validate lists it as a reference outside the files, and run counts it as such.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesLine, validationSummary } from '../../src/cli/commands/validate.js';
import { loadSchemaSet } from '../../src/codec/schemas.js';
import { validateFile } from '../../src/model/validate.js';
import { validateSources, validationCounts } from '../../src/pipeline/validate.js';
import { LocalSource } from '../../src/source/local.js';

const { types } = loadSchemaSet('avro');

const dir = mkdtempSync(join(tmpdir(), 'rapflow-references-'));
// The sample artist and one of its songs; a song by an artist these files do not hold; an invalid file.
writeFileSync(join(dir, 'a-artist.yaml'), readFileSync('data/artists.yaml'));
writeFileSync(join(dir, 'b-song.yaml'), readFileSync('data/songs-lil-sidecar.yaml'));
writeFileSync(join(dir, 'c-elsewhere.yaml'), readFileSync('test/fixtures/references/unknown-artist.yaml'));
writeFileSync(join(dir, 'd-broken.yaml'), readFileSync('test/fixtures/invalid/impossible-release-date.yaml'));

describe('a set with a song whose artist is in none of its files', () => {
  it('calls invalid exactly the files split would quarantine', async () => {
    const { report } = await validateSources([new LocalSource(dir)], types);
    for (const f of report.files) {
      // What split decides for each file alone (src/pipeline/encode.ts): invalid when it has problems of its own.
      const splitWouldQuarantine = validateFile(f.file, readFileSync(f.file), types).problems.length > 0;
      expect(!f.valid, f.file).toBe(splitWouldQuarantine);
    }
    expect(report.files.filter((f) => !f.valid).map((f) => f.file)).toEqual([join(dir, 'd-broken.yaml')]);
  });

  it('lists the reference apart, with file, document, line and field', async () => {
    const { report } = await validateSources([new LocalSource(dir)], types);
    const elsewhere = report.files.find((f) => f.file.endsWith('c-elsewhere.yaml'))!;
    expect(elsewhere.valid).toBe(true);
    expect(elsewhere.problems).toEqual([]);
    expect(elsewhere.references).toHaveLength(1);
    expect(elsewhere.references[0]).toMatchObject({ file: join(dir, 'c-elsewhere.yaml'), document: 2, line: 14, path: 'spec.artist' });
    expect(elsewhere.references[0]!.message).toMatch(/^artist "Nobody Known" is not in these files/);
  });

  it('is counted and said the same way by validate and run', async () => {
    const { report } = await validateSources([new LocalSource(dir)], types);
    const counts = validationCounts(report);
    expect(counts).toMatchObject({ files: 4, invalid: 1, withReferences: 1 });
    expect(report.valid).toBe(false);
    expect(filesLine(counts)).toBe('4 validated (1 invalid, 1 with references outside these files)');
    expect(validationSummary(counts)).toBe(
      `4 files, ${counts.documents} valid documents: 1 invalid file, 1 problem; 1 file with references outside these files (not invalid: split accepts them)`,
    );
  });

  it('without the invalid file, is valid (validate exits 0) and still names the reference', async () => {
    const { report } = await validateSources([new LocalSource(join(dir, 'a-artist.yaml')), new LocalSource(join(dir, 'c-elsewhere.yaml'))], types);
    const counts = validationCounts(report);
    expect(report.valid).toBe(true);
    expect(filesLine(counts)).toBe('2 validated (0 invalid, 1 with references outside these files)');
    expect(validationSummary(counts)).toBe(`2 files, ${counts.documents} documents: all valid; 1 file with references outside these files (not invalid: split accepts them)`);
  });

  it('says what it always said when nothing points outside the files', async () => {
    const { report } = await validateSources([new LocalSource('data')], types);
    const counts = validationCounts(report);
    expect(filesLine(counts)).toBe('13 validated (0 invalid)');
    expect(validationSummary(counts)).toBe('13 files, 48 documents: all valid');
  });
});
