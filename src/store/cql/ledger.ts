// The ingest ledger in Cassandra: one partition per bucket, plain reads and writes.
//
// Claims are check-then-write, not lightweight transactions: bench/split measured the Paxos rounds
// of LWT claims at a quarter of split's time on a 2-core machine. The race this leaves (two runs
// that claim the same new file within milliseconds both split it) produces the same keys twice,
// which the upserting sink absorbs: the ledger saves work and tells runs apart, the ids make it exact.
import type { Claim, Ledger, LedgerEntry, LedgerStatus, ObjectId } from '../../pipeline/ledger.js';
import type { CqlSession } from './session.js';

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

type Write = { row: string; query: string; params: unknown[]; done: { resolve: () => void; reject: (e: unknown) => void } };

/**
 * The ledger of one run. It reads a bucket's partition once (as discover does) and answers claims
 * from that snapshot; claim and outcome writes are coalesced into one unlogged batch per flush
 * (one partition, so one mutation). bench/split measured the per-file round trips as the largest
 * cost left on a 2-core machine. A run that starts after the snapshot is not seen: both may split
 * the same file, producing the same keys, which the upserting sink absorbs.
 */
export class CqlLedger implements Ledger {
  private readonly snapshots = new Map<string, Promise<Map<string, LedgerEntry>>>();
  private queue: Write[] = [];
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cql: CqlSession,
    /** How long writes may wait to share a batch. */
    private readonly coalesceMs = 50,
  ) {}

  private get ks(): string {
    return this.cql.settings.keyspace;
  }

  /** Every entry of a bucket, paged by the driver so a large bucket never loads at once. */
  private async readPartition(bucket: string): Promise<LedgerEntry[]> {
    const out: LedgerEntry[] = [];
    const query = `SELECT * FROM ${this.ks}.ingest_ledger WHERE bucket = ?`;
    let pageState: string | undefined;
    do {
      const rs = await this.cql.execute(query, [bucket], { fetchSize: 1_000, pageState });
      for (const r of rs.rows) out.push(toEntry(bucket, r));
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return out;
  }

  /** Every entry of a bucket, each version of each object (verify --all reads them all). */
  entries(bucket: string): Promise<LedgerEntry[]> {
    return this.readPartition(bucket);
  }

  async finished(bucket: string): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    for (const e of await this.readPartition(bucket)) {
      if (e.status === 'splitting') continue;
      const set = out.get(e.key) ?? new Set<string>();
      set.add(e.etag);
      out.set(e.key, set);
    }
    return out;
  }

  async get(obj: ObjectId): Promise<LedgerEntry | undefined> {
    const rs = await this.cql.execute(`SELECT * FROM ${this.ks}.ingest_ledger WHERE bucket = ? AND object_key = ? AND etag = ?`, [obj.bucket, obj.key, obj.etag]);
    const row = rs.first();
    return row ? toEntry(obj.bucket, row) : undefined;
  }

  private snapshot(bucket: string): Promise<Map<string, LedgerEntry>> {
    let snap = this.snapshots.get(bucket);
    if (!snap) {
      snap = this.readPartition(bucket).then((entries) => new Map(entries.map((e) => [`${e.key}\n${e.etag}`, e])));
      snap.catch(() => this.snapshots.delete(bucket)); // a failed read is retried on the next claim
      this.snapshots.set(bucket, snap);
    }
    return snap;
  }

  async claim(obj: ObjectId, runId: string, staleAfterMs: number): Promise<Claim> {
    const now = new Date();
    const snap = await this.snapshot(obj.bucket);
    const id = `${obj.key}\n${obj.etag}`;
    const entry = snap.get(id);
    if (entry && entry.status !== 'splitting') return { outcome: 'done', entry };
    if (entry && entry.runId !== runId && now.getTime() - entry.updatedAt.getTime() < staleAfterMs) return { outcome: 'busy', entry };
    snap.set(id, { ...obj, status: 'splitting', runId, records: {}, problems: 0, updatedAt: now });
    // Not awaited: a claim is advice to other runs; the outcome write after it is what counts.
    this.write(obj, `UPDATE ${this.ks}.ingest_ledger SET status = 'splitting', run_id = ?, updated_at = ? WHERE bucket = ? AND object_key = ? AND etag = ?`, [
      runId,
      now,
      obj.bucket,
      obj.key,
      obj.etag,
    ]).catch(() => undefined);
    return { outcome: 'claimed' };
  }

  async release(obj: ObjectId, runId: string): Promise<void> {
    await this.flush();
    const entry = await this.get(obj);
    if (entry?.status === 'splitting' && entry.runId === runId) {
      await this.cql.execute(`DELETE FROM ${this.ks}.ingest_ledger WHERE bucket = ? AND object_key = ? AND etag = ?`, [obj.bucket, obj.key, obj.etag]);
    }
    this.snapshots.get(obj.bucket)?.then((snap) => snap.delete(`${obj.key}\n${obj.etag}`)).catch(() => undefined);
  }

  async finish(e: Omit<LedgerEntry, 'updatedAt'>): Promise<boolean> {
    const snap = await this.snapshot(e.bucket);
    const id = `${e.key}\n${e.etag}`;
    const held = snap.get(id)?.runId === e.runId;
    snap.set(id, { ...e, updatedAt: new Date() });
    await this.write(
      e,
      `UPDATE ${this.ks}.ingest_ledger SET status = ?, run_id = ?, records = ?, problems = ?, updated_at = ? WHERE bucket = ? AND object_key = ? AND etag = ?`,
      [e.status, e.runId, e.records, e.problems, new Date(), e.bucket, e.key, e.etag],
    );
    return held;
  }

  /** Queues a write; it resolves once the batch it went out in is written. */
  private write(obj: ObjectId, query: string, params: unknown[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row: `${obj.bucket}\n${obj.key}\n${obj.etag}`, query, params, done: { resolve, reject } });
      // Well under Cassandra's batch size warning (5 KiB) at ~200 bytes a statement.
      if (this.queue.length >= 20) void this.flush();
      else this.flushTimer ??= setTimeout(() => void this.flush(), this.coalesceMs);
    });
  }

  /**
   * Writes everything queued. Statements of one batch share one timestamp, so two writes to the
   * same row in a batch would be settled by comparing values ('splitting' > 'split'), not by
   * order: only the last write per row goes out (it carries the whole outcome).
   */
  async flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const last = new Map<string, Write>();
    for (const w of batch) last.set(w.row, w);
    try {
      await this.cql.batch([...last.values()].map((w) => ({ query: w.query, params: w.params })));
      for (const w of batch) w.done.resolve();
    } catch (err) {
      for (const w of batch) w.done.reject(err);
    }
  }
}
