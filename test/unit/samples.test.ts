import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSchemaSet } from '../../src/codec/schemas.js';
import { generateCorpus } from '../../src/model/generate.js';
import { songId } from '../../src/model/ids.js';
import { recordsOf, referenceProblems, validateFile } from '../../src/model/validate.js';

const { types } = loadSchemaSet('avro');
const files = readdirSync('data')
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => validateFile(join('data', f), readFileSync(join('data', f)), types));
const all = files.map(recordsOf);
const records = {
  Song: all.flatMap((r) => r.songs),
  LyricLine: all.flatMap((r) => r.lines),
  Artist: all.flatMap((r) => r.artists),
  Meetup: all.flatMap((r) => r.meetups),
};

describe('sample data in data/', () => {
  it('is valid, references included', () => {
    expect(files.flatMap((f) => f.problems)).toEqual([]);
    expect(referenceProblems(files).problems).toEqual([]);
  });

  it('has at least 30 songs, 10 artists and 5 meetups, with Unicode beyond Latin', () => {
    expect(records.Song.length).toBeGreaterThanOrEqual(30);
    expect(records.Artist.length).toBeGreaterThanOrEqual(10);
    expect(records.Meetup.length).toBeGreaterThanOrEqual(5);
    const text = records.LyricLine.map((l) => l.text).join('\n');
    expect(text).toMatch(/[\u0370-\u03ff]|[\u0400-\u04ff]|[\u3040-\u30ff]|[\u0900-\u097f]/u); // Greek, Cyrillic, kana, Devanagari
    expect(text).toMatch(/\p{Extended_Pictographic}/u);
    expect(text).toMatch(/[àâçéèêëîïôûùüÿñæœãõ]/u);
  });

  it.each(Object.entries(records))('round-trips every %s through Avro losslessly', (name, list) => {
    const type = types.get(name as 'Song')!;
    for (const r of list) expect(type.fromBuffer(type.toBuffer(r))).toEqual(r);
  });

  it('gives every line a distinct id and numbers lines from 1 within each song', () => {
    expect(new Set(records.LyricLine.map((l) => l.id)).size).toBe(records.LyricLine.length);
    for (const song of records.Song) {
      const lines = records.LyricLine.filter((l) => l.songId === song.id).map((l) => l.lineNumber);
      expect(lines).toEqual(Array.from({ length: song.lineCount }, (_, i) => i + 1));
    }
  });

  it('keeps setlists pointing at real songs by id', () => {
    const ids = new Set(records.Song.map((s) => s.id));
    for (const m of records.Meetup) for (const e of m.setlist) expect(ids.has(e.songId), `${m.title}: ${e.title}`).toBe(true);
    expect(records.Meetup[0]!.setlist[0]!.songId).toBe(songId(records.Meetup[0]!.setlist[0]!.artist, records.Meetup[0]!.setlist[0]!.title));
  });
});

describe('generateCorpus', () => {
  const gen = (seed: number) => [...generateCorpus({ songs: 25, seed, linesPerSong: 12, songsPerFile: 10 })];

  it('is deterministic for a seed and differs between seeds', () => {
    expect(gen(3)).toEqual(gen(3));
    expect(gen(3).map((f) => f.content)).not.toEqual(gen(4).map((f) => f.content));
  });

  it('writes valid Rap-as-Code with the requested counts', () => {
    const out = gen(5);
    expect(out.map((f) => f.name)).toEqual(['artists.yaml', 'songs-00001.yaml', 'songs-00002.yaml', 'songs-00003.yaml']);
    const validated = out.map((f) => validateFile(f.name, Buffer.from(f.content), types));
    expect(validated.flatMap((f) => f.problems)).toEqual([]);
    expect(referenceProblems(validated).problems).toEqual([]);
    expect(validated.reduce((n, f) => n + recordsOf(f).lines.length, 0)).toBe(25 * 12);
  });
});
