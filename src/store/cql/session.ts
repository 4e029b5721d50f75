// Cassandra over CQL (cassandra-driver): sessions, schema bootstrap, and driver errors turned into ours.
import cassandra from 'cassandra-driver';
import { RapflowError } from '../../errors.js';
import { columnFit, retypeRefused, typeToAdd, type FoundColumn, type TableDef } from '../tables.js';
import { CLUSTER } from '../../config/cluster.js';

export interface CqlSettings {
  contactPoint: string;
  datacenter: string;
  username: string;
  password: string;
  keyspace: string;
  /** Replicas per row: 1 on a one-node stack, 3 on a real cluster. */
  replicationFactor: number;
}

const codes = cassandra.types.responseErrorCodes;
const BAD_CREDENTIALS: number = codes.badCredentials;
const UNAUTHORIZED: number = codes.unauthorized;
const INVALID: number = codes.invalid;
// writeFailure and readFailure: a replica failed the request (a node going down mid-write does it).
const TRANSIENT = new Set<number>([
  codes.unavailableException,
  codes.overloaded,
  codes.isBootstrapping,
  codes.writeTimeout,
  codes.readTimeout,
  codes.writeFailure,
  codes.readFailure,
  codes.truncateError,
  codes.serverError,
]);
/**
 * The statement, not the data: a syntax error, or a query the schema cannot take (an unknown column
 * or table, a missing keyspace, a value of a type the column does not have). Records the Avro
 * datamodel typed never cause these, so they mean the tables and the datamodel disagree.
 */
const STATEMENT = new Set<number>([codes.syntaxError, codes.invalid, codes.configError]);

export function cqlError(err: unknown, what: string): RapflowError {
  if (err instanceof RapflowError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof cassandra.errors.AuthenticationError || (err instanceof cassandra.errors.ResponseError && err.code === BAD_CREDENTIALS)) {
    return new RapflowError('SINK_AUTH_FAILED', `${what}: Cassandra refused the credentials`, { cause: err });
  }
  if (err instanceof cassandra.errors.ResponseError && err.code === UNAUTHORIZED) {
    return new RapflowError('SINK_AUTH_FAILED', `${what}: not allowed (${message})`, { cause: err });
  }
  if (
    // A connection that closed under a request in flight (its node killed): the driver's
    // DriverError('Socket was closed'), marked isSocketError. Our retry sends it to a live node.
    (err instanceof Error && (err as { isSocketError?: boolean }).isSocketError === true) ||
    err instanceof cassandra.errors.NoHostAvailableError ||
    err instanceof cassandra.errors.OperationTimedOutError ||
    err instanceof cassandra.errors.BusyConnectionError ||
    (err instanceof cassandra.errors.ResponseError && TRANSIENT.has(err.code))
  ) {
    return new RapflowError('SINK_UNAVAILABLE', `${what}: Cassandra unavailable (${message.split('\n')[0]})`, { cause: err });
  }
  // A batch over Cassandra's size limit is refused as invalid too, for its rows' size: a refusal
  // of the data, so the sink writes such a batch again row by row. The one refusal that is the
  // rows' own; everything else below stops the consumer.
  if (err instanceof cassandra.errors.ResponseError && err.code === INVALID && /batch too large/i.test(message)) {
    return new RapflowError('RECORD_UNDECODABLE', `${what}: ${message}`, { cause: err });
  }
  if (err instanceof cassandra.errors.ResponseError && STATEMENT.has(err.code)) {
    return new RapflowError('CONFIG_INVALID', `${what}: ${message}. The keyspace's tables do not match what rapflow expects: check CASSANDRA_KEYSPACE and run \`rapflow db init\`, which adds what the datamodel needs`, {
      cause: err,
    });
  }
  // The driver checks values against the column types before sending: a mismatch is the same disagreement.
  if (err instanceof TypeError && /^(Expected|Not a valid)/.test(message)) {
    return new RapflowError('CONFIG_INVALID', `${what}: ${message}: a column's type differs from the datamodel's (\`rapflow db init\` says which)`, { cause: err });
  }
  return new RapflowError('INTERNAL', `${what}: ${message}`, { cause: err });
}

export const CONSISTENCY = cassandra.types.consistencies[CLUSTER.cassandra.consistency === 'LOCAL_QUORUM' ? 'localQuorum' : 'quorum'];

export class CqlSession {
  readonly client: cassandra.Client;

