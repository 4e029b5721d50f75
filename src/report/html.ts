// The report as one self-contained HTML page: inline CSS, charts as inline SVG, no script, no
// external request (the Content-Security-Policy forbids both). Every value from the data goes through esc().
import { noun, verb } from '../plural.js';
import type { ReportData } from './build.js';
import type { Chart } from './charts.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text and attribute values: the five characters that matter in HTML, escaped. */
export const esc = (v: string | number | null | undefined): string => String(v ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const CSS = `
:root { --ink: #1d1b26; --muted: #5f5b6e; --line: #e8e6ef; --accent: #5b3cc4; --bad: #b3261e; --good: #1b7a3d; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans", sans-serif; color: var(--ink); background: #faf9fd; }
header { background: var(--ink); color: #fff; padding: 24px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: #c9c4dc; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; }
section { margin: 28px 0; }
h2 { font-size: 18px; margin: 0 0 12px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card b { display: block; font-size: 26px; line-height: 1.1; }
.card span { color: var(--muted); font-size: 13px; }
.card.bad b { color: var(--bad); } .card.good b { color: var(--good); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(520px, 100%), 1fr)); gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; min-width: 0; }
/* Charts scale down to their card (their viewBox keeps the proportions), never up past their drawn size. */
figure svg { display: block; max-width: 100%; height: auto; }
/* On a phone a chart shrunk to the card would be too small to read: it keeps its size and scrolls in its card. */
@media (max-width: 600px) { main { padding: 16px 12px 32px; } header { padding: 16px 12px; } figure { overflow-x: auto; } figure svg { max-width: none; } table { display: block; overflow-x: auto; } td { overflow-wrap: anywhere; } }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
figure h3 { margin: 0 0 8px; font-size: 15px; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f1eff8; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f1eff8; padding: 1px 4px; border-radius: 4px; }
details { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 6px 0; padding: 6px 12px; }
summary { cursor: pointer; font-weight: 600; }
.lyric .kind { color: var(--accent); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; margin-top: 8px; }
.lyric p { margin: 0; white-space: pre-wrap; }
.ok { color: var(--good); font-weight: 600; } .fail { color: var(--bad); font-weight: 600; }
.muted { color: var(--muted); }
`;

const num = (n: number) => n.toLocaleString('en-US');

function table(header: string[], rows: (string | number)[][], numeric: number[] = []): string {
  const cell = (tag: string, v: string | number, i: number) => `<${tag}${numeric.includes(i) ? ' class="num"' : ''}>${typeof v === 'number' ? num(v) : esc(v)}</${tag}>`;
  return `<table><thead><tr>${header.map((h, i) => cell('th', h, i)).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((v, i) => cell('td', v, i)).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const card = (value: string | number, label: string, tone = '') => `<div class="card ${tone}"><b>${typeof value === 'number' ? num(value) : esc(value)}</b><span>${esc(label)}</span></div>`;

export function renderHtml(d: ReportData, charts: Chart[]): string {
  const c = d.counts;
  const verify = d.verify
    ? d.verify.ok
      ? `<p class="ok" id="verify-status">Reconciled: every record of ${d.verify.files === 1 ? 'the file' : `the ${num(d.verify.files)} files`} is a row in Cassandra or a dead letter.</p>`
      : `<p class="fail" id="verify-status">${num(d.verify.mismatched.length)} of ${num(d.verify.files)} ${noun(d.verify.files, 'file')} ${verb(d.verify.mismatched.length, 'does', 'do')} not reconcile.</p>${table(
          ['file', 'differences'],
          d.verify.mismatched.map((m) => [m.file, m.differences.join('; ')]),
        )}`
    : '<p class="muted" id="verify-status">Not verified in this report (pass the split manifests).</p>';

  const quarantine =
    d.quarantine.length === 0
      ? '<p class="muted">No file is in quarantine.</p>'
      : table(
          ['file', 'run', 'problems'],
          d.quarantine.map((q) => [q.file, q.runId, q.problems.map((p) => `${p.line ? `line ${p.line}: ` : ''}${p.message}`).join(' | ')]),
        );
  const dead =
    d.deadLetters.records.length === 0
      ? '<p class="muted">No dead-lettered records.</p>'
      : table(
          ['topic', 'key', 'code', 'reason', 'source'],
          d.deadLetters.records.map((r) => [r.topic, r.key, r.code, r.reason, r.source]),
        );

  const lyrics = d.lyrics
    .map(
      (s) =>
        `<details><summary>${esc(s.title)} <span class="muted">— ${esc(s.artist)}, ${esc(s.releaseDate)}</span></summary><div class="lyric">${s.sections
          .map((sec) => `<div class="kind">${esc(sec.kind)} · ${esc(sec.performer)}</div>${sec.lines.map((l) => `<p>${esc(l)}</p>`).join('')}`)
          .join('')}</div></details>`,
    )
    .join('');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>rapflow report</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>rapflow report</h1><p>Rap as Code from MinIO through Kafka into Cassandra · generated ${esc(d.generatedAt)}${
    d.runs.length ? ` · runs ${d.runs.map((r) => esc(r.runId)).join(', ')}` : ''
  }</p></header>
<main>
<section id="counts"><h2>Counts</h2><div class="cards">
${card(c.rows.artists, 'artists')}${card(c.rows.songs, 'songs')}${card(c.rows.lyricLines, 'lyric lines')}${card(c.rows.meetups, 'meetups')}${card(c.rows.words, 'words')}
${card(c.files.split ?? 0, 'files split this run')}${card(c.quarantined, 'files in quarantine', c.quarantined ? 'bad' : 'good')}${card(c.deadLettered, 'dead-lettered records', c.deadLettered ? 'bad' : 'good')}
</div>
${Object.keys(c.recordsProduced).length ? table(['topic', 'records produced'], Object.entries(c.recordsProduced).map(([t, n]) => [t, n]), [1]) : ''}
</section>
<section id="quality"><h2>Data quality</h2>${verify}
<h3>Quarantined files</h3>${quarantine}
<h3>Dead-lettered records</h3>${dead}
</section>
<section id="charts"><h2>Insights</h2><div class="charts">
${charts.map((ch) => `<figure id="chart-${esc(ch.id)}" class="chart"><h3>${esc(ch.title)}</h3>${ch.svg}<figcaption>${esc(ch.caption)}</figcaption></figure>`).join('\n')}
</div></section>
<section id="artists"><h2>Artists</h2>${table(
    ['artist', 'origin', 'songs', 'lines', 'words', 'distinct words'],
    d.artists.map((a) => [a.name, a.origin ?? '', a.songs, a.lines, a.words, a.uniqueWords]),
    [2, 3, 4, 5],
  )}</section>
<section id="structure"><h2>Song shapes</h2>${table(
    ['sections, in order', 'songs'],
    d.structure.shapes.map((s) => [s.shape, s.songs]),
    [1],
  )}</section>
<section id="releases"><h2>Release timeline</h2>${table(
    ['date', 'song', 'artist'],
    d.releases.map((r) => [r.date, r.title, r.artist]),
  )}</section>
<section id="meetups"><h2>Meetups</h2>${table(
    ['date', 'meetup', 'city', 'setlist'],
    d.meetups.map((m) => [m.date, m.title, m.city, m.setlist.map((e) => `${e.artist} – ${e.title}`).join(' · ')]),
  )}</section>
<section id="schemas"><h2>Schema versions seen</h2>${
    d.schemas.length
      ? table(
          ['topic', 'registry id', 'subject version', 'runs'],
          d.schemas.map((s) => [s.topic, s.id, s.version, s.runs]),
          [1, 2, 3],
        )
      : '<p class="muted">No split manifest given: writer schemas unknown.</p>'
  }</section>
<section id="lyrics"><h2>Lyrics</h2>${lyrics || '<p class="muted">No songs.</p>'}</section>
</main>
</body>
</html>
`;
}
