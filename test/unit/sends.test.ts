// How a file's records are cut into sends: within the count and byte limits, in order, none lost.
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRODUCER_TUNING, planSends } from '../../src/transport/sends.js';

const rec = (bytes: number) => ({ key: 'k', value: Buffer.alloc(bytes), headers: { h: 'v' } });

describe('planSends', () => {
  it('cuts at the record count', () => {
    expect(planSends(Array.from({ length: 7 }, () => rec(10)), { chunk: 3, maxSendBytes: 1 << 20 })).toEqual([[0, 3], [3, 6], [6, 7]]);
  });

  it('cuts before a send would pass the byte limit, and sends a record over it alone', () => {
    // 100 bytes of value + 16 framing + 1 key + 3 header = 120 bytes a record.
    expect(planSends([rec(100), rec(100), rec(100), rec(1000), rec(100)], { chunk: 100, maxSendBytes: 250 })).toEqual([[0, 2], [2, 3], [3, 4], [4, 5]]);
  });

  it('keeps every send of a file of 5,000 lyric-sized records under the broker\'s 1 MiB default', () => {
    const records = Array.from({ length: 5_000 }, () => ({ key: 'x'.repeat(36), value: Buffer.alloc(450), headers: { 'rapflow.source.key': 'incoming/songs-00001.yaml', 'rapflow.run.id': 'r'.repeat(36) } }));
    const sends = planSends(records, DEFAULT_PRODUCER_TUNING);
    expect(sends.length).toBeGreaterThan(1);
    expect(sends.flatMap(([s, e]) => Array.from({ length: e - s }, (_, i) => s + i))).toEqual(records.map((_, i) => i));
    for (const [s, e] of sends) expect(records.slice(s, e).reduce((n, r) => n + r.value.length + r.key.length, 0)).toBeLessThan(1 << 20);
  });

  it('sends nothing for no records', () => {
    expect(planSends([], DEFAULT_PRODUCER_TUNING)).toEqual([]);
  });
});
