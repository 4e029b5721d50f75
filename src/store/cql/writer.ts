// The CQL sink: rows upserted with prepared statements; rows of one partition go together as one
// unlogged batch (one mutation), at most `concurrency` requests in flight.
import { RapflowError } from '../../errors.js';
import { columnsOf, droppedColumnsOf, type CqlSession } from './session.js';
import type { Decoded, RecordFailure, RecordSink } from '../../pipeline/consume.js';
import type { Logger } from '../../observability/logger.js';
import { byRecord, partitionKeyOf, rowsOfRecords, untimedTables, type Row } from '../tables.js';

export interface RowFailure {
  index: number;
  error: RapflowError;
}

/** What the sink needs of a CQL session (CqlSession); errors already translated into ours. */
export type CqlWriter = Pick<CqlSession, 'execute' | 'batch'> & { settings: { keyspace: string } };

export interface SinkLimits {
  /** Requests (single rows or batches) in flight. */
  concurrency: number;
  /** Statements in one batch. */
  batchRows: number;
  /**
   * Estimated bytes of the values in one batch: kept under Cassandra's default
   * `batch_size_warn_threshold` (5 KiB), so a batch never logs a warning on the server, let alone
   * reaches the 50 KiB at which it is refused.
   */
  batchBytes: number;
}

export const DEFAULT_SINK_LIMITS: SinkLimits = { concurrency: 32, batchRows: 64, batchBytes: 4 * 1024 };

/** A column drop as `system_schema.dropped_columns` records it: the table and when (milliseconds). */
export interface ColumnDrop {
  table: string;
  droppedAt: Date;
}

/**
 * The least write time (microseconds) at which a cell of each table can still be read. Cassandra
 * hides every cell of a dropped column written at or before the drop, and keeps doing so after a
 * column of that name is added again (`db init` mends a dropped column that way): a row written
 * again at its file's older version time would stay invisible in that column. So a row is never
 * written below the latest drop of any column of its table.
 *
 * One floor per table, not per column: one `USING TIMESTAMP` covers a whole statement. It is the
 * next whole millisecond after the drop, not the drop plus 1 µs: `dropped_time` keeps milliseconds,
 * while the node that ran the drop stamped it in microseconds (the millisecond times 1000, plus a
 * counter when several statements share the millisecond), which it may hold until it restarts.
 */
export function writeTimeFloors(drops: readonly ColumnDrop[]): Map<string, number> {
  const floors = new Map<string, number>();
  for (const d of drops) {
    const floor = (d.droppedAt.getTime() + 1) * 1000;
    if (floor > (floors.get(d.table) ?? -Infinity)) floors.set(d.table, floor);
  }
  return floors;
}

/**
 * The time a row is written at: its record's version time, raised to its table's floor
 * (writeTimeFloors). Versions older than the floor then tie there and are no longer ordered among
 * themselves (docs/data-design.md, "Write time"); every version after it keeps its own time. A row
 * without a version time has none: the write takes its own, later than any drop already made.
 */
export function rowWriteTime(writeTime: number | undefined, floor: number | undefined): number | undefined {
  if (writeTime === undefined) return undefined;
  return floor === undefined ? writeTime : Math.max(writeTime, floor);
}

/**
 * Groups rows into the requests that write them: the rows of one partition of a table that has
 * several rows per partition (lyric lines by song) in batches within `limits`, every other row on
 * its own (a batch across partitions only moves the work to the coordinator). Each group is a list
 * of indexes into `rows`, in their order.
 */
export function planWrites(rows: Row[], limits: Pick<SinkLimits, 'batchRows' | 'batchBytes'> = DEFAULT_SINK_LIMITS): number[][] {
  const groups: number[][] = [];
  const open = new Map<string, { indexes: number[]; bytes: number }>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const key = partitionKeyOf(row.table);
    if (key === undefined) {
      groups.push([i]);
      continue;
    }
    const id = `${row.table}\u0000${key.map((c) => String(row.values[c])).join('\u0000')}`;
    const bytes = estimateBytes(row);
    let g = open.get(id);
    if (g && (g.indexes.length >= limits.batchRows || g.bytes + bytes > limits.batchBytes)) {
      open.delete(id);
      g = undefined;
    }
    if (!g) {
      g = { indexes: [], bytes: 0 };
      open.set(id, g);
      groups.push(g.indexes);
    }
    g.indexes.push(i);
    g.bytes += bytes;
  }
  return groups;
}

/** A rough size of a row's values as Cassandra stores them: text by its UTF-8 bytes, other values by a small constant. */
function estimateBytes(row: Row): number {
  let n = 0;
  for (const v of Object.values(row.values)) {
    if (typeof v === 'string') n += Buffer.byteLength(v);
    else if (Array.isArray(v)) n += v.reduce((s: number, e) => s + (typeof e === 'string' ? Buffer.byteLength(e) : 8), 0);
    else n += 16;
  }
  return n;
}

/** The warning for a table written without a version time; exported for the tests. */
export const UNTIMED_WARNING = 'table has non-frozen list columns: written without the version time (last write wins by arrival), so writing a version again does not duplicate list elements';

export class CqlSink implements RecordSink {
  private readonly queries = new Map<string, string>();
  /** Tables already warned about (untimedTables): once per table per sink. */
  private readonly warned = new Set<string>();

  constructor(
    private readonly cql: CqlWriter,
    private readonly limits: SinkLimits = DEFAULT_SINK_LIMITS,
    private readonly log?: Pick<Logger, 'warn'>,
  ) {}

