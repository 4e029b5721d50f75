// RapReader over Stargate's REST API v2: the same questions as the CQL reader, as HTTP GETs.
import type { KeyedTable, Page, PageRequest } from '../../read/reader.js';
import { str, type RowLike } from '../rows.js';
import type { StargateClient } from './client.js';
import { TableReader, type Eq } from '../table-reader.js';

interface Rows {
  count: number;
  pageState?: string | null;
  data: RowLike[];
}

/** Ids per `$in` filter: the whole URL must stay under Jetty's 8 KiB header limit. */
const IN_CHUNK = 80;

export class StargateReader extends TableReader {
  constructor(
    private readonly client: StargateClient,
    private readonly keyspace: string,
  ) {
    super();
  }

  /** `where` on a partition, or `/rows` for the whole table; both paged with page-size and page-state. */
  private async get<T>(table: string, req: PageRequest, map: (r: RowLike) => T, where?: Record<string, unknown>): Promise<Page<T>> {
    const params: Record<string, string> = { 'page-size': String(req.size) };
    if (where) params.where = JSON.stringify(where);
    if (req.state) params['page-state'] = req.state;
    const res = await this.client.get<Rows>(`/v2/keyspaces/${this.keyspace}/${table}${where ? '' : '/rows'}`, params);
    return { rows: (res?.data ?? []).map(map), ...(res?.pageState ? { next: res.pageState } : {}) };
  }

  protected page<T>(table: string, req: PageRequest, map: (r: RowLike) => T, eq?: Eq): Promise<Page<T>> {
    return this.get(table, req, map, eq ? { [eq[0]]: { $eq: eq[1] } } : undefined);
  }

  protected async one<T>(table: KeyedTable, id: string, map: (r: RowLike) => T): Promise<T | undefined> {
    const res = await this.client.get<Rows>(`/v2/keyspaces/${this.keyspace}/${table}/${encodeURIComponent(id)}`);
    const row = res?.data[0];
    return row ? map(row) : undefined;
  }

  async existing(table: KeyedTable, ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const chunk = ids.slice(i, i + IN_CHUNK);
      let state: string | undefined;
      do {
        const p = await this.get(table, { size: chunk.length, ...(state ? { state } : {}) }, (r) => str(r.id), { id: { $in: chunk } });
        for (const id of p.rows) found.add(id);
        state = p.next;
      } while (state);
    }
    return found;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
