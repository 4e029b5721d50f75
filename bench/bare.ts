// The benchmarks' baselines: bare clients on threads of their own (bare-thread.mjs), started and
// connected first, then timed from `go()` to their last acknowledged write.
import { Worker } from 'node:worker_threads';
import type { CqlSettings } from '../src/store/cql/session.js';
import { planSends, type ProducerTuning } from '../src/transport/sends.js';
import type { KafkaClientName, OutRecord } from '../src/transport/types.js';
import { unique } from './lib.js';

/** One Cassandra request: a single INSERT, or an unlogged batch of the INSERTs of one partition. */
export type CqlRequest = { query: string; params: unknown[] }[];

export type BareInput =
  | {
      kind: 'producer';
      client: KafkaClientName;
      brokers: string[];
      transactionalId: string;
      compression: ProducerTuning['compression'];
      /** Files, each as its sends, each send as its records. */
      files: Pick<OutRecord, 'topic' | 'key' | 'value' | 'headers'>[][][];
    }
  | { kind: 'writer'; settings: CqlSettings; mode: 'rows' | 'batches'; requests: CqlRequest[]; inFlight: number };

export interface Bare {
  /** Sends everything; resolves with the seconds it took, timed on the client's thread. */
  go: () => Promise<number>;
}

export async function startBare(input: BareInput): Promise<Bare> {
  const worker = new Worker(new URL('./bare-thread.mjs', import.meta.url), { workerData: input });
  const failed = new Promise<never>((_, reject) => worker.once('error', reject));
  failed.catch(() => undefined); // observed by the races below
  await Promise.race([new Promise<void>((resolve) => worker.once('message', () => resolve())), failed]);
  return {
    go: async () => {
      const done = new Promise<number>((resolve) => worker.once('message', (s: number) => resolve(s)));
      worker.postMessage('go');
      try {
        return await Promise.race([done, failed]);
      } finally {
        await worker.terminate();
      }
    },
  };
}

/** A bare producer thread, connected, for these files: each file's records in the sends rapflow's split would make. */
export function startBareProducer(client: KafkaClientName, brokers: string[], tuning: ProducerTuning, files: OutRecord[][]): Promise<Bare> {
  const sends = files.map((f) => planSends(f, tuning).map(([start, end]) => f.slice(start, end).map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: r.headers }))));
  return startBare({ kind: 'producer', client, brokers, transactionalId: unique('bench-baseline'), compression: tuning.compression, files: sends });
}

/**
 * The producer's ceiling: a bare transactional producer of the given client sending already-encoded records,
 * one transaction per file, with the same batching rapflow uses. Returns the seconds it took.
 */
export async function bareProduce(client: KafkaClientName, brokers: string[], tuning: ProducerTuning, files: OutRecord[][]): Promise<number> {
  return (await startBareProducer(client, brokers, tuning, files)).go();
}
