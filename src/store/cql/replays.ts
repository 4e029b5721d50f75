// What `rapflow dlq replay` made of each dead letter, in Cassandra beside the ingest ledger: one partition per dead-letter topic.
import type { ReplayEntry, ReplayLedger, ReplayOutcome } from '../../pipeline/dlq.js';
import type { CqlSession } from './session.js';

export const REPLAYS_TABLE = `CREATE TABLE IF NOT EXISTS {ks}.dead_letter_replays (
  dlq_topic text,
  at text,
  outcome text,
  code text,
  reason text,
  replayed_at timestamp,
  PRIMARY KEY ((dlq_topic), at)
)`;

export class CqlReplayLedger implements ReplayLedger {
  constructor(private readonly cql: CqlSession) {}

  private get ks(): string {
    return this.cql.settings.keyspace;
  }

  /** Whether the keyspace has the table (db init makes it; a keyspace made before `dlq replay` existed has none). */
  async exists(): Promise<boolean> {
    const rs = await this.cql.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [this.ks, 'dead_letter_replays'], { prepare: true });
    return rs.rowLength > 0;
  }

  async outcomes(dlqTopic: string): Promise<Map<string, ReplayEntry>> {
    const out = new Map<string, ReplayEntry>();
    const query = `SELECT at, outcome, code, reason, replayed_at FROM ${this.ks}.dead_letter_replays WHERE dlq_topic = ?`;
    let pageState: string | undefined;
    do {
      const rs = await this.cql.execute(query, [dlqTopic], { fetchSize: 1_000, pageState });
      for (const r of rs.rows) {
        const at = r.get('at') as string;
        out.set(at, {
          at,
          outcome: r.get('outcome') as ReplayOutcome,
          code: (r.get('code') as string | null) ?? '',
          reason: (r.get('reason') as string | null) ?? '',
          replayedAt: r.get('replayed_at') as Date,
        });
      }
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return out;
  }

  /** Unlogged batches in the topic's one partition (a mutation each), four rows apiece to stay under Cassandra's 5 KiB batch warning with long reasons. */
  async record(dlqTopic: string, entries: ReplayEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const query = `INSERT INTO ${this.ks}.dead_letter_replays (dlq_topic, at, outcome, code, reason, replayed_at) VALUES (?, ?, ?, ?, ?, ?)`;
    for (let i = 0; i < entries.length; i += 4) {
      await this.cql.batch(entries.slice(i, i + 4).map((e) => ({ query, params: [dlqTopic, e.at, e.outcome, e.code, e.reason.slice(0, 1000), e.replayedAt] })));
    }
  }
}
