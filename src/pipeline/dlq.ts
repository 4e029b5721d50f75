// Dead letters after a fix: list them with what became of each, and replay them through the consumer's own decode-and-write path.
import type { Logger } from 'pino';
import { RapflowError } from '../errors.js';
import type { RetryPolicy } from '../retry.js';
import { HEADER } from '../transport/topics.js';
import type { InMessageLike } from '../transport/types.js';
import { processBatch, type ConsumeDeps, type InMessage } from './consume.js';

/** Header of a dead letter made by a replay: the position of the dead letter it replaced. */
export const REPLAY_OF_HEADER = 'rapflow.dlq.replay-of';

/** Where a record sits: `topic[partition]@offset`, as the consumer's messages name it. */
export const positionOf = (m: { topic: string; partition: number; offset: string }) => `${m.topic}[${m.partition}]@${m.offset}`;

/** One dead letter as read from the dead-letter topic. */
export interface DeadLetterRecord {
  /** Its own position on the dead-letter topic. */
  at: string;
  topic: string;
  partition: number;
  offset: string;
  code: string;
  reason: string;
  failedAt: Date;
  /** The original record, as the consumer read it: its topic, position, key, value and headers (without rapflow.dlq.*). */
  original: InMessage;
  /** The file it was split from, when its headers say. */
  file?: string;
  /** The dead letter this one replaced, when a replay made it. */
  replayOf?: string;
}

/** The DeadLetter Avro value (avro/DeadLetter.avsc) as the registry decodes it. */
export interface DeadLetterValue {
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number | bigint;
  key: Buffer | null;
  value: Buffer | null;
  errorCode: string;
  reason: string;
  failedAt: Date;
  consumerGroup: string;
}

/** A dead letter and its decoded value, as one record to replay. */
export function letterOf(m: InMessageLike, v: DeadLetterValue): DeadLetterRecord {
  const headers: Record<string, string> = {};
  for (const [k, value] of Object.entries(m.headers)) if (!k.startsWith('rapflow.dlq.')) headers[k] = value;
  const bucket = m.headers[HEADER.sourceBucket];
  const key = m.headers[HEADER.sourceKey];
  const replayOf = m.headers[REPLAY_OF_HEADER];
  return {
    at: positionOf(m),
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    code: v.errorCode,
    reason: v.reason,
    failedAt: v.failedAt,
    original: { topic: v.sourceTopic, partition: v.sourcePartition, offset: String(v.sourceOffset), key: v.key, value: v.value, headers },
    ...(key !== undefined ? { file: bucket !== undefined ? `s3://${bucket}/${key}` : key } : {}),
    ...(replayOf !== undefined ? { replayOf } : {}),
  };
}

/**
 * What a replay made of a dead letter: `written` (decoded and written: done), `failing` (it failed
 * again for the same reason, and stays as it is), `superseded` (it failed for another reason, and a
 * new dead letter with that reason, `rapflow.dlq.replay-of` this one, took its place).
 */
export type ReplayOutcome = 'written' | 'failing' | 'superseded';

export interface ReplayEntry {
  /** The dead letter's position (positionOf). */
  at: string;
  outcome: ReplayOutcome;
  /** The code and reason of the replay's failure (`failing`, `superseded`); empty when written. */
  code: string;
  reason: string;
  replayedAt: Date;
}

/** Where replay outcomes are kept, so a replay run twice, or interrupted and run again, does each dead letter once. */
export interface ReplayLedger {
  /** Every outcome recorded for dead letters of this topic, by position. */
  outcomes(dlqTopic: string): Promise<Map<string, ReplayEntry>>;
  record(dlqTopic: string, entries: ReplayEntry[]): Promise<void>;
}

/** `waiting`: never replayed, or replayed and still failing for the same reason; the other two are done with. */
export type LetterState = 'waiting' | 'written' | 'superseded';

export const stateOf = (entry: ReplayEntry | undefined): LetterState => (entry === undefined || entry.outcome === 'failing' ? 'waiting' : entry.outcome);

/** A dead letter on the topic that does not decode as a DeadLetter (produced there by something else). */
export interface UnreadableLetter {
  at: string;
  problem: string;
}

export interface LetterGroup {
  code: string;
  reason: string;
  sourceTopic: string;
  count: number;
  /** Up to a few positions of the records, for the reader to look at. */
  examples: string[];
  files: string[];
}

export interface DlqListing {
  total: number;
  byState: Record<LetterState, number>;
  /** The waiting dead letters, grouped by source topic, code and reason, the largest group first. */
  waiting: LetterGroup[];
  unreadable: UnreadableLetter[];
}

const SHOWN = 3;

