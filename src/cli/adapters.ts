// Builds the adapters each command needs from the configuration (the only place that knows them all).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Registry } from '../codec/registry.js';
import type { Config } from '../config/index.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { CqlReader } from '../store/cql/reader.js';
import type { RapReader } from '../read/reader.js';
import type { RecordSink } from '../pipeline/consume.js';
import { StargateClient } from '../store/stargate/client.js';
import { StargateReader } from '../store/stargate/reader.js';
import { columnsOf, CqlSession } from '../store/cql/session.js';
import { LEDGER_TABLE } from '../store/cql/ledger.js';
import { REPLAYS_TABLE } from '../store/cql/replays.js';
import { TABLE_DEFS, TABLES, untimedTables } from '../store/tables.js';
import { CqlSink } from '../store/cql/writer.js';
import { ensureStargateSchema, type SchemaOutcome } from '../store/stargate/schema.js';
import { StargateSink } from '../store/stargate/writer.js';
import { ObjectStore, s3Client, type S3Options } from '../source/s3.js';
import { kafkaTransport } from '../transport/index.js';

export const kafkaOf = (c: Config, role: string) =>
  kafkaTransport(
    {
      brokers: c.kafka.brokers,
      clientId: `rapflow-${role}`,
      ...(c.kafka.sasl ? { sasl: c.kafka.sasl } : {}),
      tls: c.kafka.tls,
      ...(c.kafka.caFile ? { ca: readFileSync(c.kafka.caFile, 'utf8') } : {}),
    },
    c.kafka.client,
  );
export const registryOf = (c: Config) => new Registry(c.registry.url, c.kafka.topicPrefix);
/** The bucket operations; a retried S3 call is a warning on `log` when one is given. */
export const storeOf = (c: Config, log?: Logger) => new ObjectStore(s3Client(c.s3), s3OptionsOf(log));
export const s3OptionsOf = (log?: Logger): S3Options =>
  log ? { onRetry: (err, attempt, delayMs) => log.warn({ err, attempt, delayMs }, 'object store call failed; retrying') } : {};
export const cqlOf = (c: Config) => new CqlSession({ ...c.cassandra });

export const stargateOf = (c: Config, onRenew?: (what: string) => void) =>
  new StargateClient({
    restUrl: c.read.stargateUrl,
    authUrl: c.read.stargateAuthUrl,
    username: c.cassandra.username,
    password: c.cassandra.password,
    ...(onRenew ? { onRenew } : {}),
  });

/** Reads rows back, over CQL or through Stargate's REST API (READ_API): the same RapReader questions. */
export async function readerOf(c: Config): Promise<RapReader> {
  if (c.read.api === 'stargate') return new StargateReader(stargateOf(c), c.cassandra.keyspace);
  const cql = cqlOf(c);
  await cql.connect();
  return new CqlReader(cql, c.cassandra.keyspace);
}

/** The backend consume writes through: CQL (default) or Stargate's REST and Document APIs (SINK=stargate). */
export type SinkKind = 'cql' | 'stargate';
export const sinkKindOf = (c: Config): SinkKind => c.sink ?? 'cql';

export interface OpenSink {
  kind: SinkKind;
  sink: RecordSink;
  /** A cheap request that proves the backend answers (for /readyz). */
  check: () => Promise<void>;
  close: () => Promise<void>;
}

export async function sinkOf(c: Config, log?: Logger): Promise<OpenSink> {
  if (sinkKindOf(c) === 'stargate') {
    const client = stargateOf(c, (what) => log?.info({ request: what }, 'Stargate token renewed after a 401'));
    const ks = c.cassandra.keyspace;
    return {
      kind: 'stargate',
      sink: new StargateSink(client, ks),
      check: async () => {
        await client.get(`/v2/schemas/keyspaces/${ks}`);
      },
      close: () => client.close(),
    };
  }
  const cql = cqlOf(c);
  await cql.connect();
  return {
    kind: 'cql',
    sink: new CqlSink(cql, undefined, log),
    check: async () => {
      await cql.execute('SELECT release_version FROM system.local');
    },
    close: () => cql.close(),
  };
}

/**
 * `db init`: the keyspace and tables over CQL (with the ledger, which split keeps over CQL), and,
 * when Stargate writes, the tables and collections through Stargate's schema API first, so
 * Stargate sees them at once rather than a minute later.
 */
export async function initSchema(c: Config, sink: SinkKind): Promise<{ stargate?: SchemaOutcome; columnsAdded: string[]; untimed: Map<string, string[]> }> {
  let stargate: SchemaOutcome | undefined;
  if (sink === 'stargate') {
    const client = stargateOf(c);
    stargate = await ensureStargateSchema(client, c.cassandra.keyspace, c.cassandra.replicationFactor).finally(() => client.close());
  }
  const cql = cqlOf(c);
  try {
    await cql.connect();
    await cql.bootstrap(CQL_SCHEMA);
    // Through Stargate they were added already (and CQL sees them at once); over CQL, here.
    const columnsAdded = stargate ? stargate.columnsAdded : await cql.addMissingColumns(TABLE_DEFS);
    // Tables made before lists were frozen: kept, and written without a version time (CqlSink).
    const untimed = untimedTables(await columnsOf(cql, c.cassandra.keyspace));
    return { ...(stargate ? { stargate } : {}), columnsAdded, untimed };
  } finally {
    await cql.close();
  }
}


/** Every table rapflow's Cassandra keyspace holds; `rapflow db init` creates them. */
export const CQL_SCHEMA = [LEDGER_TABLE, REPLAYS_TABLE, ...TABLES];

/** Argo passes the workflow's uid as RUN_ID; by hand, a fresh one per command. */
export const runIdOf = (c: Config) => c.runId ?? `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`;

/** Logs are JSON lines on stderr: stdout carries the command's own output (tables, JSON). */
export function loggerOf(c: Config, name: string, quiet: boolean): Logger {
  return createLogger(name, { level: quiet && c.log.level === 'info' ? 'warn' : c.log.level, destination: process.stderr });
}

