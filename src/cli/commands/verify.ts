// `rapflow verify --manifest <file|dir>...`: wait for the consumer, then reconcile each split file with the rows.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadSchemaSet, topicOf } from '../../codec/schemas.js';
import { projectPath } from '../../config/paths.js';
import { RapflowError } from '../../errors.js';
import type { Manifest } from '../../pipeline/split.js';
import { ledgerManifest, parseManifests, reconcile, waitForConsumer, type VerifyDeps, type VerifyReport } from '../../pipeline/verify.js';
import { cqlOf, kafkaOf, readerOf, sinkKindOf, stargateOf, storeOf } from '../adapters.js';
import { CqlDocuments } from '../../store/cql/documents.js';
import { CqlLedger } from '../../store/cql/ledger.js';
import type { CqlSession } from '../../store/cql/session.js';
import { StargateReader } from '../../store/stargate/reader.js';
import { COLLECTIONS } from '../../store/stargate/schema.js';
import type { CliContext } from '../context.js';
import { count } from '../format.js';
import { seconds } from '../options.js';

/** Manifests from files and folders (every *.json and *.jsonl in a folder, as Argo hands a directory artifact over). */
export async function loadManifests(paths: string[]): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => undefined);
    if (!info) throw new RapflowError('CONFIG_INVALID', `--manifest ${p}: no such file or folder`);
    const files = info.isDirectory()
      ? (await readdir(p, { recursive: true })).filter((f) => /\.jsonl?$/.test(f)).sort().map((f) => join(p, f))
      : [p];
    for (const f of files) out.push(...parseManifests(await readFile(f, 'utf8'), f));
  }
  return out;
}

/**
 * Documents are checked where the sink writes them (SINK=stargate), read the way rows are
 * (READ_API): through the Document API, or over CQL from the collections' tables, one partition per
 * document (store/cql/documents.ts).
 */
export function verifyDeps(ctx: CliContext, reader: VerifyDeps['reader'], cql?: CqlSession): VerifyDeps {
  const c = ctx.config;
  const kafka = kafkaOf(c, 'verify');
  const store = storeOf(c);
  let documents: VerifyDeps['documents'];
  if (sinkKindOf(c) === 'stargate') {
    if (c.read.api === 'stargate' || !cql) {
      const docs = new StargateReader(stargateOf(c), c.cassandra.keyspace);
      documents = (kind, ids) => docs.existingDocuments(kind, ids);
    } else {
      const docs = new CqlDocuments(cql);
      documents = (kind, ids) => docs.existing(COLLECTIONS[kind], ids);
    }
  }
  return {
    ...(documents ? { documents } : {}),
    committed: (topics) => kafka.committedOffsets(c.kafka.consumerGroup, topics),
    read: async (bucket, key) => {
      let ref;
      try {
        ref = await store.stat(bucket, key);
      } catch (err) {
        // stat's "no such object": a file deleted after it was split is a finding of its own, not the end of verify.
        if (err instanceof RapflowError && err.code === 'INPUT_INVALID' && err.context.objectKey === key) return undefined;
        throw err;
      }
      return { etag: ref.etag ?? '', bytes: await store.read(ref) };
    },
    reader,
    deadLetters: () => kafka.readToEnd(topicOf('DeadLetter', c.kafka.topicPrefix)),
    types: loadSchemaSet(projectPath('avro')).types,
    topicPrefix: c.kafka.topicPrefix,
  };
}

