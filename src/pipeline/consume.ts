// The consume stage, over interfaces: decode a batch, write its records, dead-letter what cannot be written.
import type { Logger } from 'pino';
import type { RecordName } from '../codec/schemas.js';
import { classify, type RapflowError } from '../errors.js';
import { withRetry, type RetryPolicy } from '../retry.js';
import type { InMessageLike } from '../transport/types.js';

/** A consumed message: the shape the Kafka adapter hands over. */
export type InMessage = InMessageLike;

export interface Decoded {
  name: RecordName;
  record: Record<string, unknown>;
  /**
   * Microseconds since the epoch: the version time of the file the record was split from (header
   * `rapflow.source.last-modified`). A sink that can write with a timestamp uses it, so the newest
   * version wins whatever the arrival order; absent for records split before the header existed.
   */
  writeTime?: number;
}

/** A record the sink refused for its own data: `index` into the records it was given. */
export interface RecordFailure {
  index: number;
  error: RapflowError;
}

/**
 * Where decoded records go. Each backend maps records to its own shape (CQL rows, Stargate rows
 * and documents), so a document store sees a song whole. `write` is an upsert of every record, safe
 * to repeat; records refused for their own data come back by index, anything retryable or fatal
 * throws for the whole call.
 */
export interface RecordSink {
  write(records: Decoded[]): Promise<RecordFailure[]>;
}

export interface ConsumeDeps {
  /** Decodes with the writer's schema, resolved to ours; throws RECORD_UNDECODABLE for poison. */
  decode(m: InMessage): Promise<Decoded>;
  /**
   * The same at once, without a promise, when everything it needs is at hand (the writer's schema
   * fetched before); undefined when not, and `decode` is used. A batch then decodes in one go.
   */
  decodeSync?(m: InMessage): Decoded | undefined;
  sink: RecordSink;
  /**
   * Dead-letters a record. `false`: nothing produced, because the record is a dead letter for this
   * very reason already (a replayed dead letter that fails as before); it still counts as dead-lettered.
   */
  deadLetter(m: InMessage, error: RapflowError): Promise<void | boolean>;
  log: Logger;
  /** Called between retries so the group does not think the consumer died (kafkajs heartbeat). */
  heartbeat: () => Promise<void>;
  retry: RetryPolicy;
  /** Aborted when the consumer is told to stop: a retry wait ends at once, the batch stays uncommitted. */
  signal?: AbortSignal;
}

export interface BatchOutcome {
  records: number;
  written: number;
  deadLettered: number;
  retries: number;
}

const signalOf = (deps: ConsumeDeps) => (deps.signal ? { signal: deps.signal } : {});

/** A batch decoded: what goes to the sink, and what is poison already. */
export interface DecodedBatch {
  messages: InMessage[];
  records: Decoded[];
  /** records[i] came from messages[owner[i]]. */
  owner: number[];
  poison: { m: InMessage; error: RapflowError }[];
}

/**
 * Decodes a batch: synchronously where the schema is at hand, else through `decode` with retries.
 * Poison is set aside; a retryable failure past its retries throws for the whole batch.
 */
export async function decodeBatch(messages: InMessage[], deps: ConsumeDeps): Promise<DecodedBatch> {
  const batch: DecodedBatch = { messages, records: [], owner: [], poison: [] };
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    let decoded: Decoded;
    try {
      decoded =
        deps.decodeSync?.(m) ??
        (await withRetry(() => deps.decode(m), deps.retry, {
          onRetry: (err, attempt, delay) => {
            deps.log.warn({ err, attempt, delayMs: delay, topic: m.topic, partition: m.partition, offset: m.offset }, 'decode failed, retrying');
            void deps.heartbeat();
          },
          ...signalOf(deps),
        }));
    } catch (err) {
      if (classify(err) !== 'poison') throw err;
      batch.poison.push({ m, error: err as RapflowError });
      continue;
    }
    batch.records.push(decoded);
    batch.owner.push(i);
  }
  return batch;
}

/**
 * Writes a decoded batch completely: afterwards every message is either written or dead-lettered,
 * so the caller may commit past it. Retryable failures are retried (bounded) and then thrown,
 * leaving the batch uncommitted to be delivered again; a stop (`signal`) during a retry wait
 * throws RetryInterrupted, the batch likewise uncommitted.
 */
export async function writeBatch(batch: DecodedBatch, deps: ConsumeDeps): Promise<BatchOutcome> {
  const { messages, records, owner } = batch;
  const outcome: BatchOutcome = { records: messages.length, written: 0, deadLettered: 0, retries: 0 };
  const poison = [...batch.poison];
  const failures = await withRetry(() => deps.sink.write(records), deps.retry, {
    onRetry: (err, attempt, delay) => {
      outcome.retries++;
      deps.log.warn({ err, attempt, delayMs: delay }, 'sink unavailable, retrying the batch');
      void deps.heartbeat();
    },
    ...signalOf(deps),
  });
  for (const f of failures) poison.push({ m: messages[owner[f.index]!]!, error: f.error });
  for (const p of poison) {
    const produced = await withRetry(() => deps.deadLetter(p.m, p.error), deps.retry, signalOf(deps));
    const where = { topic: p.m.topic, partition: p.m.partition, offset: p.m.offset, code: p.error.code, reason: p.error.message };
    if (produced === false) deps.log.info(where, 'still a dead letter for the same reason');
    else deps.log.warn(where, 'record dead-lettered');
  }
  outcome.deadLettered = poison.length;
  outcome.written = messages.length - poison.length;
  return outcome;
}

/** Decodes and writes one batch (decodeBatch, then writeBatch): for callers that do not overlap the two. */
export async function processBatch(messages: InMessage[], deps: ConsumeDeps): Promise<BatchOutcome> {
  return writeBatch(await decodeBatch(messages, deps), deps);
}
