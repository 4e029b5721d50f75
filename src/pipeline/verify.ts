// The verify stage: wait until the consumer has committed past what split produced, then
// reconcile file by file: every record a file yields must be readable as rows (or be dead-lettered).
import { z } from 'zod';
import { topicOf } from '../codec/schemas.js';
import { count } from '../plural.js';
import { RapflowError } from '../errors.js';
import type { RecordSet } from '../model/records.js';
import { recordsOf, validateFile, type ModelTypes } from '../model/validate.js';
import { DEFAULT_YAML_LIMITS, type YamlLimits } from '../model/yaml.js';
import { everyRow, type RapReader } from '../read/reader.js';
import { HEADER } from '../transport/topics.js';
import type { InMessageLike, LastOffsets } from '../transport/types.js';
import type { LedgerEntry } from './ledger.js';
import type { FileResult, Manifest } from './split.js';

export interface VerifyDeps {
  /** The consumer group's committed offsets for these topics. */
  committed(topics: string[]): Promise<LastOffsets>;
  /** The object as it is now: its etag and bytes; undefined when it is no longer in the bucket. */
  read(bucket: string, key: string): Promise<{ etag: string; bytes: Uint8Array } | undefined>;
  reader: RapReader;
  /** Which of these records have a document, where the sink writes documents (Stargate); absent: rows only. */
  documents?: (kind: 'Song' | 'Artist' | 'Meetup', ids: string[]) => Promise<Set<string>>;
  /** Everything on the dead-letter topic. */
  deadLetters(): Promise<InMessageLike[]>;
  types: ModelTypes;
  topicPrefix: string;
  limits?: YamlLimits;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface Behind {
  topic: string;
  partition: string;
  /** The offset the group must have committed: one past the last record split produced. */
  needed: string;
  committed: string;
}

/** The offsets the consumer must pass: the highest last offset per partition across all files. */
export function targetOffsets(manifests: Manifest[]): LastOffsets {
  const target: LastOffsets = {};
  for (const f of manifests.flatMap((m) => m.files)) {
    for (const [topic, parts] of Object.entries(f.lastOffsets ?? {})) {
      const t = (target[topic] ??= {});
      for (const [p, offset] of Object.entries(parts)) if (t[p] === undefined || BigInt(offset) > BigInt(t[p])) t[p] = offset;
    }
  }
  return target;
}

export function behind(target: LastOffsets, committed: LastOffsets): Behind[] {
  const out: Behind[] = [];
  for (const [topic, parts] of Object.entries(target)) {
    for (const [partition, last] of Object.entries(parts)) {
      const needed = (BigInt(last) + 1n).toString();
      const c = committed[topic]?.[partition] ?? '-1';
      if (BigInt(c) < BigInt(needed)) out.push({ topic, partition, needed, committed: c });
    }
  }
  return out;
}

/** Polls the group's offsets until it has passed every target; bounded. Returns what is still behind (empty: caught up). */
export async function waitForConsumer(manifests: Manifest[], deps: VerifyDeps, timeoutMs: number, pollMs = 1_000): Promise<Behind[]> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = deps.now ?? Date.now;
  const target = targetOffsets(manifests);
  const topics = Object.keys(target);
  if (topics.length === 0) return [];
  const deadline = now() + timeoutMs;
  for (;;) {
    const lag = behind(target, await deps.committed(topics));
    if (lag.length === 0 || now() >= deadline) return lag;
    await sleep(pollMs);
  }
}

export interface TableCount {
  expected: number;
  found: number;
  deadLettered: number;
}

export interface FileCheck {
  key: string;
  bucket: string;
  etag: string;
  status: 'ok' | 'mismatch' | 'changed' | 'quarantined' | 'not-split';
  /** Per table: rows the file's records should have made, rows found, records dead-lettered instead. */
  tables: Record<string, TableCount>;
  /** What differs, one line each (at most a few per table). */
  differences: string[];
}

export interface VerifyReport {
  ok: boolean;
  files: FileCheck[];
  totals: Record<string, TableCount>;
}

const SHOWN = 5;

/**
 * The ingest ledger as one manifest, for `verify --all`: per object, its newest finished version
 * (split or quarantined, with the records split counted); older versions of an object were replaced
 * by it, and a claim still in progress has nothing to check yet.
 */
export function ledgerManifest(entries: LedgerEntry[], runId = 'ledger'): Manifest {
  const newest = new Map<string, LedgerEntry>();
  for (const e of entries) {
    if (e.status === 'splitting') continue;
    const id = `${e.bucket}\n${e.key}`;
    const held = newest.get(id);
    if (!held || e.updatedAt.getTime() > held.updatedAt.getTime()) newest.set(id, e);
  }
  const files = [...newest.values()]
    .sort((a, b) => a.bucket.localeCompare(b.bucket) || a.key.localeCompare(b.key))
    .map((e): FileResult => ({ uri: `s3://${e.bucket}/${e.key}`, bucket: e.bucket, key: e.key, etag: e.etag, status: e.status === 'split' ? 'split' : 'quarantined', records: e.records }));
  const totals: Record<string, number> = {};
  for (const f of files) for (const [topic, n] of Object.entries(f.records)) totals[topic] = (totals[topic] ?? 0) + n;
  return { runId, startedAt: new Date().toISOString(), files, totals };
}