/** Waits (bounded) for the consumer group to pass what the manifests produced, then reconciles; CONSUMER_BEHIND when it does not catch up. */
export async function verifyManifests(ctx: CliContext, manifests: Manifest[], timeoutS: number): Promise<VerifyReport> {
  const c = ctx.config;
  const reader = await readerOf(c);
  // Only documents read over CQL need a session of their own.
  const cql = sinkKindOf(c) === 'stargate' && c.read.api === 'cql' ? cqlOf(c) : undefined;
  try {
    await cql?.connect();
    const deps = verifyDeps(ctx, reader, cql);
    const lag = await waitForConsumer(manifests, deps, timeoutS * 1000);
    if (lag.length > 0) {
      const where = lag.map((b) => `${b.topic}[${b.partition}] committed ${b.committed}, needs ${b.needed}`).join('; ');
      throw new RapflowError('CONSUMER_BEHIND', `group ${c.kafka.consumerGroup} has not consumed what split produced after ${timeoutS} s: ${where}`);
    }
    return await reconcile(manifests, deps);
  } finally {
    await Promise.allSettled([reader.close(), cql?.close()]);
  }
}

/** The whole ingest ledger of the inbox bucket as one manifest: every object's newest finished version. */
export async function ledgerManifestOf(ctx: CliContext): Promise<Manifest> {
  const cql = cqlOf(ctx.config);
  try {
    await cql.connect();
    return ledgerManifest(await new CqlLedger(cql).entries(ctx.config.s3.inboxBucket));
  } finally {
    await cql.close();
  }
}

export function formatVerify(report: VerifyReport): string {
  const lines: string[] = [];
  for (const f of report.files) {
    const counts = Object.entries(f.tables)
      .map(([t, c]) => `${t} ${c.found}/${c.expected}${c.deadLettered ? ` (+${c.deadLettered} dead-lettered)` : ''}`)
      .join(', ');
    lines.push(`${f.status.padEnd(11)} s3://${f.bucket}/${f.key}${counts ? `  ${counts}` : ''}`);
    for (const d of f.differences) lines.push(`            ${d}`);
  }
  const totals = Object.entries(report.totals).map(([t, c]) => `${t} ${c.found}/${c.expected}${c.deadLettered ? ` +${c.deadLettered} dead-lettered` : ''}`);
  const bad = report.files.filter((f) => f.status === 'mismatch').length;
  lines.push(
    report.ok
      ? `verified ${count(report.files.length, 'file')}: every record is a row or a dead letter (${totals.join(', ') || 'nothing produced'})`
      : `${bad} of ${count(report.files.length, 'file')} ${bad === 1 ? 'does' : 'do'} not reconcile (${totals.join(', ')})`,
  );
  return lines.join('\n');
}

export function registerVerify(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .description('check each file: records produced == rows readable (or dead-lettered); with SINK=stargate, and documents. --manifest: the files of split manifests, once the consumer has committed past them; --all: every file of the ingest ledger, as the store holds them now')
    .option('--manifest <paths...>', 'split manifests: files or folders of them')
    .option('--all', 'every file the ingest ledger has split or quarantined (the newest version of each object in the inbox bucket), without waiting for a consumer')
    .option('--timeout <seconds>', 'how long to wait for the consumer to catch up (with --manifest)', '120')
    .option('--json', 'machine-readable report')
    .action(async (opts: { manifest?: string[]; all?: boolean; timeout: string; json?: boolean }) => {
      const timeout = seconds(opts.timeout, '--timeout');
      if (Boolean(opts.all) === Boolean(opts.manifest)) throw new RapflowError('CONFIG_INVALID', 'verify what: pass --manifest <files> (what split produced) or --all (the whole ingest ledger), one of the two');
      const report = opts.all ? await verifyManifests(ctx, [await ledgerManifestOf(ctx)], 0) : await verifyManifests(ctx, await loadManifests(opts.manifest!), timeout);
      ctx.out(opts.json ? JSON.stringify(report, null, 2) : formatVerify(report));
      if (!report.ok) {
        const bad = report.files.filter((f) => f.status === 'mismatch');
        throw new RapflowError('VERIFY_MISMATCH', `${count(bad.length, 'file')} ${bad.length === 1 ? 'does' : 'do'} not reconcile: ${bad.map((f) => f.key).join(', ')}`);
      }
    });
}