  constructor(readonly settings: CqlSettings) {
    const [host, port] = settings.contactPoint.split(':');
    this.client = new cassandra.Client({
      contactPoints: [host!],
      protocolOptions: { port: Number(port ?? 9042) },
      localDataCenter: settings.datacenter,
      authProvider: new cassandra.auth.PlainTextAuthProvider(settings.username, settings.password),
      socketOptions: { connectTimeout: 5_000, readTimeout: 12_000 },
      // LOCAL_QUORUM (src/config/cluster.ts): two of three replicas, so one node may be down.
      queryOptions: { consistency: CONSISTENCY, prepare: true },
      // Retries are ours (bounded, classified), not the driver's.
      policies: { retry: new cassandra.policies.retry.FallthroughRetryPolicy() },
    });
  }

  async connect(): Promise<void> {
    try {
      await this.client.connect();
    } catch (err) {
      throw cqlError(err, 'connecting to Cassandra');
    }
  }

  async execute(query: string, params: unknown[] = [], options: cassandra.QueryOptions = {}): Promise<cassandra.types.ResultSet> {
    try {
      return await this.client.execute(query, params, options);
    } catch (err) {
      throw cqlError(err, `CQL ${statementName(query)}`);
    }
  }

  /** An unlogged batch: one mutation when every statement targets the same partition. */
  async batch(queries: { query: string; params: unknown[] }[]): Promise<void> {
    try {
      await this.client.batch(queries, { prepare: true, logged: false });
    } catch (err) {
      throw cqlError(err, `CQL batch of ${queries.length} ${queries[0] ? statementName(queries[0].query) : ''}`.trimEnd());
    }
  }

  /** Creates the keyspace and runs each statement (all `IF NOT EXISTS`): idempotent. */
  async bootstrap(statements: readonly string[]): Promise<void> {
    const ks = this.settings.keyspace;
    await this.execute(
      `CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': ${this.settings.replicationFactor}}`,
    );
    for (const s of statements) await this.execute(s.replaceAll('{ks}', ks));
  }

  /**
   * Adds the columns the datamodel has and a table lacks (a new optional Avro field, such as Song
   * v2's bpm). It never drops or retypes a column: a column of another type is refused with the
   * reason, except a non-frozen list where the datamodel now has a frozen one (a table made before:
   * kept, and written without a version time, see untimedTables). A list added is frozen, unless a
   * non-frozen one of that name was dropped (typeToAdd). Returns `table.column` of each column added.
   */
  async addMissingColumns(defs: readonly TableDef[]): Promise<string[]> {
    const ks = this.settings.keyspace;
    const have = new Map((await columnsOf(this, ks)).map((c) => [`${c.table}.${c.column}`, c.type]));
    const dropped = new Map((await droppedColumnsOf(this, ks)).map((d) => [`${d.table}.${d.column}`, d.type]));
    const added: string[] = [];
    for (const t of defs) {
      for (const [name, type] of t.columns) {
        const found = have.get(`${t.name}.${name}`);
        if (found === undefined) {
          await this.execute(`ALTER TABLE ${ks}.${t.name} ADD ${name} ${typeToAdd(type, dropped.get(`${t.name}.${name}`))}`);
          added.push(`${t.name}.${name}`);
        } else if (columnFit(found, type) === 'other') {
          throw retypeRefused(ks, t.name, name, found, type);
        }
      }
    }
    return added;
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }
}

/** Every column of the keyspace's tables with its CQL type, from the local schema tables. */
export async function columnsOf(cql: Pick<CqlSession, 'execute'>, keyspace: string): Promise<FoundColumn[]> {
  const rs = await cql.execute('SELECT table_name, column_name, type FROM system_schema.columns WHERE keyspace_name = ?', [keyspace], { prepare: true });
  return rs.rows.map((r) => ({ table: String(r.get('table_name')), column: String(r.get('column_name')), type: String(r.get('type')) }));
}

/** A column dropped from one of the keyspace's tables: its type then, and when (milliseconds). */
export interface DroppedColumn extends FoundColumn {
  droppedAt: Date;
}

/** Every column dropped from the keyspace's tables, from the local schema tables. */
export async function droppedColumnsOf(cql: Pick<CqlSession, 'execute'>, keyspace: string): Promise<DroppedColumn[]> {
  const rs = await cql.execute('SELECT table_name, column_name, type, dropped_time FROM system_schema.dropped_columns WHERE keyspace_name = ?', [keyspace], { prepare: true });
  return rs.rows.map((r) => ({ table: String(r.get('table_name')), column: String(r.get('column_name')), type: String(r.get('type')), droppedAt: r.get('dropped_time') as Date }));
}

/** A statement as errors name it: its verb and the table it is about (`SELECT ... FROM ks.songs`). */
export function statementName(query: string): string {
  const words = query.trim().split(/\s+/);
  const table = /\b(?:FROM|INTO|UPDATE|TABLE|KEYSPACE)\s+(?:IF (?:NOT )?EXISTS\s+)?([\w.]+)/i.exec(query)?.[1];
  return table ? `${words[0]} ${table}` : words.slice(0, 3).join(' ');
}
