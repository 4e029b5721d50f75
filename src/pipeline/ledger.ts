// The ingest ledger: which objects (bucket, key, etag) were split or quarantined, shared by reruns and concurrent runs.

export type LedgerStatus = 'splitting' | 'split' | 'quarantined';

export interface ObjectId {
  bucket: string;
  key: string;
  etag: string;
}

export interface LedgerEntry extends ObjectId {
  status: LedgerStatus;
  runId: string;
  /** Records produced per topic (split), or problems found (quarantined). */
  records: Record<string, number>;
  problems: number;
  updatedAt: Date;
}

export type Claim = { outcome: 'claimed' } | { outcome: 'done'; entry: LedgerEntry } | { outcome: 'busy'; entry: LedgerEntry };

export interface Ledger {
  /** Finished objects of a bucket (split or quarantined), by key, with the etags finished. */
  finished(bucket: string): Promise<Map<string, Set<string>>>;
  /**
   * Takes an object for this run unless it is finished, or another run holds a fresh claim.
   * A claim older than `staleAfterMs` (a run that died) is taken over. Best effort: two runs may
   * both win a claim made at the same instant; they produce the same keys, so the result is the same.
   */
  claim(obj: ObjectId, runId: string, staleAfterMs: number): Promise<Claim>;
  /** Records the outcome; false when another run had taken the claim over meanwhile. */
  finish(entry: Omit<LedgerEntry, 'updatedAt'>): Promise<boolean>;
  get(obj: ObjectId): Promise<LedgerEntry | undefined>;
  /** Gives a claim back (the split failed), so a rerun need not wait for it to go stale. */
  release(obj: ObjectId, runId: string): Promise<void>;
}
