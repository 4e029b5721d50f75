// How a file's records are cut into sends and how a send's offsets are read back: the same for
// every Kafka client, so both clients put the same records in the same batches and partitions.
import { RapflowError } from '../errors.js';
import { partitionFor } from './partition.js';
import type { LastOffsets, OutRecord } from './types.js';

/** The producer knobs chosen by measurement (bench/split, bench/e2e). */
export interface ProducerTuning {
  compression: 'none' | 'gzip';
  /** Records per send() call inside one file's transaction, at most. */
  chunk: number;
  /**
   * Bytes of keys, values and headers per send() call, at most (a record larger than this goes
   * alone). A send's records for one partition become one record batch, which the broker refuses
   * when it is over `message.max.bytes` (1 MiB by default, in Strimzi too); this keeps every batch
   * under it even when a send's records all go to one partition.
   */
  maxSendBytes: number;
}

/**
 * No compression: on 2 shared cores it made the whole pipeline about a fifth faster than gzip
 * (bench/e2e), since gzip costs CPU in the producer, the broker (which decompresses to validate)
 * and the consumer; bench/split's settings table shows the bare producer no slower without it.
 * On a network that is the bottleneck, gzip is the knob to turn.
 */
export const DEFAULT_PRODUCER_TUNING: ProducerTuning = { compression: 'none', chunk: 5_000, maxSendBytes: 768 * 1024 };

/** The bytes a record adds to a request, roughly: key, value, header names and values, and a little framing. */
function recordBytes(r: Pick<OutRecord, 'key' | 'value' | 'headers'>): number {
  let n = 16 + r.key.length + r.value.length;
  for (const k in r.headers) n += k.length + r.headers[k]!.length + 2;
  return n;
}

/**
 * Splits a file's records into sends within `tuning`'s count and byte limits, in order: each
 * send is records[start, end).
 */
export function planSends(records: Pick<OutRecord, 'key' | 'value' | 'headers'>[], tuning: Pick<ProducerTuning, 'chunk' | 'maxSendBytes'>): [number, number][] {
  const sends: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  for (let k = 0; k < records.length; k++) {
    const size = recordBytes(records[k]!);
    if (k > start && (k - start >= tuning.chunk || bytes + size > tuning.maxSendBytes)) {
      sends.push([start, k]);
      start = k;
      bytes = 0;
    }
    bytes += size;
  }
  if (records.length > start) sends.push([start, records.length]);
  return sends;
}

/** Partitions per topic, for records that come without one. */
export class Partitions {
  constructor(private readonly counts: Map<string, number>) {}

  byTopic(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Kafka's default partitioner (murmur2 of the key), as the Java client, kafkajs and our encoders choose. */
  of(topic: string, key: string): number {
    const n = this.counts.get(topic);
    if (n === undefined) throw new RapflowError('CONFIG_INVALID', `topic ${topic} is unknown to the producer; create the topics first`);
    return partitionFor(key, n);
  }
}

/** One send: its records by topic (every record with its partition set) and how many go to each partition. */
export interface PlannedSend {
  byTopic: Map<string, OutRecord[]>;
  counts: Map<string, number>;
}

/** Gives each record of records[start, end) its partition, and groups them for one send. */
export function prepareSend(records: OutRecord[], start: number, end: number, partitions: Partitions): PlannedSend {
  const byTopic = new Map<string, OutRecord[]>();
  const counts = new Map<string, number>();
  for (let k = start; k < end; k++) {
    const r = records[k]!;
    r.partition ??= partitions.of(r.topic, r.key);
    let list = byTopic.get(r.topic);
    if (!list) byTopic.set(r.topic, (list = []));
    list.push(r);
    const tp = `${r.topic}/${r.partition}`;
    counts.set(tp, (counts.get(tp) ?? 0) + 1);
  }
  return { byTopic, counts };
}

/** baseOffset is the first record a partition got from a send; the last is base + count - 1. */
export function recordLast(last: LastOffsets, written: { topic: string; partition: number; baseOffset: string | bigint | undefined }[], counts: Map<string, number>): void {
  for (const m of written) {
    const count = counts.get(`${m.topic}/${m.partition}`) ?? 0;
    if (count === 0 || m.baseOffset === undefined) continue;
    const t = (last[m.topic] ??= {});
    const end = (BigInt(m.baseOffset) + BigInt(count) - 1n).toString();
    const prev = t[String(m.partition)];
    if (prev === undefined || BigInt(end) > BigInt(prev)) t[String(m.partition)] = end;
  }
}

/** A file's transaction as a client runs it: sends of planned records, then commit or abort. */
export interface FileTransaction {
  /** Sends one planned send; resolves with the base offset each partition got. */
  send(send: PlannedSend): Promise<{ topic: string; partition: number; baseOffset: string | bigint | undefined }[]>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * One file, one transaction, whichever client runs it: the records cut into sends (planSends),
 * each record on its partition, the last offsets read back from the sends; any failure aborts
 * the transaction, so read_committed readers see all of the file or none of it.
 */
export class TransactionalFileProducer {
  constructor(
    private readonly client: {
      begin: () => Promise<FileTransaction>;
      close: () => Promise<void>;
      mapError: (err: unknown, what: string) => Error;
    },
    private readonly tuning: ProducerTuning,
    private readonly partitions: Partitions,
  ) {}

  partitionsByTopic(): Record<string, number> {
    return this.partitions.byTopic();
  }

  partitionOf(topic: string, key: string): number {
    return this.partitions.of(topic, key);
  }

  async sendAtomically(records: OutRecord[]): Promise<LastOffsets> {
    const tx = await this.client.begin().catch((err: unknown) => {
      throw this.client.mapError(err, 'starting a transaction');
    });
    const last: LastOffsets = {};
    try {
      for (const [start, end] of planSends(records, this.tuning)) {
        const send = prepareSend(records, start, end, this.partitions);
        recordLast(last, await tx.send(send), send.counts);
      }
      await tx.commit();
      return last;
    } catch (err) {
      await tx.abort().catch(() => undefined); // the coordinator aborts it on timeout anyway
      throw this.client.mapError(err, 'producing a file');
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
