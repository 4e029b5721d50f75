// The ingest ledger against the real Cassandra: outcomes win over claims, snapshots see finished files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CqlSession } from '../../src/store/cql/session.js';
import { CqlLedger, LEDGER_TABLE } from '../../src/store/cql/ledger.js';
import { config, dropKeyspace, uniqueName } from './stack.js';

const keyspace = uniqueName('ledger', '_');
const cql = new CqlSession({ ...config.cassandra, keyspace });

describe('CqlLedger', () => {
  beforeAll(async () => {
    await cql.connect();
    await cql.bootstrap([LEDGER_TABLE]);
  });
  afterAll(async () => {
    await cql.close();
    await dropKeyspace(keyspace);
  });

  it.each(['split', 'quarantined'] as const)('a claim and a %s outcome coalesced into one batch leave the outcome', async (status) => {
    // A long coalescing window puts both writes in one batch, where they share a timestamp.
    const ledger = new CqlLedger(cql, 5_000);
    const obj = { bucket: 'b', key: `k-${status}`, etag: 'e1' };
    expect(await ledger.claim(obj, 'run-1', 60_000)).toEqual({ outcome: 'claimed' });
    const finishing = ledger.finish({ ...obj, status, runId: 'run-1', records: { 'rap.songs': 2 }, problems: 0 });
    await new Promise((r) => setImmediate(r)); // both writes queued
    await ledger.flush();
    expect(await finishing).toBe(true);
    expect(await ledger.get(obj)).toMatchObject({ status, runId: 'run-1', records: { 'rap.songs': 2 } });
  });

  it("answers a later run's claims from what is in the table", async () => {
    const obj = { bucket: 'b2', key: 'k', etag: 'e1' };
    const first = new CqlLedger(cql, 1);
    await first.claim(obj, 'run-1', 60_000);
    await first.finish({ ...obj, status: 'split', runId: 'run-1', records: {}, problems: 0 });
    const second = new CqlLedger(cql, 1);
    expect(await second.claim(obj, 'run-2', 60_000)).toMatchObject({ outcome: 'done', entry: { status: 'split', runId: 'run-1' } });
    expect(await second.claim({ ...obj, etag: 'e2' }, 'run-2', 60_000)).toEqual({ outcome: 'claimed' });
    expect((await second.finished('b2')).get('k')).toEqual(new Set(['e1']));
  });

  it('leaves a fresh claim of another run alone and takes over a stale one', async () => {
    const obj = { bucket: 'b3', key: 'k', etag: 'e1' };
    const first = new CqlLedger(cql, 1);
    await first.claim(obj, 'run-1', 60_000);
    await first.flush();
    expect(await new CqlLedger(cql, 1).claim(obj, 'run-2', 60_000)).toMatchObject({ outcome: 'busy', entry: { runId: 'run-1' } });
    expect(await new CqlLedger(cql, 1).claim(obj, 'run-3', 0)).toEqual({ outcome: 'claimed' });
  });
});
