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

/** A file ready to produce (claimed, valid, encoded), or one whose outcome is already final. */
type Prepared =
  | { final: FileResult }
  | { final?: undefined; obj: ObjectId; base: FileBase; records: OutRecord[]; log: Logger };

type FileBase = { uri: string; bucket: string; key: string; etag: string; records: Record<string, number> };

/** Claim, read, validate and encode one object; quarantines it when invalid. Releases the claim if it fails. */
async function prepare(target: { bucket: string; key: string }, deps: SplitDeps, opts: SplitOptions): Promise<Prepared> {
  const limits = opts.limits ?? DEFAULT_YAML_LIMITS;
  const ref = await deps.store.stat(target.bucket, target.key);
  const obj: ObjectId = { bucket: target.bucket, key: target.key, etag: ref.etag ?? '' };
  const base: FileBase = { uri: ref.uri, ...obj, records: {} };
  const log = deps.log.child({ objectKey: obj.key, etag: obj.etag });

  const claim = await deps.ledger.claim(obj, opts.runId, opts.staleAfterMs ?? 15 * 60_000);
  if (claim.outcome === 'done') {
    log.info({ status: claim.entry.status, by: claim.entry.runId }, 'already ingested, skipped');
    return { final: { ...base, status: 'skipped', records: claim.entry.records, reason: `${claim.entry.status} by run ${claim.entry.runId}` } };
  }
  if (claim.outcome === 'busy') {
    log.warn({ by: claim.entry.runId }, 'being split by another run, skipped');
    return { final: { ...base, status: 'busy', reason: `being split by run ${claim.entry.runId}` } };
  }
  try {
    let problems: Problem[];
    if (ref.size > limits.maxBytes) {
      problems = [{ file: ref.uri, document: 0, line: 1, column: 1, path: '', message: oversize(ref.size, limits.maxBytes) }];
    } else {
      const bytes = await deps.store.read(ref);
      // Encoding checks the Avro model anyway; only when it refuses do we look for the field to blame.
      const validated = validateFile(ref.uri, bytes, deps.types, { limits, modelCheck: false });
      problems = validated.problems;
      if (problems.length === 0) {
        try {
          return { obj, base, records: toOutRecords(recordsOf(validated), obj, deps, opts), log };
        } catch {
          problems = validateFile(ref.uri, bytes, deps.types, { limits }).problems;
          if (problems.length === 0) throw new RapflowError('INTERNAL', `${ref.uri}: valid by the model, yet Avro encoding failed`);
        }
      }
    }
    return { final: await quarantine(ref, obj, base, problems, deps, opts, log) };
  } catch (err) {
    await release(obj, deps, opts, log);
    throw err;
  }
}

async function quarantine(ref: ObjectRef, obj: ObjectId, base: FileBase, problems: Problem[], deps: SplitDeps, opts: SplitOptions, log: Logger): Promise<FileResult> {
  const quarantinedAs = `${opts.quarantinePrefix}${obj.key}`;
  await deps.store.copy(obj.bucket, obj.key, quarantinedAs);
  const report = { file: ref.uri, etag: obj.etag, runId: opts.runId, quarantinedAt: new Date().toISOString(), problems };
  await deps.store.put(obj.bucket, `${quarantinedAs}.report.json`, Buffer.from(JSON.stringify(report, null, 2)), 'application/json');
  await deps.ledger.finish({ ...obj, status: 'quarantined', runId: opts.runId, records: {}, problems: problems.length });
  log.warn({ problems: problems.length, quarantinedAs }, 'invalid file quarantined, nothing produced');
  return { ...base, status: 'quarantined', problems, quarantinedAs };
}

/** Produces a prepared file in one transaction and records it in the ledger. Releases the claim if it fails. */
async function commit(p: Prepared, deps: SplitDeps, opts: SplitOptions): Promise<FileResult> {
  if (p.final) return p.final;
  try {
    const lastOffsets = await deps.producer.sendAtomically(p.records);
    const counts: Record<string, number> = {};
    for (const r of p.records) counts[r.topic] = (counts[r.topic] ?? 0) + 1;
    if (!(await deps.ledger.finish({ ...p.obj, status: 'split', runId: opts.runId, records: counts, problems: 0 }))) {
      p.log.warn('another run took this file over while it was being split; its records are identical (same keys)');
    }
    p.log.info({ records: counts }, 'file split');
    return { ...p.base, status: 'split', records: counts, lastOffsets };
  } catch (err) {
    await release(p.obj, deps, opts, p.log);
    throw err;
  }
}

/** Nothing of the file is visible (its transaction never committed): let a rerun take it at once. */
async function release(obj: ObjectId, deps: SplitDeps, opts: SplitOptions, log: Logger): Promise<void> {
  await deps.ledger.release(obj, opts.runId).catch((e: unknown) => log.warn({ err: e }, 'could not release the claim; it goes stale on its own'));
}

export async function splitObject(target: { bucket: string; key: string }, deps: SplitDeps, opts: SplitOptions): Promise<FileResult> {
  return commit(await prepare(target, deps, opts), deps, opts);
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
 * Splits objects in order, preparing the next file (read, validate, encode) while the current one
 * is being produced. Quarantines never stop the run; a retryable or fatal error does, and the
 * manifest then says so (what was split before it stays split, the rest stays unclaimed).
 */
export async function splitAll(
  targets: { bucket: string; key: string }[],
  deps: SplitDeps,
  opts: SplitOptions,
  onFile?: (r: FileResult, done: number) => void,
): Promise<{ manifest: Manifest; error?: RapflowError }> {
  const manifest: Manifest = { runId: opts.runId, startedAt: new Date().toISOString(), files: [], totals: {} };
  // Settled promises: a prefetch that fails while we await a commit must not go unhandled.
  const settle = (t: { bucket: string; key: string }) =>
    prepare(t, deps, opts).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
  let next = targets.length > 0 ? settle(targets[0]!) : undefined;
  try {
    for (let i = 0; i < targets.length; i++) {
      const current = await next!;
      if ('error' in current) throw current.error;
      next = i + 1 < targets.length ? settle(targets[i + 1]!) : undefined;
      let r: FileResult;
      try {
        r = await commit(current.value, deps, opts);
      } catch (err) {
        const pending = await next;
        if (pending && 'value' in pending && !pending.value.final) await release(pending.value.obj, deps, opts, pending.value.log);
        next = undefined;
        throw err;
      }
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
