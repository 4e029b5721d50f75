// Kafka's default partitioning (murmur2 of the key bytes, as the Java client and kafkajs do), in 32-bit integer math.
// kafkajs' own murmur2 emulates Java ints with a Long class; this is the same function about ten times faster,
// which matters when every lyric line of a corpus is hashed (bench/split). A unit test pins it to kafkajs' result.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest >= 3) h ^= data[blocks + 2]! << 16;
  if (rest >= 2) h ^= data[blocks + 1]! << 8;
  if (rest >= 1) {
    h ^= data[blocks]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition among `n` that the default partitioner gives a record with this key. */
export function partitionFor(key: string, n: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % n;
}
