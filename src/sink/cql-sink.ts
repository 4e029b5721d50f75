// The CQL sink: rows upserted with prepared statements, at most `concurrency` in flight.
import { RapflowError } from '../errors.js';
import { cqlError, type CqlSession } from './cql.js';
import type { Row } from './tables.js';

export interface RowFailure {
  index: number;
  error: RapflowError;
}

export class CqlSink {
  constructor(
    private readonly cql: CqlSession,
    private readonly concurrency = 32,
  ) {}

  /**
   * Writes every row (INSERT is an upsert in Cassandra). Rows the database refuses as invalid come
   * back as failures by index; anything retryable throws for the whole call, which is safe to
   * repeat: the same rows again.
   */
  async write(rows: Row[]): Promise<RowFailure[]> {
    const failures: RowFailure[] = [];
    let next = 0;
    let transient: RapflowError | undefined;
    const worker = async () => {
      while (transient === undefined && next < rows.length) {
        const i = next++;
        const row = rows[i]!;
        const cols = Object.keys(row.values);
        const query = `INSERT INTO ${this.cql.settings.keyspace}.${row.table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`;
        try {
          await this.cql.client.execute(query, Object.values(row.values), { prepare: true });
        } catch (err) {
          const e = cqlError(err, `writing ${row.table}`);
          if (e.behaviour === 'retryable' || e.code === 'SINK_AUTH_FAILED') transient ??= e;
          else failures.push({ index: i, error: new RapflowError('RECORD_UNDECODABLE', `${row.table}: ${e.message}`, { cause: err }) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, rows.length) }, worker));
    if (transient) throw transient;
    return failures;
  }
}
