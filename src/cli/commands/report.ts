// `rapflow report [--manifest ...] --out <dir>`: data quality and insights as report.json and one self-contained report.html.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { topicOf } from '../../codec/schemas.js';
import type { Config } from '../../config/index.js';
import { RapflowError } from '../../errors.js';
import type { Manifest } from '../../pipeline/split.js';
import type { VerifyReport } from '../../pipeline/verify.js';
import { collect, everyRow, type RapReader } from '../../read/reader.js';
import { buildReport, LineStats, type DeadLetterEntry, type QuarantineEntry, type ReportData } from '../../report/build.js';
import { renderCharts } from '../../report/charts.js';
import { renderHtml } from '../../report/html.js';
import { DLQ_HEADER, HEADER } from '../../transport/topics.js';
import { cqlOf, kafkaOf, readerOf, storeOf } from '../adapters.js';
import { positionOf, stateOf, type ReplayEntry } from '../../pipeline/dlq.js';
import { CqlReplayLedger } from '../../store/cql/replays.js';
import type { CliContext } from '../context.js';
import { count } from '../format.js';
import { seconds, wholeNumber } from '../options.js';
import { loadManifests, verifyManifests } from './verify.js';

/** Quarantine reports (`<key>.report.json`) in the inbox bucket, newest first, at most `max`. */
async function quarantineReports(c: Config, max = 500): Promise<QuarantineEntry[]> {
  const store = storeOf(c);
  const out: QuarantineEntry[] = [];
  for await (const ref of store.list(c.s3.inboxBucket, c.s3.quarantinePrefix, /\.report\.json$/)) {
    if (out.length >= max) break;
    const body = JSON.parse(Buffer.from(await store.read(ref)).toString('utf8')) as { file: string; runId: string; quarantinedAt: string; problems: QuarantineEntry['problems'] };
    out.push({ file: body.file, runId: body.runId, quarantinedAt: body.quarantinedAt, problems: body.problems ?? [] });
  }
  return out.sort((a, b) => b.quarantinedAt.localeCompare(a.quarantinedAt));
}

/** The dead letters still waiting: those a replay wrote, or replaced by a newer dead letter, are history (rapflow dlq list). */
async function deadLetters(c: Config): Promise<DeadLetterEntry[]> {
  const dlqTopic = topicOf('DeadLetter', c.kafka.topicPrefix);
  const messages = await kafkaOf(c, 'report').readToEnd(dlqTopic);
  let outcomes = new Map<string, ReplayEntry>();
  if (messages.length > 0) {
    const cql = cqlOf(c);
    try {
      await cql.connect();
      const ledger = new CqlReplayLedger(cql);
      if (await ledger.exists()) outcomes = await ledger.outcomes(dlqTopic);
    } finally {
      await cql.close();
    }
  }
  return messages
    .filter((m) => stateOf(outcomes.get(positionOf(m))) === 'waiting')
    .map((m) => ({
      topic: m.headers[DLQ_HEADER.sourceTopic] ?? '',
      key: m.key?.toString() ?? '',
      code: m.headers[DLQ_HEADER.code] ?? '',
      reason: m.headers[DLQ_HEADER.reason] ?? '',
      source: m.headers[HEADER.sourceKey] ? `s3://${m.headers[HEADER.sourceBucket]}/${m.headers[HEADER.sourceKey]} #${m.headers[HEADER.recordIndex] ?? '?'}` : '',
    }));
}

/** Everything the report needs from the tables; lines are streamed into counters, lyrics kept for `lyricSongs` songs. */
async function readTables(reader: RapReader, lyricSongs: number) {
  const artists = await collect(everyRow((p) => reader.artists(p)));
  const songs = await collect(everyRow((p) => reader.songs(p)));
  const meetups = await collect(everyRow((p) => reader.meetups(p)));
  const language = new Map(songs.map((s) => [s.id, s.language]));
  const stats = new LineStats((id) => language.get(id));
  for await (const l of everyRow((p) => reader.allLines(p), 2000)) stats.add(l);
  const shown = [...songs].sort((a, b) => a.artist.localeCompare(b.artist) || a.releaseDate.localeCompare(b.releaseDate)).slice(0, lyricSongs);
  const lyrics = [];
  for (const song of shown) lyrics.push({ song, lines: await reader.lines(song.id) });
  return { artists, songs, meetups, stats, lyrics };
}

/** Reconciliation for the report: the one given (a run has just verified), or a fresh one, left out when the consumer is behind. */
async function verificationOf(ctx: CliContext, manifests: Manifest[], opts: { verified?: VerifyReport; verifyTimeoutS?: number }): Promise<VerifyReport | undefined> {
  if (opts.verified || manifests.length === 0) return opts.verified;
  try {
    return await verifyManifests(ctx, manifests, opts.verifyTimeoutS ?? 30);
  } catch (err) {
    if (!(err instanceof RapflowError) || err.code !== 'CONSUMER_BEHIND') throw err;
    ctx.err(`report: ${err.message}; reconciliation left out of the report`);
    return undefined;
  }
}

export async function writeReport(
  ctx: CliContext,
  manifests: Manifest[],
  outDir: string,
  opts: { lyrics: number; verified?: VerifyReport; verifyTimeoutS?: number },
): Promise<{ data: ReportData; html: string; json: string }> {
  const c = ctx.config;
  const verify = await verificationOf(ctx, manifests, opts);
  const reader = await readerOf(c);
  try {
    const tables = await readTables(reader, opts.lyrics);
    const data = buildReport({
      generatedAt: new Date().toISOString(),
      manifests,
      ...(verify ? { verify } : {}),
      artists: tables.artists,
      songs: tables.songs,
      lineStats: tables.stats,
      meetups: tables.meetups,
      quarantine: await quarantineReports(c),
      deadLetters: await deadLetters(c),
      lyrics: tables.lyrics,
    });
    const html = renderHtml(data, await renderCharts(data));
    await mkdir(outDir, { recursive: true });
    const files = { html: resolve(join(outDir, 'report.html')), json: resolve(join(outDir, 'report.json')) };
    await writeFile(files.json, JSON.stringify(data, null, 2));
    await writeFile(files.html, html);
    return { data, ...files };
  } finally {
    await reader.close();
  }
}

export function registerReport(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description('data quality and insights: report.json and one self-contained report.html (charts inline, no script, no external request)')
    .option('--manifest <paths...>', 'split manifests of the run (files or folders): adds per-run counts, reconciliation and schema versions')
    .option('--out <dir>', 'where to write report.json and report.html', '.local/report')
    .option('--lyrics <n>', 'songs whose lyrics the page shows in full', '40')
    .option('--verify-timeout <seconds>', 'how long to wait for the consumer before reconciling', '30')
    .action(async (o: { manifest?: string[]; out: string; lyrics: string; verifyTimeout: string }) => {
      const lyrics = wholeNumber(o.lyrics, '--lyrics');
      const verifyTimeoutS = seconds(o.verifyTimeout, '--verify-timeout');
      const manifests = o.manifest ? await loadManifests(o.manifest) : [];
      const r = await writeReport(ctx, manifests, o.out, { lyrics, verifyTimeoutS });
      const n = r.data.counts;
      ctx.out(`report: ${n.rows.songs} songs, ${n.rows.lyricLines} lines, ${count(n.quarantined, 'quarantined file')}, ${count(n.deadLettered, 'dead letter')}`);
      ctx.out(`  ${r.html}\n  ${r.json}`);
    });
}
