// The main job end to end (`rapflow run`), then everything that reads the data back: verify, query, report.
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artistId, songId } from '../../src/model/ids.js';
import type { ReportData } from '../../src/report/build.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { rapflow } from './cli.js';
import { config, dropIsolated, isolatedEnv, testStack } from './stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const tmp = mkdtempSync(join(tmpdir(), 'rapflow-run-'));
const env = isolatedEnv('run');
const prefix = env.KAFKA_TOPIC_PREFIX;
const out = join(tmp, 'out');
const manifest = join(out, 'manifest.json');
const cql = new CqlSession({ ...config.cassandra, keyspace: env.CASSANDRA_KEYSPACE });
let first = { code: -1, stdout: '', stderr: '' };
// The main job writes through Stargate when the stack has a coordinator, and says so either way.
const viaStargate = (await testStack().status(['stargate']))[0]?.state === 'up';

/** The sample data plus one file written to attack the report: markup in names, titles and lyrics. */
export const HOSTILE = `apiVersion: rap.dok.community/v1
kind: Artist
metadata:
  name: xss-crew
spec:
  name: "<img src=x onerror=\\"document.title='pwned'\\">Crew"
  origin: "<b>Nowhere</b>"
  genres: ["trap"]
---
apiVersion: rap.dok.community/v1
kind: Song
metadata:
  name: inject
spec:
  title: "</title><script>document.title='pwned'</script>"
  artist: "<img src=x onerror=\\"document.title='pwned'\\">Crew"
  releaseDate: "2025-06-01"
  language: "en"
  lyrics:
    - section: verse
      lines:
        - "<script>document.title='pwned'</script> sanitize your inputs"
        - "<iframe src=javascript:alert(1)></iframe> and escape your outputs"
        - "a line with & and \\"quotes\\" and 'single' ones"
`;

const countRows = async () => {
  const n = async (t: string) => Number((await cql.execute(`SELECT count(*) FROM ${env.CASSANDRA_KEYSPACE}.${t}`)).first().get(0));
  return { songs: await n('songs'), lines: await n('lyric_lines'), artists: await n('artists'), meetups: await n('meetups'), byArtist: await n('songs_by_artist') };
};

