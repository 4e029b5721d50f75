// The ingest ledger in Cassandra: one partition per bucket, claims as lightweight transactions.
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
    const inserted = await this.cql.execute(
      `INSERT INTO ${this.ks}.ingest_ledger (bucket, object_key, etag, status, run_id, updated_at) VALUES (?, ?, ?, 'splitting', ?, ?) IF NOT EXISTS`,
      [obj.bucket, obj.key, obj.etag, runId, now],
    );
    if (inserted.wasApplied()) return { outcome: 'claimed' };
    const entry = toEntry(obj.bucket, inserted.first());
    if (entry.status !== 'splitting') return { outcome: 'done', entry };
    if (entry.runId === runId) return { outcome: 'claimed' };
    if (now.getTime() - entry.updatedAt.getTime() < staleAfterMs) return { outcome: 'busy', entry };
    const taken = await this.cql.execute(
      `UPDATE ${this.ks}.ingest_ledger SET run_id = ?, updated_at = ? WHERE bucket = ? AND object_key = ? AND etag = ? IF status = 'splitting' AND run_id = ?`,
      [runId, now, obj.bucket, obj.key, obj.etag, entry.runId],
    );
    return taken.wasApplied() ? { outcome: 'claimed' } : { outcome: 'busy', entry: toEntry(obj.bucket, taken.first()) };
  }

  async release(obj: ObjectId, runId: string): Promise<void> {
    await this.cql.execute(
      `DELETE FROM ${this.ks}.ingest_ledger WHERE bucket = ? AND object_key = ? AND etag = ? IF status = 'splitting' AND run_id = ?`,
      [obj.bucket, obj.key, obj.etag, runId],
    );
  }

  async finish(e: Omit<LedgerEntry, 'updatedAt'>): Promise<boolean> {
    // Conditional like the claim (never mix LWT and plain writes on one row): only the holder finishes.
    const rs = await this.cql.execute(
      `UPDATE ${this.ks}.ingest_ledger SET status = ?, records = ?, problems = ?, updated_at = ? WHERE bucket = ? AND object_key = ? AND etag = ? IF run_id = ?`,
      [e.status, e.records, e.problems, new Date(), e.bucket, e.key, e.etag, e.runId],
    );
    return rs.wasApplied();
  }
}
