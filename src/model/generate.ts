// Deterministic corpus generator for benchmarks: the same seed gives byte-identical files.
import { stringify } from 'yaml';
import { API_VERSION, SECTION_KINDS } from './documents.js';

export interface GenerateOptions {
  songs: number;
  seed: number;
  linesPerSong: number;
  songsPerFile: number;
  artists?: number;
}

export interface GeneratedFile {
  name: string;
  content: string;
  songs: number;
  lines: number;
}

/** mulberry32: a small, well-distributed 32-bit PRNG; plenty for test corpora, never for secrets. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SUBJECTS = ['the operator', 'my pod', 'the broker', 'a replica', 'the scheduler', 'etcd', 'the sidecar', 'my PVC', 'the cron job', 'the consumer group', 'the ingress', 'a headless service'];
const VERBS = ['restarts', 'reconciles', 'rebalances', 'replays', 'scales out', 'drains', 'compacts', 'heals', 'commits', 'rolls back', 'streams', 'persists'];
const ENDINGS = ['at three a.m.', 'before the backup lands', 'with a quorum of friends', 'through the dead-letter queue', 'on every node tonight', 'when the lag climbs high', 'like an idempotent write', 'and never drops a byte', 'while the pager sleeps', 'across the availability zones'];
const NAMES = ['Kilo', 'Lumen', 'Vector', 'Nimbus', 'Rook', 'Pixel', 'Quanta', 'Sable', 'Tundra', 'Echo', 'Flux', 'Orbit'];
const TITLES = ['Reconcile', 'Backpressure', 'Offset', 'Tombstone', 'Leader Election', 'Cold Start', 'Hot Partition', 'Warm Standby', 'Split Brain', 'Rolling Update'];

/** Songs spread over files and artists, every line distinct, all valid Rap-as-Code v1. */
export function* generateCorpus(o: GenerateOptions): Generator<GeneratedFile> {
  const rnd = prng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const artistCount = o.artists ?? Math.max(1, Math.ceil(o.songs / 50));
  const artists = Array.from({ length: artistCount }, (_, i) => `${NAMES[i % NAMES.length]} ${Math.floor(i / NAMES.length) + 1} (seed ${o.seed})`);
  yield {
    name: 'artists.yaml',
    content: artists
      .map((name, i) => doc('Artist', `gen-artist-${i + 1}`, { name, genres: ['generated'], activeSince: String(2000 + (i % 25)) }))
      .join('---\n'),
    songs: 0,
    lines: 0,
  };
  for (let first = 0, file = 1; first < o.songs; first += o.songsPerFile, file++) {
    const docs: string[] = [];
    let lines = 0;
    const last = Math.min(o.songs, first + o.songsPerFile);
    for (let n = first; n < last; n++) {
      const sections: { section: string; lines: string[] }[] = [];
      for (let l = 0; l < o.linesPerSong; l++) {
        if (l % 8 === 0) sections.push({ section: l === 0 ? 'intro' : pick(SECTION_KINDS), lines: [] });
        sections.at(-1)!.lines.push(`${pick(SUBJECTS)} ${pick(VERBS)} ${pick(ENDINGS)} (${n + 1}.${l + 1})`);
      }
      lines += o.linesPerSong;
      const day = 1 + Math.floor(rnd() * 28);
      const month = 1 + Math.floor(rnd() * 12);
      docs.push(
        doc('Song', `gen-song-${n + 1}`, {
          title: `${pick(TITLES)} No. ${n + 1}`,
          artist: artists[n % artistCount]!,
          releaseDate: `${2015 + (n % 12)}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
          language: 'en',
          tags: ['generated'],
          lyrics: sections,
        }),
      );
    }
    yield { name: `songs-${String(file).padStart(5, '0')}.yaml`, content: docs.join('---\n'), songs: last - first, lines };
  }
}

function doc(kind: string, name: string, spec: Record<string, unknown>): string {
  return stringify({ apiVersion: API_VERSION, kind, metadata: { name }, spec }, { lineWidth: 0 });
}
