// The Document API's collections read over CQL: which documents exist and how many, without a Stargate coordinator.
//
// Stargate stores a collection as a table of its keyspace whose partition key is the document id,
// in a column named `key` (path columns p0..pN clustering, then leaf and value columns: Stargate's
// DocumentTableColumns). A document is a partition, so its presence and the count need nothing
// else of that layout: a CQL session can tell whether the documents follow the rows, whichever sink
// is in use and whether or not a coordinator runs.
import type { CqlSession } from './session.js';

/** Ids per `IN` query: a few dozen partitions per request. */
const IN_CHUNK = 50;

export class CqlDocuments {
  constructor(private readonly cql: CqlSession) {}

  private get ks(): string {
    return this.cql.settings.keyspace;
  }

  /** Which of these tables exist in the keyspace (a collection exists once Stargate, or db init with SINK=stargate, made it). */
  async present(collections: readonly string[]): Promise<Set<string>> {
    const rs = await this.cql.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [this.ks], { prepare: true });
    const names = new Set(rs.rows.map((r) => r.get('table_name') as string));
    return new Set(collections.filter((c) => names.has(c)));
  }

  /** Documents in a collection: its partitions, paged. */
  async count(collection: string): Promise<number> {
    let n = 0;
    let pageState: string | undefined;
    do {
      const rs = await this.cql.execute(`SELECT DISTINCT key FROM ${this.ks}.${collection}`, [], { fetchSize: 5_000, pageState });
      n += rs.rows.length;
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return n;
  }

  /** Which of these ids have a document in the collection. */
  async existing(collection: string, ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const rs = await this.cql.execute(`SELECT key FROM ${this.ks}.${collection} WHERE key IN ? PER PARTITION LIMIT 1`, [ids.slice(i, i + IN_CHUNK)], { prepare: true });
      for (const r of rs.rows) found.add(r.get('key') as string);
    }
    return found;
  }
}