  /** Writes the rows of every record; a record fails when one of its rows does. */
  async write(records: Decoded[]): Promise<RecordFailure[]> {
    const { rows, owner } = rowsOfRecords(records);
    return byRecord(await this.writeRows(rows), owner);
  }

  /**
   * Writes every row (INSERT is an upsert in Cassandra). Rows the database refuses for their own
   * data come back as failures by index; a batch that is refused is written again row by row, so
   * only the bad rows fail. Anything else (retryable or fatal) throws for the whole call, which is
   * safe to repeat: the same rows again.
   */
  async writeRows(rows: Row[]): Promise<RowFailure[]> {
    // Read for every call, not once at start: a consumer that keeps running while a column is
    // dropped and added again (db init from another process) must not write under the old floor.
    // One single-partition read of the local schema tables, and only when a row has a version time.
    // The same for the tables whose lists are not frozen (made before they were): those are
    // written without a version time, so a version written twice does not duplicate list elements.
    const timed = rows.some((r) => r.writeTime !== undefined);
    const floors = timed ? await this.floors() : new Map<string, number>();
    const untimed = timed ? await this.untimed(rows) : new Set<string>();
    const statement = (row: Row) => this.statement(row, untimed.has(row.table) ? undefined : rowWriteTime(row.writeTime, floors.get(row.table)));
    const groups = planWrites(rows, this.limits);
    const failures: RowFailure[] = [];
    let next = 0;
    let stopWith: RapflowError | undefined; // the first error that is not a row's own: thrown once all in flight ended
    const attempt = async (indexes: number[]): Promise<RapflowError | undefined> => {
      try {
        if (indexes.length === 1) {
          const { query, params } = statement(rows[indexes[0]!]!);
          await this.cql.execute(query, params, { prepare: true });
        } else {
          await this.cql.batch(indexes.map((i) => statement(rows[i]!)));
        }
        return undefined;
      } catch (err) {
        const e = err instanceof RapflowError ? err : new RapflowError('INTERNAL', String(err), { cause: err });
        // Only a refusal of the rows' own data (poison) is theirs. Anything retryable, or fatal
        // for every row alike (credentials, tables that disagree with the datamodel, an error
        // nobody expected): stop and throw for the whole call. An unknown error made a dead
        // letter would lose a record that was never bad (seen: a socket closed by a killed node).
        if (e.behaviour !== 'poison') {
          stopWith ??= e;
          return undefined;
        }
        return e;
      }
    };
    const worker = async () => {
      while (stopWith === undefined && next < groups.length) {
        const group = groups[next++]!;
        const refused = await attempt(group);
        if (!refused) continue;
        if (group.length === 1) {
          failures.push({ index: group[0]!, error: this.refusal(rows[group[0]!]!, refused) });
          continue;
        }
        // One bad row fails its whole batch: find it by writing the rows one at a time.
        for (const i of group) {
          if (stopWith !== undefined) break;
          const e = await attempt([i]);
          if (e) failures.push({ index: i, error: this.refusal(rows[i]!, e) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.limits.concurrency, groups.length) }, worker));
    if (stopWith) throw stopWith;
    return failures;
  }

  /** The write-time floor of each table of the keyspace that has had a column dropped. */
  private async floors(): Promise<Map<string, number>> {
    return writeTimeFloors(await droppedColumnsOf(this.cql, this.cql.settings.keyspace));
  }

  /**
   * The tables of `rows` whose list columns are not frozen (untimedTables), each warned about once
   * with what to do to get version order.
   */
  private async untimed(rows: Row[]): Promise<Set<string>> {
    const ks = this.cql.settings.keyspace;
    const untimed = untimedTables(await columnsOf(this.cql, ks));
    for (const [table, columns] of untimed) {
      if (this.warned.has(table) || !rows.some((r) => r.table === table)) continue;
      this.warned.add(table);
      this.log?.warn(
        {
          table: `${ks}.${table}`,
          columns,
          todo: 'for version order (a replayed older version never overwriting a newer one), write to a new keyspace: CASSANDRA_KEYSPACE=<new> rapflow db init, then rapflow backfill',
        },
        UNTIMED_WARNING,
      );
    }
    return new Set(untimed.keys());
  }

  /**
   * The row's upsert. With a write time (the record's version time, see rowWriteTime) it is `USING
   * TIMESTAMP`, so Cassandra keeps, cell by cell, the newest version whatever order versions arrive
   * in; without one (a record split before it carried its version time), the write's own time, as before.
   */
  private statement(row: Row, writeTime: number | undefined): { query: string; params: unknown[] } {
    const timed = writeTime !== undefined;
    const id = timed ? `${row.table} timed` : row.table;
    // rowsOf gives every row of a table the same columns in the same order.
    let query = this.queries.get(id);
    if (query === undefined) {
      const cols = Object.keys(row.values);
      query = `INSERT INTO ${this.cql.settings.keyspace}.${row.table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})${timed ? ' USING TIMESTAMP ?' : ''}`;
      this.queries.set(id, query);
    }
    return { query, params: timed ? [...Object.values(row.values), writeTime] : Object.values(row.values) };
  }

  private refusal(row: Row, e: RapflowError): RapflowError {
    return new RapflowError('RECORD_UNDECODABLE', `${row.table}: ${e.message}`, { cause: e });
  }
}
