// The split stage: each object validated whole, then all its records produced in one Kafka transaction, or quarantined.
import type { Logger } from 'pino';
import { RapflowError } from '../errors.js';
import type { Problem } from '../model/validate.js';
import { oversize, DEFAULT_YAML_LIMITS, type YamlLimits } from '../model/yaml.js';
import type { ObjectRef } from '../source/types.js';
import { HEADER } from '../transport/topics.js';
import type { LastOffsets, OutRecord } from '../transport/types.js';
import type { EncodedFile, EncodeResult } from './encode.js';
import type { FileEncoder } from './encoder.js';
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

export interface SplitDeps {
  store: SplitStore;
  ledger: Ledger;
  producer: SplitProducer;
  /** Validates and encodes a file (inline, or on a worker thread so it overlaps with producing). */
  encoder: FileEncoder;
  log: Logger;
}

export interface SplitOptions {
  runId: string;
  topicPrefix: string;
  quarantinePrefix: string;
  limits?: YamlLimits;
  /** A claim older than this belongs to a run that died and may be taken over. */
  staleAfterMs?: number;
  /** Registry id and version of the writer schema per topic, recorded in the manifest. */
  schemas?: Record<string, { id: number; version: number }>;
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
  /** Writer schema per topic: registry id and subject version. */
  schemas?: Record<string, { id: number; version: number }>;
  /** Set when the run stopped early (the error that stopped it). */
  stoppedBy?: { code: string; message: string };
}

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

  // Reading and encoding need no claim: start them alongside it, so the ledger's round trips stay
  // off the critical path. A file found finished meanwhile just wastes its encoding.
  const encoding: Promise<EncodeResult | undefined> =
    ref.size > limits.maxBytes ? Promise.resolve(undefined) : deps.store.read(ref).then((bytes) => deps.encoder.encode({ uri: ref.uri, bytes }));
  encoding.catch(() => undefined); // awaited below unless the claim says skip; never unhandled
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
    const encoded = await encoding;
    if (encoded?.ok) return { obj, base, records: withHeaders(encoded, obj, ref.lastModified, opts), log };
    const problems: Problem[] = encoded
      ? encoded.problems
      : [{ file: ref.uri, document: 0, line: 1, column: 1, path: '', message: oversize(ref.size, limits.maxBytes) }];
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

/**
 * Produces a prepared file in one transaction (releasing the claim if that fails), then records it
 * in the ledger without holding up the next file: `recorded` settles when the ledger has it.
 */
async function commit(p: Prepared, deps: SplitDeps, opts: SplitOptions): Promise<{ result: FileResult; recorded: Promise<void> }> {
  if (p.final) return { result: p.final, recorded: Promise.resolve() };
  let lastOffsets: LastOffsets;
  try {
    lastOffsets = await deps.producer.sendAtomically(p.records);
  } catch (err) {
    await release(p.obj, deps, opts, p.log);
    throw err;
  }
  const counts: Record<string, number> = {};
  for (const r of p.records) counts[r.topic] = (counts[r.topic] ?? 0) + 1;
  p.log.info({ records: counts }, 'file split');
  // Committed and visible: from here a failure only means a rerun would produce the same keys again.
  const recorded = deps.ledger.finish({ ...p.obj, status: 'split', runId: opts.runId, records: counts, problems: 0 }).then((applied) => {
    if (!applied) p.log.warn('another run took this file over while it was being split; its records are identical (same keys)');
  });
  return { result: { ...p.base, status: 'split', records: counts, lastOffsets }, recorded };
}

/** Nothing of the file is visible (its transaction never committed): let a rerun take it at once. */
async function release(obj: ObjectId, deps: SplitDeps, opts: SplitOptions, log: Logger): Promise<void> {
  await deps.ledger.release(obj, opts.runId).catch((e: unknown) => log.warn({ err: e }, 'could not release the claim; it goes stale on its own'));
}

/**
 * Every record carries where it came from, for reconciliation and dead-letter provenance, and the
 * version time of its file, which the CQL sink writes with (so a replayed older version never
 * overwrites a newer one).
 */
function withHeaders(e: EncodedFile, obj: ObjectId, lastModified: Date | undefined, opts: SplitOptions): OutRecord[] {
  const version: Record<string, string> = lastModified === undefined ? {} : { [HEADER.sourceLastModified]: lastModified.toISOString() };
  return e.keys.map((key, i) => ({
    topic: e.topics[i]!,
    key,
    value: e.values[i]!,
    partition: e.partitions[i],
    headers: {
      [HEADER.sourceBucket]: obj.bucket,
      [HEADER.sourceKey]: obj.key,
      [HEADER.sourceEtag]: obj.etag,
      ...version,
      [HEADER.recordIndex]: String(i),
      [HEADER.runId]: opts.runId,
      [HEADER.schemaId]: String(e.schemaIds[i]),
      [HEADER.schemaVersion]: String(e.schemaVersions[i]),
    },
  }));
}

/** Files prepared ahead of the one being produced: enough to keep the encoder busy, few enough to bound memory. */
const PREFETCH = 3;

/**
 * Splits objects in order, preparing the next files (read, validate, encode) while one is being
 * produced. Quarantines never stop the run; a retryable or fatal error does, and the manifest then
 * says so (what was split before it stays split, the rest stays unclaimed).
 */
export async function splitAll(
  targets: { bucket: string; key: string }[],
  deps: SplitDeps,
  opts: SplitOptions,
  onFile?: (r: FileResult, done: number) => void,
): Promise<{ manifest: Manifest; error?: RapflowError }> {
  const manifest: Manifest = { runId: opts.runId, startedAt: new Date().toISOString(), files: [], totals: {}, ...(opts.schemas ? { schemas: opts.schemas } : {}) };
  // Settled promises: a prefetch or a ledger write that fails while we wait elsewhere must not go unhandled.
  type Settled<T> = Promise<{ value: T } | { error: unknown }>;
  const settle = <T>(p: Promise<T>): Settled<T> =>
    p.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
  const ahead: Settled<Prepared>[] = [];
  const recorded: Settled<void>[] = [];
  let started = 0;
  const fill = () => {
    while (ahead.length < PREFETCH && started < targets.length) ahead.push(settle(prepare(targets[started++]!, deps, opts)));
  };
  let failure: unknown;
  try {
    fill();
    while (ahead.length > 0) {
      const current = await ahead.shift()!;
      if ('error' in current) throw current.error;
      fill();
      const { result, recorded: r } = await commit(current.value, deps, opts);
      recorded.push(settle(r));
      manifest.files.push(result);
      if (result.status === 'split') for (const [topic, n] of Object.entries(result.records)) manifest.totals[topic] = (manifest.totals[topic] ?? 0) + n;
      onFile?.(result, manifest.files.length);
    }
  } catch (err) {
    failure = err;
    // Files prepared ahead hold claims: give them back.
    for (const pending of await Promise.all(ahead.splice(0))) {
      if ('value' in pending && !pending.value.final) await release(pending.value.obj, deps, opts, pending.value.log);
    }
  }
  for (const r of await Promise.all(recorded)) if ('error' in r && failure === undefined) failure = r.error;
  manifest.finishedAt = new Date().toISOString();
  if (failure === undefined) return { manifest };
  const e = failure instanceof RapflowError ? failure : new RapflowError('INTERNAL', failure instanceof Error ? failure.message : 'split failed', { cause: failure });
  manifest.stoppedBy = { code: e.code, message: e.message };
  return { manifest, error: e };
}
