// RapReader over Stargate's REST API v2: the same questions as the CQL reader, as HTTP GETs; and a
// song's document from the Document API.
import type { KeyedTable, Page, PageRequest } from '../../read/reader.js';
import { str, type RowLike } from '../rows.js';
import { schemaMissing, type StargateClient } from './client.js';
import { TableReader, type Eq } from '../table-reader.js';
import { COLLECTIONS, type DocumentKind } from './schema.js';

interface Rows {
  count: number;
  pageState?: string | null;
  data: RowLike[];
}

/** Ids per `$in` filter: the whole URL must stay under Jetty's 8 KiB header limit (a 414 past it). */
const IN_CHUNK = 80;

export interface StargateReaderOptions {
  /**
   * How long a 404 (keyspace or table unknown to Stargate) is waited out before it is an error:
   * 0 by default; about 70 s right after schema was made over CQL, which Stargate sees ~61 s later.
   */
  schemaWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class StargateReader extends TableReader {
  constructor(
    private readonly client: StargateClient,
    private readonly keyspace: string,
    private readonly options: StargateReaderOptions = {},
  ) {
    super();
  }

  /** A GET on a rows endpoint: 200 is an answer (a missing row is 200 with no data), 404 is missing schema. */
  private async rows(path: string, params: Record<string, string> = {}): Promise<Rows> {
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const deadline = Date.now() + (this.options.schemaWaitMs ?? 0);
    for (;;) {
      const res = await this.client.request<Rows | { description?: string }>('GET', path, { params, accept: [200, 404] });
      if (res.status === 200) return res.data as Rows;
      if (Date.now() >= deadline) throw schemaMissing(`GET ${path}`, (res.data as { description?: string } | undefined)?.description, this.keyspace);
      await sleep(2_000);
    }
  }

  /** `where` on a partition, or `/rows` for the whole table; both paged with page-size and page-state. */
  private async get<T>(table: string, req: PageRequest, map: (r: RowLike) => T, where?: Record<string, unknown>): Promise<Page<T>> {
    const params: Record<string, string> = { 'page-size': String(req.size) };
    if (where) params.where = JSON.stringify(where);
    if (req.state) params['page-state'] = req.state;
    const res = await this.rows(`/v2/keyspaces/${this.keyspace}/${table}${where ? '' : '/rows'}`, params);
    return { rows: res.data.map(map), ...(res.pageState ? { next: res.pageState } : {}) };
  }

  protected page<T>(table: string, req: PageRequest, map: (r: RowLike) => T, eq?: Eq): Promise<Page<T>> {
    return this.get(table, req, map, eq ? { [eq[0]]: { $eq: eq[1] } } : undefined);
  }

  protected async one<T>(table: KeyedTable, id: string, map: (r: RowLike) => T): Promise<T | undefined> {
    const res = await this.rows(`/v2/keyspaces/${this.keyspace}/${table}/${encodeURIComponent(id)}`);
    const row = res.data[0];
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

  /**
   * A record's document from the Document API, or undefined when there is none. A missing document
   * is a 404 with an empty body; a missing collection a 404 with Stargate's JSON error.
   */
  async document(kind: DocumentKind, id: string): Promise<Record<string, unknown> | undefined> {
    const path = `/v2/namespaces/${this.keyspace}/collections/${COLLECTIONS[kind]}/${encodeURIComponent(id)}`;
    const res = await this.client.request<{ data?: Record<string, unknown>; description?: string } | ''>('GET', path, { accept: [200, 404] });
    if (res.status === 200 && typeof res.data === 'object') return res.data.data;
    if (res.data === '' || res.data === undefined || res.data === null) return undefined;
    throw schemaMissing(`GET ${path}`, res.data.description, this.keyspace);
  }

  /** Which of these ids have a document: one GET each, a few at a time (the Document API has no lookup by many ids). */
  async existingDocuments(kind: DocumentKind, ids: string[], concurrency = 8): Promise<Set<string>> {
    const found = new Set<string>();
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        if (await this.document(kind, id)) found.add(id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
    return found;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
