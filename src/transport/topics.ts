// The topics rapflow uses, with the settings the local stack creates them with (Strimzi's KafkaTopics mirror them).
import { topicOf } from '../codec/schemas.js';
import { RapflowError } from '../errors.js';

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Copies of each partition; the broker's default.replication.factor when absent. */
  replicationFactor?: number;
  /** Topic-level configs, as KafkaTopic `spec.config` would hold them. */
  config: Record<string, string>;
}

export const INBOX_EVENTS_TOPIC = 'rap.inbox-events';

/** Partitions: records keyed by id spread evenly; replicas: 1 locally, 3 on a cluster (strimzi/). */
export function rapTopics(prefix = ''): TopicSpec[] {
  const week = String(7 * 24 * 3600 * 1000);
  return [
    { name: topicOf('Song', prefix), partitions: 3, config: { 'retention.ms': week } },
    { name: topicOf('LyricLine', prefix), partitions: 3, config: { 'retention.ms': week } },
    { name: topicOf('Artist', prefix), partitions: 1, config: { 'retention.ms': week } },
    { name: topicOf('Meetup', prefix), partitions: 1, config: { 'retention.ms': week } },
    // Dead letters wait for a human: keep them a month.
    { name: topicOf('DeadLetter', prefix), partitions: 1, config: { 'retention.ms': String(30 * 24 * 3600 * 1000) } },
  ];
}

/** Where MinIO publishes bucket events; not prefixed: the object store's configuration names it. */
export function eventsTopic(name = INBOX_EVENTS_TOPIC): TopicSpec {
  return { name, partitions: 1, config: { 'retention.ms': String(7 * 24 * 3600 * 1000) } };
}

/** Record headers every produced record carries (reconciliation and dead-letter provenance). */
export const HEADER = {
  sourceBucket: 'rapflow.source.bucket',
  sourceKey: 'rapflow.source.key',
  sourceEtag: 'rapflow.source.etag',
  /** The source object's version time (its Last-Modified in the bucket), ISO 8601: the CQL sink's write time. */
  sourceLastModified: 'rapflow.source.last-modified',
  recordIndex: 'rapflow.record.index',
  runId: 'rapflow.run.id',
  schemaId: 'rapflow.schema.id',
  schemaVersion: 'rapflow.schema.version',
} as const;

/**
 * The write time of a record's rows, in microseconds since the epoch (Cassandra's `USING
 * TIMESTAMP` unit): its source file's version time, so the newest version of a file wins whatever
 * order its records arrive in. Undefined for a record without the header (split before it carried
 * one); a header that is not a time makes the record poison.
 */
export function writeTimeOf(headers: Readonly<Record<string, string>>): number | undefined {
  return writeTimeFrom(headers[HEADER.sourceLastModified]);
}

/** The same, from the header's text (headerOf reads it without building every header). */
export function writeTimeFrom(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RapflowError('RECORD_UNDECODABLE', `header ${HEADER.sourceLastModified} is "${text.slice(0, 64)}", not an ISO 8601 UTC time such as 2026-12-07T00:27:23.000Z`);
  }
  return ms * 1000;
}

/** Headers a dead letter carries besides the original record's (readable without decoding it). */
export const DLQ_HEADER = {
  code: 'rapflow.dlq.code',
  reason: 'rapflow.dlq.reason',
  sourceTopic: 'rapflow.dlq.source.topic',
} as const;
