import { describe, expect, it } from 'vitest';
import { parseShard, shareOf } from '../../src/cli/commands/ingest.js';

describe('split --shard', () => {
  it('puts every item in exactly one of n shares', () => {
    const items = Array.from({ length: 23 }, (_, i) => `f${i}`);
    const shares = [0, 1, 2, 3].map((k) => shareOf(items, { k, n: 4 }));
    expect(shares.flat().sort()).toEqual([...items].sort());
    expect(shares.map((s) => s.length)).toEqual([6, 6, 6, 5]);
    expect(shareOf(items, { k: 0, n: 1 })).toEqual(items);
  });

  it('reads k/n and refuses anything else by name', () => {
    expect(parseShard('2/4')).toEqual({ k: 2, n: 4 });
    for (const bad of ['4/4', '1/0', 'a/b', '1', '-1/3']) expect(() => parseShard(bad)).toThrow(`--shard ${bad}: expected k/n`);
  });
});
