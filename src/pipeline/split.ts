// The split stage: each object validated whole, then all its records produced in one Kafka transaction, or quarantined.
import type avro from 'avsc';
import type { Logger } from 'pino';
import { frame } from '../codec/confluent.js';
import { topicOf, type RecordName } from '../codec/schemas.js';
import { RapflowError } from '../errors.js';
import { recordsOf, validateFile, type ModelTypes, type Problem } from '../model/validate.js';
import { oversize, DEFAULT_YAML_LIMITS, type YamlLimits } from '../model/yaml.js';
import type { ObjectRef } from '../source/types.js';
import { HEADER } from '../transport/topics.js';
import type { LastOffsets, OutRecord } from '../transport/kafka.js';
import type { Ledger, ObjectId } from './ledger.js';

export interface SplitStore {
  stat(bucket: string, key: string): Promise<ObjectRef>;
  read(ref: ObjectRef): Promise<Uint8Array>;
  put(bucket: string, key: string, body: Buffer, contentType: string): Promise<string>;
  copy(bucket: string, fromKey: string, toKey: string): Promise<void>;
}

export interface SplitProducer {
  sendAtomically(records: OutRecord[]): Promise<LastOffsets>;
}

/** Registry ids (and versions) of the schemas this run encodes with, registered or looked up once. */
export type SchemaIds = Map<RecordName, { id: number; version?: number }>;

export interface SplitDeps {
  store: SplitStore;
  ledger: Ledger;
  producer: SplitProducer;
  types: ModelTypes;
  ids: SchemaIds;
  log: Logger;
}

export interface SplitOptions {
  runId: string;
  topicPrefix: string;
  quarantinePrefix: string;
  limits?: YamlLimits;
  /** A claim older than this belongs to a run that died and may be taken over. */
  staleAfterMs?: number;
}

export interface FileResult {
  uri: string;
  bucket: string;
  key: string;
  etag: string;
  status: 'split' | 'quarantined' | 'skipped' | 'busy';
  /** Records produced per topic. */
  records: Record<string, number>;
  /** Last offset written per topic and partition, for the verify step. */
  lastOffsets?: LastOffsets;
  problems?: Problem[];
  quarantinedAs?: string;
  reason?: string;
}

export interface Manifest {
  runId: string;
  startedAt: string;
  finishedAt?: string;
  files: FileResult[];
  /** Records produced per topic in this run. */
  totals: Record<string, number>;
  /** Set when the run stopped early (the error that stopped it). */
  stoppedBy?: { code: string; message: string };
}

const ORDER: [RecordName, keyof ReturnType<typeof recordsOf>][] = [
  ['Artist', 'artists'],
  ['Song', 'songs'],
  ['LyricLine', 'lines'],
  ['Meetup', 'meetups'],
];

export async function splitObject(target: { bucket: string; key: string }, deps: SplitDeps, opts: SplitOptions): Promise<FileResult> {
  const limits = opts.limits ?? DEFAULT_YAML_LIMITS;
  const ref = await deps.store.stat(target.bucket, target.key);
  const obj: ObjectId = { bucket: target.bucket, key: target.key, etag: ref.etag ?? '' };
  const base = { uri: ref.uri, ...obj, records: {} as Record<string, number> };
  const log = deps.log.child({ objectKey: obj.key, etag: obj.etag });

  const claim = await deps.ledger.claim(obj, opts.runId, opts.staleAfterMs ?? 15 * 60_000);
  if (claim.outcome === 'done') {
    log.info({ status: claim.entry.status, by: claim.entry.runId }, 'already ingested, skipped');
    return { ...base, status: 'skipped', records: claim.entry.records, reason: `${claim.entry.status} by run ${claim.entry.runId}` };
  }
  if (claim.outcome === 'busy') {
    log.warn({ by: claim.entry.runId }, 'being split by another run, skipped');
    return { ...base, status: 'busy', reason: `being split by run ${claim.entry.runId}` };
  }

  try {
    return await splitClaimed(ref, obj, base, deps, opts, limits, log);
  } catch (err) {
    // Nothing of this file is visible (its transaction never committed): let a rerun take it at once.
    await deps.ledger.release(obj, opts.runId).catch((e: unknown) => log.warn({ err: e }, 'could not release the claim; it goes stale on its own'));
    throw err;
  }
}