export interface Lag {
  what: 'songs' | 'artists' | 'meetups';
  rows: number;
  documents: number;
}

/** Where the documents (a Song, Artist or Meetup each) are fewer than the rows of their table. */
export function documentLag(rows: Record<Lag['what'], number>, documents: Partial<Record<Lag['what'], number>>): Lag[] {
  return (['songs', 'artists', 'meetups'] as const).flatMap((what) => {
    const d = documents[what];
    return d !== undefined && d < rows[what] ? [{ what, rows: rows[what], documents: d }] : [];
  });
}

/** Every file of the manifests, the newest outcome per object version. */
function filesOf(manifests: Manifest[]): FileResult[] {
  const byObject = new Map<string, FileResult>();
  for (const f of manifests.flatMap((m) => m.files)) byObject.set(`${f.bucket}\n${f.key}\n${f.etag}`, f);
  return [...byObject.values()];
}

/** Dead-lettered record keys per source object version. */
function deadLettersByObject(messages: InMessageLike[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of messages) {
    const id = `${m.headers[HEADER.sourceBucket]}\n${m.headers[HEADER.sourceKey]}\n${m.headers[HEADER.sourceEtag]}`;
    const set = out.get(id) ?? new Set<string>();
    if (m.key) set.add(m.key.toString());
    out.set(id, set);
  }
  return out;
}

export async function reconcile(manifests: Manifest[], deps: VerifyDeps): Promise<VerifyReport> {
  const dead = deadLettersByObject(await deps.deadLetters());
  const files: FileCheck[] = [];
  for (const f of filesOf(manifests)) files.push(await checkFile(f, deps, dead.get(`${f.bucket}\n${f.key}\n${f.etag}`) ?? new Set()));
  const totals: Record<string, TableCount> = {};
  for (const f of files) {
    for (const [table, c] of Object.entries(f.tables)) {
      const t = (totals[table] ??= { expected: 0, found: 0, deadLettered: 0 });
      t.expected += c.expected;
      t.found += c.found;
      t.deadLettered += c.deadLettered;
    }
  }
  return { ok: files.every((f) => f.status !== 'mismatch'), files, totals };
}

async function checkFile(f: FileResult, deps: VerifyDeps, deadKeys: Set<string>): Promise<FileCheck> {
  const check: FileCheck = { key: f.key, bucket: f.bucket, etag: f.etag, status: 'ok', tables: {}, differences: [] };
  if (f.status === 'quarantined') return { ...check, status: 'quarantined' };
  if (f.status !== 'split') return { ...check, status: 'not-split' };
  const now = await deps.read(f.bucket, f.key);
  if (now === undefined) {
    check.differences.push('the object is no longer in the bucket (deleted since it was split): what it yields cannot be read, its rows are left unchecked');
    return { ...check, status: 'changed' };
  }
  if (now.etag !== f.etag) {
    check.differences.push(`the object changed since it was split (etag ${f.etag} -> ${now.etag}): the next run ingests the new version`);
    return { ...check, status: 'changed' };
  }
  const validated = validateFile(`s3://${f.bucket}/${f.key}`, now.bytes, deps.types, { limits: deps.limits ?? DEFAULT_YAML_LIMITS });
  if (validated.problems.length > 0) {
    check.differences.push(`split it, but it no longer validates: ${validated.problems[0]!.message}`);
    return { ...check, status: 'mismatch' };
  }
  const set = recordsOf(validated);
  compareProduced(f, set, deps.topicPrefix, check);
  await compareRows(set, deps, deadKeys, check);
  if (check.differences.length > 0) check.status = 'mismatch';
  return check;
}

/** The manifest's per-topic counts must be what the file yields. */
function compareProduced(f: FileResult, set: RecordSet, prefix: string, check: FileCheck): void {
  const yields: Record<string, number> = {
    [topicOf('Song', prefix)]: set.songs.length,
    [topicOf('LyricLine', prefix)]: set.lines.length,
    [topicOf('Artist', prefix)]: set.artists.length,
    [topicOf('Meetup', prefix)]: set.meetups.length,
  };
  for (const [topic, n] of Object.entries(yields)) {
    const produced = f.records[topic] ?? 0;
    if (produced !== n) check.differences.push(`${topic}: the manifest says ${count(produced, 'record')} ${produced === 1 ? 'was' : 'were'} produced, the file yields ${n}`);
  }
}

