// The ingest ledger in Cassandra: one partition per bucket, plain reads and writes.
//
// Claims are check-then-write, not lightweight transactions: bench/split measured the Paxos rounds
// of LWT claims at a quarter of split's time on a 2-core machine. The race this leaves (two runs
// that claim the same new file within milliseconds both split it) produces the same keys twice,
// which the upserting sink absorbs: the ledger saves work and tells runs apart, the ids make it exact.
import type { Claim, Ledger, LedgerEntry, LedgerStatus, ObjectId } from '../pipeline/ledger.js';
import type { CqlSession } from './cql.js';

export const LEDGER_TABLE = `CREATE TABLE IF NOT EXISTS {ks}.ingest_ledger (
  bucket text,
  object_key text,
  etag text,
  status text,
  run_id text,
  records map<text, int>,
  problems int,
  updated_at timestamp,
  PRIMARY KEY ((bucket), object_key, etag)
)`;

type Row = { get(name: string): unknown };

const toEntry = (bucket: string, r: Row): LedgerEntry => ({
  bucket,
  key: r.get('object_key') as string,
  etag: r.get('etag') as string,
  status: r.get('status') as LedgerStatus,
  runId: r.get('run_id') as string,
  records: (r.get('records') as Record<string, number> | null) ?? {},
  problems: (r.get('problems') as number | null) ?? 0,
  updatedAt: r.get('updated_at') as Date,
});

export class CqlLedger implements Ledger {
  constructor(private readonly cql: CqlSession) {}

  private get ks(): string {
    return this.cql.settings.keyspace;
  }

  async finished(bucket: string): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    // One partition, paged by the driver (fetchSize), so a large bucket never loads at once.
    const query = `SELECT object_key, etag, status FROM ${this.ks}.ingest_ledger WHERE bucket = ?`;
    let pageState: string | undefined;
    do {
      const rs = await this.cql.execute(query, [bucket], { fetchSize: 1_000, pageState });
      for (const r of rs.rows) {
        if (r.get('status') === 'splitting') continue;
        const key = r.get('object_key') as string;
        const set = out.get(key) ?? new Set<string>();
        set.add(r.get('etag') as string);
        out.set(key, set);
      }
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return out;
  }

  async get(obj: ObjectId): Promise<LedgerEntry | undefined> {
    const rs = await this.cql.execute(`SELECT * FROM ${this.ks}.ingest_ledger WHERE bucket = ? AND object_key = ? AND etag = ?`, [obj.bucket, obj.key, obj.etag]);
    const row = rs.first();
    return row ? toEntry(obj.bucket, row) : undefined;
  }

  async claim(obj: ObjectId, runId: string, staleAfterMs: number): Promise<Claim> {
    const now = new Date();
    const entry = await this.get(obj);
    if (entry && entry.status !== 'splitting') return { outcome: 'done', entry };
    if (entry && entry.runId !== runId && now.getTime() - entry.updatedAt.getTime() < staleAfterMs) return { outcome: 'busy', entry };
    await this.cql.execute(`UPDATE ${this.ks}.ingest_ledger SET status = 'splitting', run_id = ?, updated_at = ? WHERE bucket = ? AND object_key = ? AND etag = ?`, [
      runId,
      now,
      obj.bucket,
      obj.key,
      obj.etag,
    ]);
    return { outcome: 'claimed' };
  }

  async release(obj: ObjectId, runId: string): Promise<void> {
    const entry = await this.get(obj);
    if (entry?.status === 'splitting' && entry.runId === runId) {
      await this.cql.execute(`DELETE FROM ${this.ks}.ingest_ledger WHERE bucket = ? AND object_key = ? AND etag = ?`, [obj.bucket, obj.key, obj.etag]);
    }
  }

  async finish(e: Omit<LedgerEntry, 'updatedAt'>): Promise<boolean> {
    const held = (await this.get(e))?.runId === e.runId;
    await this.cql.execute(
      `UPDATE ${this.ks}.ingest_ledger SET status = ?, run_id = ?, records = ?, problems = ?, updated_at = ? WHERE bucket = ? AND object_key = ? AND etag = ?`,
      [e.status, e.runId, e.records, e.problems, new Date(), e.bucket, e.key, e.etag],
    );
    return held;
  }
}
