// Builds the adapters each command needs from the configuration (the only place that knows them all).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Registry } from '../codec/registry.js';
import type { Config } from '../config/index.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { CqlReader } from '../store/cql/reader.js';
import type { RapReader } from '../read/reader.js';
import { StargateClient } from '../store/stargate/client.js';
import { StargateReader } from '../store/stargate/reader.js';
import { CqlSession } from '../store/cql/session.js';
import { LEDGER_TABLE } from '../store/cql/ledger.js';
import { TABLES } from '../store/tables.js';
import { ObjectStore, s3Client } from '../source/s3.js';
import { KafkaTransport } from '../transport/kafka.js';

export const kafkaOf = (c: Config, role: string) =>
  new KafkaTransport({
    brokers: c.kafka.brokers,
    clientId: `rapflow-${role}`,
    ...(c.kafka.sasl ? { sasl: c.kafka.sasl } : {}),
    tls: c.kafka.tls,
    ...(c.kafka.caFile ? { ca: readFileSync(c.kafka.caFile, 'utf8') } : {}),
  });
export const registryOf = (c: Config) => new Registry(c.registry.url, c.kafka.topicPrefix);
export const storeOf = (c: Config) => new ObjectStore(s3Client(c.s3));
export const cqlOf = (c: Config) => new CqlSession({ ...c.cassandra });

/** Reads rows back (CQL here; the same RapReader questions go to Stargate's REST API on a cluster). */
export async function readerOf(c: Config): Promise<RapReader> {
  if (c.read.api === 'stargate') {
    const { username, password, keyspace } = c.cassandra;
    return new StargateReader(new StargateClient({ restUrl: c.read.stargateUrl, authUrl: c.read.stargateAuthUrl, username, password }), keyspace);
  }
  const cql = cqlOf(c);
  await cql.connect();
  return new CqlReader(cql, c.cassandra.keyspace);
}

/** Every table rapflow's Cassandra keyspace holds; `rapflow db init` creates them. */
export const CQL_SCHEMA = [LEDGER_TABLE, ...TABLES];

/** Argo passes the workflow's uid as RUN_ID; by hand, a fresh one per command. */
export const runIdOf = (c: Config) => c.runId ?? `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`;

/** Logs are JSON lines on stderr: stdout carries the command's own output (tables, JSON). */
export function loggerOf(c: Config, name: string, quiet: boolean): Logger {
  return createLogger(name, { level: quiet && c.log.level === 'info' ? 'warn' : c.log.level, destination: process.stderr });
}

