// `rapflow dlq list` and `rapflow dlq replay`: the dead letters waiting, and their replay after a fix through the consumer's own path.
import { Option, type Command } from 'commander';
import type { Registry } from '../../codec/registry.js';
import { loadSchemaSet, topicOf } from '../../codec/schemas.js';
import type { Config } from '../../config/index.js';
import { projectPath } from '../../config/paths.js';
import { classify } from '../../errors.js';
import { letterOf, listLetters, positionOf, replayLetters, type DeadLetterRecord, type DeadLetterValue, type DlqListing, type ReplayTotals, type UnreadableLetter } from '../../pipeline/dlq.js';
import type { RetryPolicy } from '../../retry.js';
import { CqlReplayLedger } from '../../store/cql/replays.js';
import type { KafkaTransport } from '../../transport/index.js';
import { cqlOf, kafkaOf, loggerOf, registryOf } from '../adapters.js';
import type { CliContext } from '../context.js';
import { count, formatTable } from '../format.js';
import { seconds, wholeNumber } from '../options.js';
import { Progress } from '../progress.js';
import { openConsumePath } from './consume.js';

/** As patient with the database as the consumer is. */
const REPLAY_RETRY: RetryPolicy = { attempts: 10, initialDelayMs: 500, maxDelayMs: 10_000 };

/** Every dead letter on the topic now, decoded; those that are no DeadLetter are set apart with why. */
export async function readLetters(c: Config, kafka: KafkaTransport, registry: Registry, timeoutS: number): Promise<{ letters: DeadLetterRecord[]; unreadable: UnreadableLetter[] }> {
  const type = loadSchemaSet(projectPath('avro')).types.get('DeadLetter')!;
  const letters: DeadLetterRecord[] = [];
  const unreadable: UnreadableLetter[] = [];
  for (const m of await kafka.readToEnd(topicOf('DeadLetter', c.kafka.topicPrefix), timeoutS * 1000)) {
    try {
      letters.push(letterOf(m, (await registry.decode(m.value ?? Buffer.alloc(0), type)) as DeadLetterValue));
    } catch (err) {
      if (classify(err) === 'retryable') throw err;
      unreadable.push({ at: positionOf(m), problem: err instanceof Error ? err.message : String(err) });
    }
  }
  return { letters, unreadable };
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function formatListing(dlqTopic: string, l: DlqListing): string {
  const lines = [
    `${dlqTopic}: ${count(l.total, 'dead letter')}: ${l.byState.waiting} waiting, ${l.byState.written} written by a replay, ${l.byState.superseded} replaced by a newer dead letter`,
  ];
  if (l.waiting.length > 0) {
    lines.push('');
    const rows = l.waiting.map((g) => [String(g.count), g.sourceTopic, g.code, clip(g.reason.replace(/\s+/g, ' '), 160)]);
    lines.push(formatTable(['WAITING', 'FROM', 'CODE', 'REASON'], rows));
    for (const g of l.waiting) {
      lines.push(`  ${g.count} ${g.sourceTopic} ${g.code}: e.g. ${g.examples.join(', ')}${g.files.length ? `; from ${g.files.slice(0, 3).join(', ')}${g.files.length > 3 ? `, and ${count(g.files.length - 3, 'more file')}` : ''}` : ''}`);
    }
    lines.push('', 'fix the cause (register the schema, deploy the consumer that reads it, migrate the table), then: rapflow dlq replay');
  }
  for (const u of l.unreadable) lines.push(`not a dead letter: ${u.at}: ${u.problem}`);
  return lines.join('\n');
}

export function formatReplay(dlqTopic: string, t: ReplayTotals, sink: string): string {
  const done = t.skipped ? `; ${t.skipped} done with by an earlier replay, not replayed again` : '';
  const line = `replayed ${count(t.replayed, 'dead letter')} of ${dlqTopic} ${sink}: ${t.written} written, ${t.failing} still failing for the same reason, ${t.deadLettered} dead-lettered again with a new reason${done}`;
  return t.failing + t.deadLettered > 0 ? `${line}\nwaiting: ${t.failing + t.deadLettered} (rapflow dlq list)` : line;
}

export function registerDlq(program: Command, ctx: CliContext): void {
  const dlq = program.command('dlq').description('the dead-letter topic: what waits there, and replaying it after a fix');
  const timeoutOption = () => new Option('--read-timeout <seconds>', 'how long reading the dead-letter topic to its end may take').default(120).argParser((v) => seconds(v, '--read-timeout'));

  dlq
    .command('list')
    .description('the dead letters waiting (never replayed, or still failing for their reason), grouped by source topic, code and reason, with what replays made of the others')
    .option('--json', 'machine-readable listing (every reason whole)')
    .addOption(timeoutOption())
    .action(async (opts: { json?: boolean; readTimeout: number }) => {
      const c = ctx.config;
      const { letters, unreadable } = await readLetters(c, kafkaOf(c, 'dlq'), registryOf(c), opts.readTimeout);
      const dlqTopic = topicOf('DeadLetter', c.kafka.topicPrefix);
      const cql = cqlOf(c);
      try {
        await cql.connect();
        const listing = listLetters(letters, await new CqlReplayLedger(cql).outcomes(dlqTopic), unreadable);
        ctx.out(opts.json ? JSON.stringify(listing, null, 2) : formatListing(dlqTopic, listing));
      } finally {
        await cql.close();
      }
    });

  dlq
    .command('replay')
    .description('after a fix, each waiting dead letter through the consumer\'s decode and sink again (idempotent upserts; over CQL at the record\'s own version time); what fails for its old reason stays, what fails for a new one becomes a new dead letter, once')
    .addOption(new Option('--batch <n>', 'dead letters per batch; outcomes are recorded after each').default(100).argParser((v) => wholeNumber(v, '--batch', 1)))
    .option('--json', 'machine-readable totals')
    .addOption(timeoutOption())
    .action(async (opts: { batch: number; json?: boolean; readTimeout: number }) => {
      const c = ctx.config;
      const log = loggerOf(c, 'dlq-replay', false);
      const path = await openConsumePath(ctx, log, 'dlq-replay');
      const cql = cqlOf(c);
      try {
        await cql.connect();
        const { letters, unreadable } = await readLetters(c, path.kafka, path.registry, opts.readTimeout);
        for (const u of unreadable) log.warn({ at: u.at, problem: u.problem }, 'not a dead letter: left alone');
        let bar: Progress | undefined; // a bar on a terminal; the log line is for everyone else
        const totals = await replayLetters(path.dlqTopic, letters, {
          decode: path.decode,
          sink: path.sink,
          deadLetter: path.deadLetter,
          ledger: new CqlReplayLedger(cql),
          log,
          retry: REPLAY_RETRY,
          batchSize: opts.batch,
          onProgress: (done, total, t) => {
            bar ??= new Progress(total, 'replaying dead letters');
            bar.update(done, `${t.written} written, ${t.failing + t.deadLettered} failing`);
            log.info({ done, total, written: t.written, failing: t.failing, deadLettered: t.deadLettered }, 'replayed a batch of dead letters');
          },
        });
        const sink = path.kind === 'stargate' ? 'through Stargate' : 'over CQL';
        ctx.out(opts.json ? JSON.stringify({ dlqTopic: path.dlqTopic, sink: path.kind, ...totals }, null, 2) : formatReplay(path.dlqTopic, totals, sink));
      } finally {
        await Promise.allSettled([cql.close(), path.close()]);
      }
    });
}
