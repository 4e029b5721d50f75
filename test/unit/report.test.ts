// The report's numbers and page from known rows (pure; the browser test is in test/integration/run.test.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSchemaSet } from '../../src/codec/schemas.js';
import { recordsOf, validateFile } from '../../src/model/validate.js';
import { wordsOf } from '../../src/read/words.js';
import { buildReport, LineStats } from '../../src/report/build.js';
import { chartSpecs, renderCharts } from '../../src/report/charts.js';
import { esc, renderHtml } from '../../src/report/html.js';
import { count } from '../../src/plural.js';

const set = loadSchemaSet('avro');
const sets = ['data/artists.yaml', 'data/songs-helm-hustler.yaml', 'data/songs-lil-sidecar.yaml'].map((f) => recordsOf(validateFile(f, readFileSync(f), set.types)));
const artists = sets.flatMap((s) => s.artists);
const songs = sets.flatMap((s) => s.songs);
const lines = sets.flatMap((s) => s.lines);

function report() {
  const stats = new LineStats();
  for (const l of lines) stats.add(l);
  return buildReport({
    generatedAt: '2026-11-25T00:00:00Z',
    manifests: [],
    artists,
    songs,
    lineStats: stats,
    meetups: [],
    quarantine: [{ file: 's3://b/<bad>.yaml', runId: 'r', quarantinedAt: '2026-11-25T00:00:00Z', problems: [{ message: 'spec.title: <required>', line: 3 }] }],
    deadLetters: [],
    lyrics: songs.slice(0, 2).map((song) => ({ song, lines: lines.filter((l) => l.songId === song.id) })),
  });
}

describe('report', () => {
  it('counts words per artist and overall from the lines', () => {
    const d = report();
    const sidecar = d.artists.find((a) => a.name === 'Lil Sidecar')!;
    const own = lines.filter((l) => songs.find((s) => s.id === l.songId)!.artist === 'Lil Sidecar');
    expect(sidecar).toMatchObject({ songs: 3, lines: own.length, words: own.reduce((n, l) => n + wordsOf(l.text).length, 0) });
    expect(d.counts.rows).toMatchObject({ songs: 6, lyricLines: lines.length });
    expect(d.topWords.every((w, i) => i === 0 || d.topWords[i - 1]!.count >= w.count)).toBe(true);
    expect(d.topWords.map((w) => w.word)).not.toContain('the');
    expect(d.timeline.reduce((n, t) => n + t.songs, 0)).toBe(6);
    expect(d.structure.hookShare).toBeGreaterThan(0);
    expect(d.structure.sections.reduce((n, s) => n + s.lines, 0)).toBe(lines.length);
  });

  it('words are found in any script, case-folded', () => {
    expect(wordsOf('Κάτω από τα Pods, ПОДИ и ポッド!')).toEqual(['κάτω', 'από', 'τα', 'pods', 'поди', 'и', 'ポッド']);
  });

  it('escapes the five HTML characters and leaves data markup inert', async () => {
    expect(esc(`<a href="x" onclick='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    const d = report();
    const html = renderHtml(d, await renderCharts(d));
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('Dropped &lt;script&gt;alert(&quot;boo&quot;)&lt;/script&gt; in the chart&#39;s NOTES.txt');
    expect(html).toContain('s3://b/&lt;bad&gt;.yaml');
    expect(html).toContain("default-src &#39;none&#39;");
  });

  it('draws a chart per insight as SVG', async () => {
    const d = report();
    expect(chartSpecs(d).map((c) => c.id)).toEqual(['artists', 'words', 'timeline', 'structure', 'languages']);
    const charts = await renderCharts(d);
    for (const c of charts) expect(c.svg, c.id).toMatch(/^<svg[\s\S]*<path[\s\S]*<\/svg>$/);
  });
});

describe('counts agree in number', () => {
  it.each([
    [0, '0 files', 'every record of the 0 files'],
    [1, '1 file', 'every record of the file'],
    [13, '13 files', 'every record of the 13 files'],
  ])('%i: %s', (n, counted, reconciled) => {
    expect(count(n, 'file')).toBe(counted);
    const page = renderHtml({ ...report(), verify: { ok: true, files: n, mismatched: [], totals: {} } }, []);
    expect(page).toContain(`Reconciled: ${reconciled} is a row`);
  });

  it.each([
    [1, 1, '1 of 1 file does not reconcile'],
    [1, 3, '1 of 3 files does not reconcile'],
    [2, 3, '2 of 3 files do not reconcile'],
  ])('%i of %i mismatched: %s', (bad, files, text) => {
    const mismatched = Array.from({ length: bad }, (_, i) => ({ file: `f${i}`, differences: ['x'] }));
    expect(renderHtml({ ...report(), verify: { ok: false, files, mismatched, totals: {} } }, [])).toContain(text);
  });

  it('names irregular plurals as given', () => {
    expect(count(1, 'retried batch', 'retried batches')).toBe('1 retried batch');
    expect(count(2, 'retried batch', 'retried batches')).toBe('2 retried batches');
  });
});

describe('most-used words leave out the function words of each song\'s language', () => {
  const line = (songId: string, text: string, n = 1) => ({ songId, lineNumber: n, id: `${songId}-${n}`, sectionIndex: 0, section: 'verse', performer: 'A', text });
  const lang: Record<string, string> = { fr: 'fr', es: 'es', pt: 'pt-BR', en: 'en' };

  it('French, Spanish, Portuguese and English songs each lose their own function words (and English ones)', () => {
    const stats = new LineStats((id) => lang[id]);
    stats.add(line('fr', 'les nuits de la ville et le rythme'));
    stats.add(line('es', 'las noches de la ciudad y el ritmo'));
    stats.add(line('pt', 'as noites da cidade e o ritmo não param'));
    stats.add(line('en', 'the nights of the city and the rhythm'));
    // A French song switching into English loses the English function words too; 'les' in an English song is a word.
    stats.add(line('fr', 'the ville'));
    stats.add(line('en', 'les'));
    const counted = [...stats.wordCounts.keys()].sort();
    expect(counted).toEqual(['cidade', 'city', 'ciudad', 'les', 'nights', 'noches', 'noites', 'nuits', 'param', 'rhythm', 'ritmo', 'rythme', 'ville'].sort());
    expect(stats.wordCounts.get('ritmo')).toBe(2);
  });

  it('a language without a list still loses English function words and the fillers of rap lyrics', () => {
    const stats = new LineStats(() => 'xx');
    stats.add(line('s', 'yo yeah the beat drops'));
    expect([...stats.wordCounts.keys()].sort()).toEqual(['beat', 'drops']);
  });
});
