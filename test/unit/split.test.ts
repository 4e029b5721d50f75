// splitAll over its ports, with in-process fakes (pure logic): files are prepared ahead while one is
// produced, bounded; every claim a failed run holds is given back, and none of a finished file is.
// Against the real services it is test/integration/split.test.ts and the fault matrix.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RapflowError } from '../../src/errors.js';
import type { EncodeResult } from '../../src/pipeline/encode.js';
import type { Claim, Ledger, LedgerEntry, ObjectId } from '../../src/pipeline/ledger.js';
import { splitAll, type SplitDeps } from '../../src/pipeline/split.js';
import type { OutRecord } from '../../src/transport/types.js';

const OK: EncodeResult = { ok: true, keys: ['k'], values: [Buffer.from('v')], topics: ['rap.songs'], partitions: [0], schemaIds: [1], schemaVersions: [1] } as unknown as EncodeResult;

function harness(over: { failSendOf?: string; failReadOf?: string } = {}) {
  const events: string[] = [];
  const claimed = new Set<string>();
  let reading = 0;
  let maxReading = 0;
  const gates = new Map<string, () => void>();
  const ledger: Ledger = {
    claim: (o: ObjectId) => {
      events.push(`claim ${o.key}`);
      claimed.add(o.key);
      return Promise.resolve({ outcome: 'claimed' } as Claim);
    },
    release: (o: ObjectId) => {
      events.push(`release ${o.key}`);
      claimed.delete(o.key);
      return Promise.resolve();
    },
    finish: (e: Omit<LedgerEntry, 'updatedAt'>) => {
      events.push(`finish ${e.key}`);
      claimed.delete(e.key);
      return Promise.resolve(true);
    },
    finished: () => Promise.resolve(new Map()),
    get: () => Promise.resolve(undefined),
  };
  const deps: SplitDeps = {
    store: {
      stat: (bucket, key) => Promise.resolve({ bucket, key, etag: `e-${key}`, size: 10, uri: `s3://${bucket}/${key}` }),
      read: async (ref) => {
        reading++;
        maxReading = Math.max(maxReading, reading);
        events.push(`read ${ref.key}`);
        if (ref.key === over.failReadOf) throw new RapflowError('OBJECT_STORE_UNAVAILABLE', 'minio away');
        await new Promise<void>((resolve) => gates.set(ref.key, resolve));
        reading--;
        return new Uint8Array();
      },
      put: () => Promise.resolve(''),
      copy: () => Promise.resolve(),
    },
    ledger,
    producer: {
      sendAtomically: (records: OutRecord[]) => {
        const key = records[0]!.headers[`rapflow.source.key`] as string;
        events.push(`send ${key}`);
        if (key === over.failSendOf) return Promise.reject(new RapflowError('KAFKA_UNAVAILABLE', 'broker away'));
        return Promise.resolve({});
      },
    },
    encoder: { encode: () => Promise.resolve(OK), close: () => Promise.resolve() },
    log: pino({ level: 'silent' }),
  };
  // Reads finish as soon as they start, one tick later (so several can be in flight at once).
  const pump = setInterval(() => {
    for (const [k, open] of gates) {
      gates.delete(k);
      open();
    }
  }, 1);
  return { deps, events, claimed, maxReading: () => maxReading, stop: () => clearInterval(pump) };
}

const files = (n: number) => Array.from({ length: n }, (_, i) => ({ bucket: 'b', key: `f${i}` }));
const opts = { runId: 'r', topicPrefix: '', quarantinePrefix: 'q/' };

describe('splitAll', () => {
  it('prepares at most three files ahead of the one it produces, and produces them in order', async () => {
    const h = harness();
    try {
      const { manifest, error } = await splitAll(files(8), h.deps, opts);
      expect(error).toBeUndefined();
      expect(manifest.files.map((f) => f.key)).toEqual(files(8).map((f) => f.key));
      expect(h.maxReading()).toBeLessThanOrEqual(3);
      expect(h.maxReading()).toBeGreaterThan(1);
      // A file is read before the one ahead of it is sent: the prefetch overlaps the producing.
      expect(h.events.indexOf('read f1')).toBeLessThan(h.events.indexOf('send f0'));
      expect(h.claimed.size).toBe(0);
    } finally {
      h.stop();
    }
  });

  it('a send that fails releases that file and every file prepared ahead, and keeps what was split', async () => {
    const h = harness({ failSendOf: 'f2' });
    try {
      const { manifest, error } = await splitAll(files(8), h.deps, opts);
      expect(error).toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
      expect(manifest.stoppedBy?.code).toBe('KAFKA_UNAVAILABLE');
      expect(manifest.files.map((f) => [f.key, f.status])).toEqual([
        ['f0', 'split'],
        ['f1', 'split'],
      ]);
      // No claim is left held: f2 released after its failed send, f3..f5 (prepared ahead) too.
      expect(h.claimed.size).toBe(0);
      expect(h.events).toContain('release f2');
      // Finished files are never released, and files never prepared are never claimed.
      expect(h.events).not.toContain('release f0');
      expect(h.events).not.toContain('claim f7');
    } finally {
      h.stop();
    }
  });

  it('a read that fails while prepared ahead releases its claim and the others, after what was produced', async () => {
    const h = harness({ failReadOf: 'f1' });
    try {
      const { manifest, error } = await splitAll(files(5), h.deps, opts);
      expect(error).toMatchObject({ code: 'OBJECT_STORE_UNAVAILABLE' });
      expect(manifest.files.map((f) => f.key)).toEqual(['f0']);
      expect(h.claimed.size).toBe(0);
      expect(h.events).toContain('release f1');
    } finally {
      h.stop();
    }
  });
});