describe('rapflow run, verify, query, report', () => {
  const data = join(tmp, 'data');
  beforeAll(async () => {
    cpSync('data', data, { recursive: true });
    writeFileSync(join(data, 'zz-hostile.yaml'), HOSTILE);
    writeFileSync(join(data, 'zz-broken.yaml'), 'apiVersion: rap.dok.community/v1\nkind: Song\nmetadata:\n  name: broken\nspec:\n  title: "No artist here"\n');
    first = await rapflow(['run', '--data', data, '--out', out], env);
    await cql.connect();
  });

  afterAll(async () => {
    await cql.close();
    await dropIsolated(env);
  });

  it('runs the whole pipeline and prints the summary', () => {
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('files:      15 validated (1 invalid), 15 uploaded, 15 new, 0 already ingested');
    expect(first.stdout).toContain('split:      14 split, 1 quarantined');
    expect(first.stdout).toContain('quality:    1 file in quarantine, 0 dead-lettered records');
    expect(first.stdout).toContain(`${prefix}rap.songs 34`);
    expect(first.stdout).toContain(`${prefix}rap.lyrics 489`);
    expect(first.stdout).toContain('consume:    539 records read, 539 written, 0 dead-lettered');
    expect(first.stdout).toContain(
      viaStargate
        ? 'path:       writes through Stargate (REST v2 rows, Document API documents), reads through Stargate REST'
        : 'path:       writes over CQL, reads over CQL; Stargate not installed, so not used',
    );
    expect(first.stdout).toContain('verify:     ok, 15 files reconciled');
    expect(first.stdout).toContain('tables:     11 artists, 34 songs, 489 lyric lines, 5 meetups');
    expect(first.stdout).toMatch(/time: .*split \d+\.\d s.*verify \d+\.\d s.*report \d+\.\d s/);
    expect(existsSync(join(out, 'report', 'report.html'))).toBe(true);
  });

  it('is idempotent: a second run ingests nothing and duplicates nothing', async () => {
    const before = await countRows();
    expect(before).toEqual({ songs: 34, lines: 489, artists: 11, meetups: 5, byArtist: 34 });
    const again = await rapflow(['run', '--data', data, '--out', join(tmp, 'again')], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('0 new, 15 already ingested');
    expect(again.stdout).toContain('records:    none (nothing new)');
    expect(await countRows()).toEqual(before);
  });

  it('query: songs by artist, newest first, paged', async () => {
    const all = await rapflow(['query', 'songs', '--artist', 'Lil Sidecar', '--json'], env);
    expect(all.code, all.stderr).toBe(0);
    const rows = (JSON.parse(all.stdout) as { rows: { title: string; releaseDate: string }[] }).rows;
    expect(rows.map((r) => r.title)).toEqual(['Trace ID', 'Cardinality Crisis', 'Golden Signals']);

    const page1 = JSON.parse((await rapflow(['query', 'songs', '--artist', 'lil sidecar', '--limit', '2', '--page-size', '1', '--json'], env)).stdout) as { rows: { title: string }[]; next: string };
    expect(page1.rows.map((r) => r.title)).toEqual(['Trace ID', 'Cardinality Crisis']);
    expect(page1.next).toMatch(/^[0-9a-f]+$/);
    const page2 = JSON.parse((await rapflow(['query', 'songs', '--artist', 'Lil Sidecar', '--page', page1.next, '--json'], env)).stdout) as { rows: { title: string }[]; next?: string };
    expect(page2.rows.map((r) => r.title)).toEqual(['Golden Signals']);
    expect(page2.next).toBeUndefined();

    const missing = await rapflow(['query', 'songs', '--artist', 'Sidecar'], env);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain('no artist named "Sidecar"; did you mean "Lil Sidecar"?');
  });

  it('query: one song with its lyrics in order', async () => {
    const r = await rapflow(['query', 'song', '--artist', 'Lil Sidecar', '--title', 'Golden Signals', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const song = JSON.parse(r.stdout) as { id: string; lines: { lineNumber: number; text: string }[] };
    expect(song.id).toBe(songId('Lil Sidecar', 'Golden Signals'));
    expect(song.lines.map((l) => l.lineNumber)).toEqual(song.lines.map((_, i) => i + 1));
    expect(song.lines[0]!.text).toBe('(soft) fifteen-second scrape interval... breathe in');
    expect(song.lines[1]!.text).toBe('Latency, traffic, errors, saturation');
    const text = await rapflow(['query', 'song', '--id', song.id], env);
    expect(text.stdout.split('\n').slice(0, 2)).toEqual(['Golden Signals - Lil Sidecar', '2022-02-08, Scrape Interval, 13 lines']);
  });

  it('query: lines containing a word, across the table or within an artist', async () => {
    const r = await rapflow(['query', 'lines', '--word', 'SCRIPT', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const hits = JSON.parse(r.stdout) as { artist: string; text: string }[];
    expect(hits.map((h) => h.text).sort()).toEqual([
      'Dropped <script>alert("boo")</script> in the chart\'s NOTES.txt',
      "<script>document.title='pwned'</script> sanitize your inputs",
    ].sort());
    const own = JSON.parse((await rapflow(['query', 'lines', '--word', 'script', '--artist', 'Helm Hustler', '--json'], env)).stdout) as { artist: string }[];
    expect(own.map((h) => h.artist)).toEqual(['Helm Hustler']);
  });

  it('query: a meetup setlist, in order', async () => {
    const r = await rapflow(['query', 'setlist', '--meetup', 'On-Call Open Mic', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const { setlist } = JSON.parse(r.stdout) as { setlist: { position: number; artist: string; title: string; inCatalogue: boolean }[] };
    expect(setlist.map((e) => e.position)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(setlist[1]).toMatchObject({ artist: 'Lil Sidecar', title: 'Golden Signals', inCatalogue: true });
  });

  it('verify passes after the run, and fails naming file and counts when rows vanish behind its back', async () => {
    const ok = await rapflow(['verify', '--manifest', manifest], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('verified 15 files');

    const golden = songId('Lil Sidecar', 'Golden Signals');
    await cql.execute(`DELETE FROM ${env.CASSANDRA_KEYSPACE}.lyric_lines WHERE song_id = ? AND line_number IN (4, 5)`, [golden], { prepare: true });
    await cql.execute(`DELETE FROM ${env.CASSANDRA_KEYSPACE}.songs_by_artist WHERE artist_id = ?`, [artistId('DJ PVC')], { prepare: true });
    const bad = await rapflow(['verify', '--manifest', manifest, '--json'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/VERIFY_MISMATCH|do not reconcile/);
    expect(bad.stderr).toContain('incoming/songs-lil-sidecar.yaml');
    const report = JSON.parse(bad.stdout) as { files: { key: string; status: string; differences: string[] }[] };
    const sidecar = report.files.find((f) => f.key.endsWith('songs-lil-sidecar.yaml'))!;
    expect(sidecar.status).toBe('mismatch');
    expect(sidecar.differences).toEqual(['lyric_lines: 39 expected, 37 found, 2 missing (line "Golden Signals" 4, line "Golden Signals" 5)']);
    const pvc = report.files.find((f) => f.key.endsWith('songs-dj-pvc.yaml'))!;
    expect(pvc.differences[0]).toMatch(/^songs_by_artist: 3 expected, 0 found, 3 missing/);
    expect(report.files.filter((f) => f.status === 'mismatch')).toHaveLength(2);
  });

  it('report: JSON with counts and insights, the HTML with every value escaped', () => {
    const data = JSON.parse(readFileSync(join(out, 'report', 'report.json'), 'utf8')) as ReportData;
    expect(data.counts.rows).toMatchObject({ artists: 11, songs: 34, lyricLines: 489, meetups: 5 });
    expect(data.verify).toMatchObject({ ok: true, files: 15 });
    expect(data.quarantine).toHaveLength(1);
    expect(data.quarantine[0]!.file).toMatch(/zz-broken\.yaml$/);
    expect(data.quarantine[0]!.problems[0]).toMatchObject({ path: 'spec.artist', message: 'required' });
    expect(data.artists.find((a) => a.name === 'Lil Sidecar')).toMatchObject({ songs: 3, lines: 39 });
    expect(data.topWords.length).toBe(25);
    expect(data.structure.sections.map((s) => s.kind)).toContain('hook');
    expect(data.schemas.map((s) => s.topic).sort()).toEqual([`${prefix}rap.artists`, `${prefix}rap.lyrics`, `${prefix}rap.meetups`, `${prefix}rap.songs`]);
    const html = readFileSync(join(out, 'report', 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script|<iframe|<img/i);
    expect(html).toContain('&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; sanitize your inputs');
  });

  // A real browser (Debian's Chromium through playwright-core): what a reader sees, and that nothing in the data runs.
  it('report: renders its charts in Chromium, shows markup in the data as text, runs none of it', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium package`).toBe(true);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const requests: string[] = [];
      const problems: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
      const file = join(out, 'report', 'report.html');
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

      // Every chart drew marks, with labels from the data.
      const charts = page.locator('figure.chart');
      expect(await charts.count()).toBe(5);
      for (const id of ['artists', 'words', 'timeline', 'structure', 'languages']) {
        const marks = await page.locator(`#chart-${id} svg .role-mark path`).count();
        expect(marks, `chart ${id} has no marks`).toBeGreaterThan(0);
      }
      await expect.poll(() => page.locator('#chart-artists svg').textContent()).toContain('Lil Sidecar');
      const box = await page.locator('#chart-timeline svg').boundingBox();
      expect(box!.width).toBeGreaterThan(300);

      // Hostile values are text on the page, never elements or code.
      await page.locator('#lyrics summary', { hasText: "</title><script>document.title='pwned'</script>" }).click();
      await expect.poll(() => page.getByText("<script>document.title='pwned'</script> sanitize your inputs", { exact: true }).isVisible()).toBe(true);
      await expect.poll(() => page.getByText('<iframe src=javascript:alert(1)></iframe> and escape your outputs', { exact: true }).isVisible()).toBe(true);
      expect(await page.locator('#artists td', { hasText: '<img src=x onerror="document.title=\'pwned\'">Crew' }).count()).toBe(1);
      expect(await page.locator('script, iframe, img').count()).toBe(0);
      expect(await page.title()).toBe('rapflow report');
      expect(await page.locator('#lyrics b').count()).toBe(0);

      // Self-contained: the page itself is the only request; no error, no dialog.
      expect(requests).toEqual([pathToFileURL(file).href]);
      expect(problems).toEqual([]);

      // Every chart fits its card at common desktop widths, and on a phone-width window the page
      // does not scroll sideways: a chart keeps its drawn size (readable) and scrolls in its card.
      await page.locator('#lyrics summary').first().click(); // close the song opened above
      for (const width of [1280, 1920, 390]) {
        await page.setViewportSize({ width, height: 1000 });
        // Run in the page (a string, as this project compiles without the DOM's types).
        const fit = await page.evaluate<{ page: number; charts: { id: string; overflow: number; drawn: number; shown: number }[] }>(`({
          page: document.documentElement.scrollWidth - window.innerWidth,
          charts: [...document.querySelectorAll('figure.chart')].map((f) => {
            const svg = f.querySelector('svg');
            return { id: f.id, overflow: f.scrollWidth - f.clientWidth, drawn: Number(svg.getAttribute('width')), shown: svg.getBoundingClientRect().width };
          }),
        })`);
        expect(fit.page, `the page scrolls sideways at ${width} px`).toBeLessThanOrEqual(0);
        for (const c of fit.charts) {
          if (width >= 1280) expect(c.overflow, `${c.id} is wider than its card at ${width} px`).toBeLessThanOrEqual(0);
          else expect(c.shown, `${c.id} shrunk below its drawn size at ${width} px`).toBeGreaterThanOrEqual(c.drawn - 1);
        }
        const shot = join(tmp, `report-${width}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
        process.stderr.write(`[report] screenshot at ${width} px: ${shot}\n`);
      }
    } finally {
      await browser.close();
    }
  });
});
