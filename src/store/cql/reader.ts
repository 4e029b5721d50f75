// RapReader over CQL: the local stack's way in (Stargate's REST API is the cluster's; same questions).
import type { CqlSession } from './session.js';
import type { KeyedTable, Page, PageRequest } from '../../read/reader.js';
import { str, type RowLike } from '../rows.js';
import { TableReader, type Eq } from '../table-reader.js';

/** Ids per IN query: small enough for the coordinator, large enough to keep round trips few. */
const IN_CHUNK = 100;

export class CqlReader extends TableReader {
  constructor(
    private readonly cql: CqlSession,
    private readonly keyspace: string,
  ) {
    super();
  }

  protected async page<T>(table: string, req: PageRequest, map: (r: RowLike) => T, eq?: Eq): Promise<Page<T>> {
    const query = `SELECT * FROM ${this.keyspace}.${table}${eq ? ` WHERE ${eq[0]} = ?` : ''}`;
    const rs = await this.cql.execute(query, eq ? [eq[1]] : [], { prepare: true, fetchSize: req.size, ...(req.state ? { pageState: req.state } : {}) });
    return { rows: rs.rows.map(map), ...(rs.pageState ? { next: rs.pageState } : {}) };
  }

  protected async one<T>(table: KeyedTable, id: string, map: (r: RowLike) => T): Promise<T | undefined> {
    const row = (await this.cql.execute(`SELECT * FROM ${this.keyspace}.${table} WHERE id = ?`, [id], { prepare: true })).first();
    return row ? map(row) : undefined;
  }

  async existing(table: KeyedTable, ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const rs = await this.cql.execute(`SELECT id FROM ${this.keyspace}.${table} WHERE id IN ?`, [ids.slice(i, i + IN_CHUNK)], { prepare: true });
      for (const r of rs.rows) found.add(str(r.id));
    }
    return found;
  }

  async close(): Promise<void> {
    await this.cql.close();
  }
}
