// Our fast UUIDv5 and murmur2 must give exactly what the reference libraries give.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { v5 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { artistId, RAPFLOW_NAMESPACE, songId, uuidv5 } from '../../src/model/ids.js';
import { murmur2, partitionFor } from '../../src/transport/partition.js';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

const names = ['', 'a', 'ab', 'abc', 'abcd', 'song:zoë quorum\netcd never forgets', 'ユキ・シャード', 'Оксана Офсет', '🎤☸️', ...Array.from({ length: 200 }, () => randomBytes(1 + Math.floor(Math.random() * 40)).toString('base64'))];

describe('uuidv5', () => {
  it('matches the uuid package for every name, Unicode included', () => {
    for (const n of names) expect(uuidv5(n, RAPFLOW_NAMESPACE)).toBe(v5(n, RAPFLOW_NAMESPACE));
  });

  it('keeps the documented namespace and example ids (data/README.md)', () => {
    expect(RAPFLOW_NAMESPACE).toBe('c7ab9435-78fb-54bb-8562-bb141291cdf8');
    expect(songId('MC Quorum', 'Majority Rules')).toBe('e734f7ec-135b-5d23-8914-46b3447975e0');
    expect(artistId('  mc   QUORUM ')).toBe(artistId('MC Quorum'));
  });
});

describe('murmur2 and partitionFor', () => {
  it('match kafkajs (and so the Java client) on every key length and byte', () => {
    for (const n of names) expect(murmur2(Buffer.from(n, 'utf8'))).toBe(kafkajsMurmur2(Buffer.from(n, 'utf8')));
  });

  it('spreads keys over partitions as the default partitioner does', () => {
    for (const n of names) expect(partitionFor(n, 3)).toBe((kafkajsMurmur2(n) & 0x7fffffff) % 3);
  });
});
