// What the k8s suites read of a rap-ingest run: the Workflow as the API server has it, its
// artifacts in the chart's MinIO (the discovered list, the report), and corpora of their own
// uploaded to the inbox through a port-forward, as the tutorial uploads.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Minio from 'minio';
import { loadSchemaSet } from '../../src/codec/schemas.js';
import { generateCorpus } from '../../src/model/generate.js';
import { emptyRecordSet, type RecordSet } from '../../src/model/records.js';
import { recordsOf, validateFile } from '../../src/model/validate.js';
import { kubectlOk, rapflow } from './cluster.js';
import { NS } from './install.js';

export interface WorkflowNode {
  id: string;
  displayName: string;
  templateName?: string;
  type: string;
  phase: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  outputs?: { exitCode?: string };
}

export interface Workflow {
  metadata: { name: string; uid: string; creationTimestamp: string; labels?: Record<string, string> };
  status: { phase?: string; startedAt?: string; finishedAt?: string; nodes?: Record<string, WorkflowNode> };
}

export const DEV_KEYS = { accessKey: 'rapflow', secretKey: 'rapflow-dev-secret' };
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const seconds = (n: { startedAt?: string; finishedAt?: string }) => (new Date(n.finishedAt!).getTime() - new Date(n.startedAt!).getTime()) / 1000;

export function workflow(name: string): Workflow {
  return JSON.parse(kubectlOk(['get', 'workflow', name, '-n', NS, '-o', 'json'])) as Workflow;
}

export function workflows(selector?: string): Workflow[] {
  return (JSON.parse(kubectlOk(['get', 'workflows', '-n', NS, ...(selector ? ['-l', selector] : []), '-o', 'json'])) as { items: Workflow[] }).items;
}

export const done = (phase?: string) => phase === 'Succeeded' || phase === 'Failed' || phase === 'Error';

/** Waits for the workflow to end; the Workflow as it ended. */
export async function finished(name: string, deadlineMs = 600_000): Promise<Workflow> {
  const t0 = Date.now();
  for (;;) {
    const wf = workflow(name);
    if (done(wf.status.phase)) return wf;
    if (Date.now() - t0 > deadlineMs) throw new Error(`workflow ${name} still ${wf.status.phase ?? 'unstarted'} after ${deadlineMs} ms`);
    await sleep(1_000);
  }
}

/** The pod nodes a workflow ran for `template`. */
export function podNodes(wf: Workflow, template: string): WorkflowNode[] {
  return Object.values(wf.status.nodes ?? {}).filter((n) => n.type === 'Pod' && n.templateName === template);
}

/** The pods' steps, as "name: seconds". */
export function stepTimes(wf: Workflow): string {
  return Object.values(wf.status.nodes ?? {})
    .filter((n) => n.type === 'Pod' || n.type === 'Suspend')
    .sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? ''))
    .map((n) => `${n.displayName} ${n.phase} ${n.finishedAt ? seconds(n).toFixed(0) : '?'} s`)
    .join(', ');
}

/** The chart's MinIO through a port-forward. */
export class Bucket {
  readonly s3: Minio.Client;

  constructor(readonly port: number) {
    // A new connection per request: a kept-alive socket through the port-forward is closed under
    // it while a run goes on (socket hang up on the next request).
    this.s3 = new Minio.Client({ endPoint: '127.0.0.1', port, useSSL: false, ...DEV_KEYS, transportAgent: new Agent({ keepAlive: false }) });
  }

  async text(bucket: string, key: string): Promise<string> {
    let text = '';
    for await (const chunk of await this.s3.getObject(bucket, key)) text += String(chunk);
    return text;
  }

  async keys(bucket: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const o of this.s3.listObjectsV2(bucket, prefix, true)) keys.push((o as { name: string }).name);
    return keys;
  }

  /** A run's artifacts. */
  artifactKeys(wf: Workflow): Promise<string[]> {
    return this.keys('rap-artifacts', `rap-ingest/${wf.metadata.uid}/`);
  }

  /** The inbox keys a run's discover listed (its `list` artifact). */
  async listed(wf: Workflow): Promise<string[]> {
    const key = (await this.artifactKeys(wf)).find((k) => k.endsWith('/list.json'));
    if (!key) return [];
    return (JSON.parse(await this.text('rap-artifacts', key)) as { key: string }[]).map((f) => f.key);
  }

  /** The run's report, as its report step wrote it into the artifact bucket. */
  async report(wf: Workflow): Promise<Report> {
    return JSON.parse(await this.text('rap-artifacts', `rap-ingest/${wf.metadata.uid}/report/report.json`)) as Report;
  }
}

export interface Report {
  verify: { ok: boolean; files: number; totals: Record<string, { expected: number; found: number; deadLettered: number }> };
  /** The tables' row counts when the report was made. */
  counts: { rows: Record<string, number> };
}

export interface Corpus {
  dir: string;
  prefix: string;
  /** The inbox keys of its files. */
  keys: string[];
  expected: RecordSet;
}

/** Writes a generated corpus of its own (the seed is in every artist's name, so its ids are new). */
export function generated(songs: number, songsPerFile = 10): Omit<Corpus, 'prefix' | 'keys'> {
  const seed = (Date.now() + Math.floor(Math.random() * 1_000)) % 1_000_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'rapflow-k8s-corpus-'));
  const expected = emptyRecordSet();
  const { types } = loadSchemaSet('avro');
  for (const f of generateCorpus({ songs, seed, linesPerSong: 20, songsPerFile })) writeFileSync(join(dir, f.name), f.content);
  for (const f of readdirSync(dir)) {
    const r = recordsOf(validateFile(f, readFileSync(join(dir, f)), types));
    expected.songs.push(...r.songs);
    expected.lines.push(...r.lines);
    expected.artists.push(...r.artists);
  }
  return { dir, expected };
}

/** `rapflow upload` of a folder into the inbox under a prefix of its own. */
export function upload(port: number, dir: string, prefix: string): string[] {
  const up = rapflow(['upload', '--json', dir], { S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_ACCESS_KEY: DEV_KEYS.accessKey, S3_SECRET_KEY: DEV_KEYS.secretKey, S3_INBOX_PREFIX: prefix });
  if (up.code !== 0) throw new Error(`rapflow upload failed:\n${up.stderr}`);
  return (JSON.parse(up.stdout) as { key: string }[]).map((f) => f.key);
}

/** A generated corpus, uploaded under `incoming/<name>-<seed>/`. */
export function corpus(port: number, name: string, songs: number, songsPerFile = 10): Corpus {
  const c = generated(songs, songsPerFile);
  const prefix = `incoming/${name}-${Date.now()}/`;
  return { ...c, prefix, keys: upload(port, c.dir, prefix) };
}