async function compareRows(set: RecordSet, deps: VerifyDeps, deadKeys: Set<string>, check: FileCheck): Promise<void> {
  const reader = deps.reader;
  const tally = (table: string, ids: string[], found: Set<string>, label: (id: string) => string) => {
    const c: TableCount = { expected: ids.length, found: 0, deadLettered: 0 };
    const missing: string[] = [];
    for (const id of ids) {
      if (found.has(id)) c.found++;
      else if (deadKeys.has(id)) c.deadLettered++;
      else missing.push(label(id));
    }
    check.tables[table] = c;
    if (missing.length > 0) {
      const shown = missing.slice(0, SHOWN).join(', ');
      check.differences.push(`${table}: ${c.expected} expected, ${c.found} found, ${missing.length} missing (${shown}${missing.length > SHOWN ? ', ...' : ''})`);
    }
  };

  const songTitle = new Map(set.songs.map((s) => [s.id, s.title]));
  tally('songs', set.songs.map((s) => s.id), await reader.existing('songs', set.songs.map((s) => s.id)), (id) => `song "${songTitle.get(id)}"`);

  const listed = new Set<string>();
  for (const artistId of new Set(set.songs.map((s) => s.artistId))) {
    for await (const r of everyRow((p) => reader.songsByArtist(artistId, p))) listed.add(r.songId);
  }
  tally('songs_by_artist', set.songs.map((s) => s.id), listed, (id) => `song "${songTitle.get(id)}"`);

  // Lines: present, and with the text that was produced.
  const lineKey = new Map(set.lines.map((l) => [l.id, `"${songTitle.get(l.songId)}" ${l.lineNumber}`]));
  const foundLines = new Set<string>();
  const linesOf = new Map<string, RecordSet['lines']>();
  for (const l of set.lines) {
    const list = linesOf.get(l.songId) ?? [];
    list.push(l);
    linesOf.set(l.songId, list);
  }
  for (const song of set.songs) {
    const stored = new Map((await reader.lines(song.id)).map((l) => [l.lineNumber, l]));
    for (const l of linesOf.get(song.id) ?? []) {
      const row = stored.get(l.lineNumber);
      if (row && row.text === l.text) foundLines.add(l.id);
      else if (row) check.differences.push(`lyric_lines: "${song.title}" line ${l.lineNumber} reads ${JSON.stringify(row.text)}, produced ${JSON.stringify(l.text)}`);
    }
  }
  tally('lyric_lines', set.lines.map((l) => l.id), foundLines, (id) => `line ${lineKey.get(id)}`);

  const artistName = new Map(set.artists.map((a) => [a.id, a.name]));
  tally('artists', set.artists.map((a) => a.id), await reader.existing('artists', set.artists.map((a) => a.id)), (id) => `artist "${artistName.get(id)}"`);
  const meetupTitle = new Map(set.meetups.map((m) => [m.id, m.title]));
  tally('meetups', set.meetups.map((m) => m.id), await reader.existing('meetups', set.meetups.map((m) => m.id)), (id) => `meetup "${meetupTitle.get(id)}"`);
  if (deps.documents) {
    // Each Song, Artist and Meetup is also a whole document, under its record's id.
    const docs = async (kind: 'Song' | 'Artist' | 'Meetup', ids: string[]) => (ids.length ? deps.documents!(kind, ids) : new Set<string>());
    tally('song documents', set.songs.map((s) => s.id), await docs('Song', set.songs.map((s) => s.id)), (id) => `song "${songTitle.get(id)}"`);
    tally('artist documents', set.artists.map((a) => a.id), await docs('Artist', set.artists.map((a) => a.id)), (id) => `artist "${artistName.get(id)}"`);
    tally('meetup documents', set.meetups.map((m) => m.id), await docs('Meetup', set.meetups.map((m) => m.id)), (id) => `meetup "${meetupTitle.get(id)}"`);
  }
  for (const [table, c] of Object.entries(check.tables)) if (c.expected === 0) delete check.tables[table];
}

const Offsets = z.record(z.string(), z.record(z.string(), z.string().regex(/^\d+$/)));
/** The parts of a split manifest verify relies on. */
const ManifestShape = z.looseObject({
  runId: z.string(),
  files: z.array(
    z.looseObject({
      bucket: z.string(),
      key: z.string(),
      etag: z.string(),
      status: z.enum(['split', 'quarantined', 'skipped', 'busy']),
      records: z.record(z.string(), z.number().int().min(0)),
      lastOffsets: Offsets.optional(),
    }),
  ),
});

function manifestOf(value: unknown, where: string): Manifest {
  const parsed = ManifestShape.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new RapflowError('INPUT_INVALID', `${where}: not a split manifest (${first.path.join('.') || 'top level'}: ${first.message})`);
  }
  return parsed.data as unknown as Manifest;
}

/** Manifests from a file (one JSON object, or JSON lines from `split --follow`). */
export function parseManifests(text: string, where: string): Manifest[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let whole: unknown;
  try {
    whole = JSON.parse(trimmed);
  } catch {
    return trimmed.split('\n').map((line, i) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new RapflowError('INPUT_INVALID', `${where}:${i + 1}: not JSON (${(err as Error).message})`);
      }
      return manifestOf(value, `${where}:${i + 1}`);
    });
  }
  return [manifestOf(whole, where)];
}