async function splitClaimed(
  ref: ObjectRef,
  obj: ObjectId,
  base: { uri: string; bucket: string; key: string; etag: string; records: Record<string, number> },
  deps: SplitDeps,
  opts: SplitOptions,
  limits: YamlLimits,
  log: Logger,
): Promise<FileResult> {
  let problems: Problem[];
  let records: OutRecord[] = [];
  if (ref.size > limits.maxBytes) {
    problems = [{ file: ref.uri, document: 0, line: 1, column: 1, path: '', message: oversize(ref.size, limits.maxBytes) }];
  } else {
    const validated = validateFile(ref.uri, await deps.store.read(ref), deps.types, limits);
    problems = validated.problems;
    if (problems.length === 0) records = toOutRecords(recordsOf(validated), obj, deps, opts);
  }

  if (problems.length > 0) {
    const quarantinedAs = `${opts.quarantinePrefix}${obj.key}`;
    await deps.store.copy(obj.bucket, obj.key, quarantinedAs);
    const report = { file: ref.uri, etag: obj.etag, runId: opts.runId, quarantinedAt: new Date().toISOString(), problems };
    await deps.store.put(obj.bucket, `${quarantinedAs}.report.json`, Buffer.from(JSON.stringify(report, null, 2)), 'application/json');
    await deps.ledger.finish({ ...obj, status: 'quarantined', runId: opts.runId, records: {}, problems: problems.length });
    log.warn({ problems: problems.length, quarantinedAs }, 'invalid file quarantined, nothing produced');
    return { ...base, status: 'quarantined', problems, quarantinedAs };
  }

  const lastOffsets = await deps.producer.sendAtomically(records);
  const counts: Record<string, number> = {};
  for (const r of records) counts[r.topic] = (counts[r.topic] ?? 0) + 1;
  if (!(await deps.ledger.finish({ ...obj, status: 'split', runId: opts.runId, records: counts, problems: 0 }))) {
    log.warn('another run took this file over while it was being split; its records are identical (same keys)');
  }
  log.info({ records: counts }, 'file split');
  return { ...base, status: 'split', records: counts, lastOffsets };
}

function toOutRecords(set: ReturnType<typeof recordsOf>, obj: ObjectId, deps: SplitDeps, opts: SplitOptions): OutRecord[] {
  const out: OutRecord[] = [];
  for (const [name, field] of ORDER) {
    const type: avro.Type | undefined = deps.types.get(name);
    const schema = deps.ids.get(name);
    if (!type || !schema) throw new RapflowError('INTERNAL', `no schema id for ${name}: register the schemas first`);
    const topic = topicOf(name, opts.topicPrefix);
    for (const record of set[field] as { id: string }[]) {
      out.push({
        topic,
        key: record.id,
        value: frame(type, schema.id, record),
        headers: {
          [HEADER.sourceBucket]: obj.bucket,
          [HEADER.sourceKey]: obj.key,
          [HEADER.sourceEtag]: obj.etag,
          [HEADER.recordIndex]: String(out.length),
          [HEADER.runId]: opts.runId,
          [HEADER.schemaId]: String(schema.id),
          ...(schema.version === undefined ? {} : { [HEADER.schemaVersion]: String(schema.version) }),
        },
      });
    }
  }
  return out;
}

/**
 * Splits objects one after the other. Quarantines never stop the run; a retryable or fatal
 * error does, and the manifest then says so (what was split before it stays split).
 */
export async function splitAll(
  targets: { bucket: string; key: string }[],
  deps: SplitDeps,
  opts: SplitOptions,
  onFile?: (r: FileResult, done: number) => void,
): Promise<{ manifest: Manifest; error?: RapflowError }> {
  const manifest: Manifest = { runId: opts.runId, startedAt: new Date().toISOString(), files: [], totals: {} };
  try {
    for (const t of targets) {
      const r = await splitObject(t, deps, opts);
      manifest.files.push(r);
      if (r.status === 'split') for (const [topic, n] of Object.entries(r.records)) manifest.totals[topic] = (manifest.totals[topic] ?? 0) + n;
      onFile?.(r, manifest.files.length);
    }
  } catch (err) {
    const e = err instanceof RapflowError ? err : new RapflowError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
    manifest.stoppedBy = { code: e.code, message: e.message };
    manifest.finishedAt = new Date().toISOString();
    return { manifest, error: e };
  }
  manifest.finishedAt = new Date().toISOString();
  return { manifest };
}
