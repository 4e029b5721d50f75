// The rows of a fault matrix (the single node's, test/faults/matrix.test.ts, and the cluster's,
// test/cluster/matrix.test.ts), how they are checked, and how they become docs/reliability.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import { writeSection } from '../../bench/lib.js';
import { CORPUS, type Outcome, type Scenario } from './harness.js';

type Figures = Pick<Outcome, 'lost' | 'duplicated' | 'duplicatedInKafka' | 'duplicatedDeadLetters' | 'deadLetters'>;
/** null: not measured (the fault was not run), so no figure is written. */
type Nullable<T> = { [K in keyof T]: T[K] | null };
export interface Row extends Omit<Outcome, keyof Figures>, Nullable<Figures> {
  fault: string;
  did: string;
  recoverS: number | null;
}

export const times = (n: number) => `${n} time${n === 1 ? '' : 's'}`;

/** The row of a scenario, added to `rows`; `recovery` is the watch started when the fault ended. */
export async function recordRow(rows: Row[], sc: Scenario, fault: string, did: string, recovery?: Promise<number>): Promise<Row> {
  const recoverS = recovery === undefined ? null : await recovery;
  const row = { fault, did, recoverS, ...(await sc.outcome()) };
  rows.push(row);
  return row;
}

/** A row for a fault that was not run: no figures, and why. */
export function notRunRow(fault: string, why: string): Row {
  return { fault, did: why, recoverS: null, lost: null, duplicated: null, duplicatedInKafka: null, duplicatedDeadLetters: null, deadLetters: null, missing: [] };
}

/**
 * Nothing lost, nothing stored twice, no dead letter twice; and nothing produced twice, unless the
 * fault is one that can (a split killed between a file's commit and its ledger row).
 */
export function exact(row: Row, kafkaDuplicates: 'none' | 'possible' = 'none') {
  expect(row.missing, `${row.fault}: records lost`).toEqual([]);
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
  expect(row.duplicatedDeadLetters).toBe(0);
  if (kafkaDuplicates === 'none') expect(row.duplicatedInKafka, `${row.fault}: records produced twice`).toBe(0);
}

/**
 * exact(), and no dead letter at all: for a corpus without poison, where a dead letter is a good
 * record a fault made poison (seen once on the cluster: songs in flight to a killed node).
 */
export function clean(row: Row, kafkaDuplicates: 'none' | 'possible' = 'none') {
  expect(row.deadLetters, `${row.fault}: good records dead-lettered`).toBe(0);
  exact(row, kafkaDuplicates);
}

const FILE = 'docs/reliability.md';

/**
 * docs/reliability.md: the legend, then one section per matrix and Kafka client, each rewritten
 * by a run of it and kept by the others' runs.
 */
export function writeRows(section: string, title: string, rows: Row[], at: Date): void {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const legend = [
    '# Reliability: the fault matrix',
    '',
    '<!-- The sections below are written by test/faults/matrix.test.ts (`npm run test:faults`, `npm run test:faults:ci`), test/cluster/matrix.test.ts (`npm run test:cluster`), one Kafka client a run (KAFKA_CLIENT); do not edit by hand. -->',
    '',
    `The corpus: ${CORPUS.songs} songs of ${CORPUS.linesPerSong} lines in ${Math.ceil(CORPUS.songs / CORPUS.songsPerFile)} files plus the artists file, generated with seed ${CORPUS.seed}, on the local stack (2 cores): the single node, or the three-node cluster (three KRaft brokers with replication 3 and min.insync.replicas 2, three Cassandra nodes with replication 3 at LOCAL_QUORUM).`,
    'Each row runs the pipeline as processes, injects the fault, recovers as an operator, Argo (retry on exit 75) or Kubernetes (restart) would, then compares every table with the corpus record by record.',
    'Each matrix runs once per Kafka client (`KAFKA_CLIENT=kafkajs` or `platformatic`; CI runs the default one: six rows of the single-node matrix (its CI subset, `npm run test:faults:ci`; the registry, MinIO, frozen-sink and slow-network rows run with `npm run test:faults`) and two rows of the cluster matrix, its CI subset): each run has its section below.',
    '',
    '- **lost**: corpus records with no row, or a row whose content differs; through Stargate also a song or artist with no document.',
    '- **duplicated rows**: rows that are not in the corpus (the same record stored under a second key). Documents are keyed by the record id, so the Document API holds at most one per record; a missing one counts as lost.',
    '- **duplicated in Kafka**: records of one file version (bucket, key, etag and record index) that a read_committed reader of their topic sees more than once: produced twice. The writes are idempotent upserts, so these change no row.',
    '- **duplicated dead letters**: dead letters beyond the first for the same source record.',
    '- **–**: not measured; the row says why.',
    "- **recovery**: from the end of the fault (service back, process killed) to the tables holding the whole corpus, including the retry or restart delay (2 s) and, after a consumer kill, the group's session timeout (30 s).",
    '',
  ];
  const existing = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '';
  const firstSection = existing.indexOf('<!-- faults/');
  writeFileSync(FILE, `${legend.join('\n')}\n${firstSection >= 0 ? existing.slice(firstSection) : ''}`);
  writeSection(FILE, section, [
    `## ${title}`,
    '',
    `Run on ${at.toISOString().slice(0, 10)}, Node ${process.version}.`,
    '',
    '| fault | what the pipeline did | lost | duplicated rows | duplicated in Kafka | duplicated dead letters | recovery |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${cell(r.fault)} | ${cell(r.did)} | ${r.lost ?? '–'} | ${r.duplicated ?? '–'} | ${r.duplicatedInKafka ?? '–'} | ${r.duplicatedDeadLetters ?? '–'} | ${r.recoverS === null ? '–' : `${r.recoverS.toFixed(1)} s`} |`),
  ]);
}
