// The consumer's stages overlapped, whichever client fetches: a batch is prepared (decoded) as
// soon as it is fetched, written while the next ones are fetched and prepared, and committed once
// it and every earlier batch of its partition were written. Written by hand: neither Kafka client
// pipelines a batch past its handler (kafkajs fetches again only after eachBatch resolved, and
// @platformatic/kafka's stream hands messages over one by one), and a general-purpose queue
// library would still leave the per-partition commit order, which is the point, to us.
import { RetryInterrupted } from '../retry.js';
import type { ConsumerTuning } from './types.js';

/** What a batch handler gives back: nothing (done when it resolved), or the write stage still to run. */
export type BatchWrite = void | (() => Promise<void>);

export interface FlowBatch {
  /** The partition the batch belongs to (`topic:partition`): batches of one key are written and committed in order. */
  key: string;
  /** Runs at once, in fetch order (decoding); may hand back the write, run after the key's earlier batches. */
  prepare: () => Promise<BatchWrite>;
  /** Commits past the batch; runs only after it and every earlier batch of its key were written. */
  commit: () => Promise<void>;
}

export interface FlowOptions {
  /**
   * Batches taken and not yet committed, at most: the consumer's memory is bounded by this times
   * the batch size (plus the client's fetch buffer), and the fetch loop waits while it is reached.
   */
  maxInFlight: number;
  /** The first error of a batch (not a stop's RetryInterrupted): the consumer fails with it. */
  fail: (err: unknown) => void;
}

export class BatchFlow {
  private inFlight = 0;
  /** Per key, the last batch's end: true when it was committed, false when it was not (and nothing after it may be). */
  private readonly tails = new Map<string, Promise<boolean>>();
  /** The fetch loop waiting for room, and callers of idle(). */
  private readonly waiting: (() => void)[] = [];
  private readonly idlers: (() => void)[] = [];
  private closed = false;
  /** A batch failed: the consumer is failing, no batch is taken any more. */
  private broken = false;

  constructor(private readonly options: FlowOptions) {
    if (!(options.maxInFlight >= 1)) throw new RangeError(`maxInFlight must be 1 or more, got ${options.maxInFlight}`);
  }

  /** Batches taken and not yet committed or given up. */
  get size(): number {
    return this.inFlight;
  }

  /**
   * Takes a batch: prepares it now, writes and commits it in the key's order. Resolves once another
   * batch may be taken (there is room); `false` when the flow no longer takes batches (closed, or a
   * batch failed): this one was not taken and stays uncommitted, to be delivered again.
   */
  async push(batch: FlowBatch): Promise<boolean> {
    while (this.inFlight >= this.options.maxInFlight && !this.closed && !this.broken) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.closed || this.broken) return false;
    this.inFlight++;
    let write: BatchWrite;
    try {
      write = await batch.prepare();
    } catch (err) {
      this.release();
      this.failWith(err);
      return false;
    }
    const previous = this.tails.get(batch.key) ?? Promise.resolve(true);
    const done = previous.then(async (earlierCommitted) => {
      try {
        // A batch whose predecessor was not written must not commit past it (other keys go on:
        // what they wrote may be committed).
        if (!earlierCommitted) return false;
        if (write) await write();
        await batch.commit();
        return true;
      } catch (err) {
        this.failWith(err);
        return false;
      } finally {
        this.release();
      }
    });
    this.tails.set(batch.key, done);
    return true;
  }

  /** Takes no more batches; those taken go on. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /** Resolves once every batch taken was committed or given up. */
  async idle(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idlers.push(resolve));
  }

  private release(): void {
    this.inFlight--;
    this.wake();
    if (this.inFlight === 0) for (const resolve of this.idlers.splice(0)) resolve();
  }

  private wake(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  /**
   * A batch that was not written: its key commits nothing after it. A stop's interrupted retry is
   * not a failure (the flow is closed already); anything else fails the consumer and the flow
   * takes no more batches.
   */
  private failWith(err: unknown): void {
    if (err instanceof RetryInterrupted) return;
    this.broken = true;
    this.wake();
    this.options.fail(err);
  }
}

/**
 * The batch consumer's defaults, from bench/probe runs of a consumer alone on the bench/e2e corpus
 * (525,500 records, 2 cores): fetches of 1, 2 or 8 MiB and 2 or 4 batches in hand gave the same
 * rate within noise, so the smaller fetch; the clients' own defaults (50 MB a fetch for
 * @platformatic/kafka, 10 MB for kafkajs) only add memory.
 */
export const DEFAULT_CONSUMER_TUNING: ConsumerTuning = { maxBatch: 1_000, maxInFlight: 4, fetchMaxBytes: 2 * 2 ** 20, partitionMaxBytes: 2 ** 20 };

/**
 * The V8 heap the consumer process runs with (NODE_OPTIONS of the chart's Deployment, and of the
 * benchmarks' consumers). Measured on the bench/e2e corpus: the heap after a full GC held 84 MB
 * mid-run (a snapshot: strings 31 MB, code 14 MB), yet Node's defaults let the consumer grow to
 * 570-950 MB, because V8 sizes its heap to the machine and collects late. With old space 192 MB and
 * a 16 MB semi-space it peaked at 272-289 MB and wrote 22,400 (platformatic) and 26,200 (kafkajs)
 * records/s alone; with old space 128-160 MB it spent its time collecting (11-13k records/s), and
 * capping old space without setting the semi-space shrank the young generation with it (10-11k).
 */
export const CONSUMER_NODE_OPTIONS = '--max-old-space-size=192 --max-semi-space-size=16';

export function consumerTuning(partial: Partial<ConsumerTuning> = {}): ConsumerTuning {
  const t = { ...DEFAULT_CONSUMER_TUNING, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) };
  for (const [k, v] of Object.entries(t)) if (!Number.isInteger(v) || v < 1) throw new RangeError(`consumer tuning: ${k} must be a whole number of 1 or more, got ${v}`);
  return t;
}