export function listLetters(letters: DeadLetterRecord[], outcomes: Map<string, ReplayEntry>, unreadable: UnreadableLetter[] = []): DlqListing {
  const byState: Record<LetterState, number> = { waiting: 0, written: 0, superseded: 0 };
  const groups = new Map<string, LetterGroup>();
  for (const l of letters) {
    const state = stateOf(outcomes.get(l.at));
    byState[state]++;
    if (state !== 'waiting') continue;
    const id = `${l.original.topic}\n${l.code}\n${l.reason}`;
    const g = groups.get(id) ?? { code: l.code, reason: l.reason, sourceTopic: l.original.topic, count: 0, examples: [], files: [] };
    g.count++;
    if (g.examples.length < SHOWN) g.examples.push(positionOf(l.original));
    if (l.file !== undefined && !g.files.includes(l.file)) g.files.push(l.file);
    groups.set(id, g);
  }
  const waiting = [...groups.values()].sort((a, b) => b.count - a.count || a.sourceTopic.localeCompare(b.sourceTopic) || a.reason.localeCompare(b.reason));
  return { total: letters.length, byState, waiting, unreadable };
}

export interface ReplayDeps {
  /** The consumer's decode and sink (the same path a consumed record takes). */
  decode: ConsumeDeps['decode'];
  sink: ConsumeDeps['sink'];
  /** Produces a new dead letter for `m`, with `headers` added (REPLAY_OF_HEADER). */
  deadLetter: (m: InMessage, error: RapflowError, headers: Record<string, string>) => Promise<void>;
  ledger: ReplayLedger;
  log: Logger;
  retry: RetryPolicy;
  /** Dead letters per batch: each batch is decoded, written and its outcomes recorded before the next. */
  batchSize: number;
  /** After each batch: letters done so far of those to replay. */
  onProgress?: (done: number, total: number, totals: ReplayTotals) => void;
}

export interface ReplayTotals {
  /** Dead letters on the topic (readable ones). */
  letters: number;
  /** Done with before this run (written or superseded by an earlier replay): not replayed again. */
  skipped: number;
  replayed: number;
  written: number;
  /** Failed again for the reason they had: left as they are, no new dead letter. */
  failing: number;
  /** Failed for another reason: a new dead letter with that reason replaced each. */
  deadLettered: number;
}

/**
 * Replays every waiting dead letter of `letters` (all of the topic, in offset order): decode and
 * write through the consumer's path, in batches, recording each batch's outcomes before the next.
 * A letter that fails for its own reason again stays and is not dead-lettered twice; one that fails
 * for a new reason becomes a new dead letter marked as its replay, once: a replay interrupted after
 * producing it and run again finds it on the topic (`letters`) and does not produce it again.
 */
export async function replayLetters(dlqTopic: string, letters: DeadLetterRecord[], deps: ReplayDeps): Promise<ReplayTotals> {
  const outcomes = await deps.ledger.outcomes(dlqTopic);
  const todo = letters.filter((l) => stateOf(outcomes.get(l.at)) === 'waiting');
  const totals: ReplayTotals = { letters: letters.length, skipped: letters.length - todo.length, replayed: 0, written: 0, failing: 0, deadLettered: 0 };
  // The replays already on the topic: a new dead letter for (the letter it replaces, code, reason) is made once.
  const made = new Set(letters.filter((l) => l.replayOf !== undefined).map((l) => `${l.replayOf}\n${l.code}\n${l.reason}`));
  for (let i = 0; i < todo.length; i += deps.batchSize) {
    const batch = todo.slice(i, i + deps.batchSize);
    const letterOfMessage = new Map(batch.map((l) => [l.original, l]));
    const failed = new Map<DeadLetterRecord, ReplayEntry>();
    const deadLetter = async (m: InMessage, error: RapflowError): Promise<boolean> => {
      const letter = letterOfMessage.get(m);
      if (letter === undefined) throw new RapflowError('INTERNAL', `dlq replay: a dead letter for ${positionOf(m)} that this batch does not hold`);
      const entry = { at: letter.at, code: error.code, reason: error.message, replayedAt: new Date() };
      if (error.code === letter.code && error.message === letter.reason) {
        failed.set(letter, { ...entry, outcome: 'failing' });
        return false;
      }
      failed.set(letter, { ...entry, outcome: 'superseded' });
      const id = `${letter.at}\n${error.code}\n${error.message}`;
      if (made.has(id)) return false;
      await deps.deadLetter(m, error, { [REPLAY_OF_HEADER]: letter.at });
      made.add(id);
      return true;
    };
    await processBatch(
      batch.map((l) => l.original),
      { decode: deps.decode, sink: deps.sink, deadLetter, log: deps.log, heartbeat: () => Promise.resolve(), retry: deps.retry },
    );
    const entries = batch.map((l) => failed.get(l) ?? { at: l.at, outcome: 'written' as const, code: '', reason: '', replayedAt: new Date() });
    await deps.ledger.record(dlqTopic, entries);
    for (const e of entries) {
      totals.replayed++;
      if (e.outcome === 'written') totals.written++;
      else if (e.outcome === 'failing') totals.failing++;
      else totals.deadLettered++;
    }
    deps.onProgress?.(i + batch.length, todo.length, totals);
  }
  return totals;
}
