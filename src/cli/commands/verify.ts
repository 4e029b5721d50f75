// `rapflow verify --manifest <file|dir>...`: wait for the consumer, then reconcile each split file with the rows.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadSchemaSet, topicOf } from '../../codec/schemas.js';
import { projectPath } from '../../config/paths.js';
import { RapflowError } from '../../errors.js';
import type { Manifest } from '../../pipeline/split.js';
import { parseManifests, reconcile, waitForConsumer, type VerifyDeps, type VerifyReport } from '../../pipeline/verify.js';
import { kafkaOf, readerOf, sinkKindOf, stargateOf, storeOf } from '../adapters.js';
import { StargateReader } from '../../store/stargate/reader.js';
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

export function verifyDeps(ctx: CliContext, reader: VerifyDeps['reader']): VerifyDeps {
  const c = ctx.config;
  const kafka = kafkaOf(c, 'verify');
  const store = storeOf(c);
  const docs = sinkKindOf(c) === 'stargate' ? new StargateReader(stargateOf(c), c.cassandra.keyspace) : undefined;
  return {
    ...(docs ? { documents: (kind: 'Song' | 'Artist' | 'Meetup', ids: string[]) => docs.existingDocuments(kind, ids) } : {}),
    committed: (topics) => kafka.committedOffsets(c.kafka.consumerGroup, topics),
    read: async (bucket, key) => {
      const ref = await store.stat(bucket, key);
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
  const reader = await readerOf(ctx.config);
  try {
    const deps = verifyDeps(ctx, reader);
    const lag = await waitForConsumer(manifests, deps, timeoutS * 1000);
    if (lag.length > 0) {
      const where = lag.map((b) => `${b.topic}[${b.partition}] committed ${b.committed}, needs ${b.needed}`).join('; ');
      throw new RapflowError('CONSUMER_BEHIND', `group ${ctx.config.kafka.consumerGroup} has not consumed what split produced after ${timeoutS} s: ${where}`);
    }
    return await reconcile(manifests, deps);
  } finally {
    await reader.close();
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
    .description('wait until the consumer has committed past what split produced, then check each file: records produced == rows readable (or dead-lettered); with SINK=stargate, and documents')
    .requiredOption('--manifest <paths...>', 'split manifests: files or folders of them')
    .option('--timeout <seconds>', 'how long to wait for the consumer to catch up', '120')
    .option('--json', 'machine-readable report')
    .action(async (opts: { manifest: string[]; timeout: string; json?: boolean }) => {
      const timeout = seconds(opts.timeout, '--timeout');
      const manifests = await loadManifests(opts.manifest);
      const report = await verifyManifests(ctx, manifests, timeout);
      ctx.out(opts.json ? JSON.stringify(report, null, 2) : formatVerify(report));
      if (!report.ok) {
        const bad = report.files.filter((f) => f.status === 'mismatch');
        throw new RapflowError('VERIFY_MISMATCH', `${count(bad.length, 'file')} ${bad.length === 1 ? 'does' : 'do'} not reconcile: ${bad.map((f) => f.key).join(', ')}`);
      }
    });
}
