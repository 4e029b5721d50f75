// The pipeline's view of Kafka: what split, consume, verify and report need, whichever client
// implements it (kafkajs/ or platformatic/; index.ts picks one from KAFKA_CLIENT).
import type { TopicSpec } from './topics.js';
import type { BatchWrite } from './flow.js';
import type { ProducerTuning } from './sends.js';

export const KAFKA_CLIENTS = ['kafkajs', 'platformatic'] as const;
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];
/**
 * The client the pipeline uses unless KAFKA_CLIENT says otherwise: @platformatic/kafka, maintained,
 * through the whole fault matrix, and the faster in bench/split (paired rounds); bench/e2e's single
 * run per client had kafkajs faster end to end (figures: docs/split.md, docs/performance.md,
 * docs/reliability.md). kafkajs has had no release since 2023.
 */
export const DEFAULT_KAFKA_CLIENT: KafkaClientName = 'platformatic';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  sasl?: { mechanism: 'scram-sha-512' | 'scram-sha-256'; username: string; password: string };
  tls?: boolean;
  /** PEM of the CA that signed the brokers' certificates (Strimzi's cluster CA). */
  ca?: string;
}

/** A consumed message as the pipeline sees it: headers as strings, key and value as bytes. */
export interface InMessageLike {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /**
   * One header, without building `headers` (the consumer reads one header of every record, the
   * file's version time; building all seven showed as 4 % of its busy time). Absent: read `headers`.
   */
  header?(name: string): string | undefined;
}

/** A header of a consumed message, by `header` where the client gives it. */
export const headerOf = (m: Pick<InMessageLike, 'headers' | 'header'>, name: string): string | undefined => (m.header ? m.header(name) : m.headers[name]);

export interface OutRecord {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  /** Chosen by the Java-compatible default partitioner (partitionFor) when absent. */
  partition?: number;
}

/** Highest offset written per topic and partition. */
export type LastOffsets = Record<string, Record<string, string>>;

/** What a running consumer gives its owner: stop it (after the work in hand), or learn that it failed. */
export interface RunningConsumer {
  stop: () => Promise<void>;
  /** Resolves after stop(); rejects with the first error of the handler. */
  done: Promise<void>;
}

/**
 * Handles one partition's messages, in order. It runs as soon as they are fetched (decoding) and
 * either resolves when they may be committed, or hands back their write stage, run after the
 * partition's earlier writes while later batches are fetched and prepared (flow.ts); the batch is
 * committed once that resolved. `lag` (for the lag metric): records of the partition after these,
 * as far as the client knows (undefined until it does).
 */
export type BatchHandler = (messages: InMessageLike[], heartbeat: () => Promise<void>, lag: number | undefined) => Promise<BatchWrite>;

/** How much a batch consumer fetches and holds: its memory is about maxInFlight x maxBatch records plus one fetch. */
export interface ConsumerTuning {
  /** Records handed to the handler at most at once (one partition's). */
  maxBatch: number;
  /** Batches taken and not yet committed (flow.ts): prepared, being written, or waiting for an earlier one of their partition. */
  maxInFlight: number;
  /** Bytes one fetch response may carry, all partitions together. */
  fetchMaxBytes: number;
  /** Bytes one fetch response may carry for one partition. */
  partitionMaxBytes: number;
}

/** A producer whose every file is one Kafka transaction (split). */
export interface FileProducer {
  /** Partitions per topic, as the producer knows them (for encoders that choose partitions ahead). */
  partitionsByTopic(): Record<string, number>;
  partitionOf(topic: string, key: string): number;
  /** Sends all records in one transaction with acks=all; returns the last offsets written. */
  sendAtomically(records: OutRecord[]): Promise<LastOffsets>;
  close(): Promise<void>;
}

/** A plain idempotent producer with acks=all (dead letters); errors come out as RapflowErrors. */
export interface RecordSender {
  /** `what` names the send in its error (default: producing to the topic). */
  send(topic: string, record: { key: Buffer | null; value: Buffer; headers: Record<string, string> }, what?: string): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaTransport {
  readonly client: KafkaClientName;
  /** Creates the topics that do not exist yet; returns the names it created. */
  ensureTopics(specs: TopicSpec[]): Promise<string[]>;
  /**
   * A producer whose every file is one Kafka transaction: read_committed consumers see all of a
   * file's records or none, even when the split dies half-way.
   */
  transactionalProducer(transactionalId: string, topics: string[], tuning?: ProducerTuning): Promise<FileProducer>;
  /**
   * Consumes `topic` in group `groupId` from the newest offset on first start, one message at a
   * time, committing each offset only after `handle` resolved. `done` rejects with the handler's
   * error, leaving that message uncommitted so it is delivered again.
   */
  follow(topic: string, groupId: string, handle: (value: Buffer | null) => Promise<void>, onReady?: () => void): Promise<RunningConsumer>;
  /**
   * A consumer group on `topics` (read_committed) handing over one partition's messages at a time,
   * at most `tuning.maxBatch`, with up to `tuning.maxInFlight` batches in hand (BatchHandler); a
   * partition's offsets are committed in order, each only after its batch was written. The first
   * error of `handle` stops the consumer (no silent restart loop) and rejects `done`; `stop()`
   * stops fetching, finishes the batches in hand and leaves the group. A RetryInterrupted from
   * `handle` leaves the batch (and the later ones of its partition) uncommitted and is not a failure.
   */
  consumeBatches(topics: string[], groupId: string, handle: BatchHandler, tuning?: Partial<ConsumerTuning>): Promise<RunningConsumer>;
  /** Offsets a consumer group has committed (the next offset it will read), per topic and partition; "-1" when none. */
  committedOffsets(groupId: string, topics: string[]): Promise<LastOffsets>;
  /**
   * Every record of a topic as it stands now (up to the high watermarks read at the start), for
   * small topics written without transactions and read whole, like the dead-letter topic.
   */
  readToEnd(topic: string, timeoutMs?: number): Promise<InMessageLike[]>;
  /**
   * Per partition, the first offset Kafka still holds (`low`: later than 0 once retention deleted
   * records) and the next it will write (`high`), as decimal strings.
   */
  offsetRanges(topic: string): Promise<{ partition: number; low: string; high: string }[]>;
  /** Answers when a broker answers a metadata request (readiness). */
  ping(): Promise<void>;
  /** A plain idempotent producer (acks=all), for dead letters. */
  producer(): Promise<RecordSender>;
  partitionCounts(topics: string[]): Promise<Map<string, number>>;
}
