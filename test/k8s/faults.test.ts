// Faults on the local Kubernetes, counted as the fault matrix counts them (docs/reliability.md):
// a generated corpus of its own per row, uploaded to the chart's MinIO, ingested by the workflow
// under Argo's controller, a fault injected the way a cluster has it (a pod deleted, the kubelet
// restarted), then every record of the corpus looked up in the tables. `npm run test:k8s:faults`
// runs every row and writes its section; CI runs the consumer row (RAPFLOW_K8S_FAULTS_SUBSET=1).
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchemaSet } from '../../src/codec/schemas.js';
import { generateCorpus } from '../../src/model/generate.js';
import { emptyRecordSet, type RecordSet } from '../../src/model/records.js';
import { recordsOf, validateFile } from '../../src/model/validate.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { config } from '../integration/stack.js';
import { writeRows, type Row } from '../faults/rows.js';
import { kubectlOk, rapflow } from './cluster.js';
import { argo, installArgo, installChart, NS, portForward } from './install.js';

const KEYSPACE = 'rapflow_k8s';
const SONGS = 60;
const subsetOnly = process.env.RAPFLOW_K8S_FAULTS_SUBSET === '1';
const full = subsetOnly ? it.skip : it;
const rows: Row[] = [];
const started = new Date();
const set = loadSchemaSet('avro');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let minio: { port: number; stop: () => void };

/** A corpus of its own (the seed is in every artist's name, so its ids are new), uploaded under a folder of its own. */
function corpus(songs = SONGS): { dir: string; prefix: string; expected: RecordSet } {
  const seed = Date.now() % 1_000_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'rapflow-k8s-fault-'));
  const expected = emptyRecordSet();
  for (const f of generateCorpus({ songs, seed, linesPerSong: 20, songsPerFile: 10 })) writeFileSync(join(dir, f.name), f.content);
  for (const f of readdirSync(dir)) {
    const r = recordsOf(validateFile(f, readFileSync(join(dir, f)), set.types));
    expected.songs.push(...r.songs);
    expected.lines.push(...r.lines);
    expected.artists.push(...r.artists);
  }
  const prefix = `incoming/fault-${seed}/`;
  const up = rapflow(['upload', dir], { S3_ENDPOINT: `http://127.0.0.1:${minio.port}`, S3_ACCESS_KEY: 'rapflow', S3_SECRET_KEY: 'rapflow-dev-secret', S3_INBOX_PREFIX: prefix });
  if (up.code !== 0) throw new Error(`upload failed: ${up.stderr}`);
  return { dir, prefix, expected };
}

/** Records of the corpus with no row in the chart's keyspace, or a row that differs. */
async function lost(expected: RecordSet): Promise<number> {
  const cql = new CqlSession({ ...config.cassandra, keyspace: KEYSPACE });
  await cql.connect();
  try {
    let n = 0;
    // Whole tables, read as the fault matrix reads them (a line's id is no partition key); the
    // keyspace holds every row's corpus, a few thousand rows.
    const rowsOf = async (q: string) => {
      const found = new Map<string, string>();
      // Page by page: one execute() returns only its first page.
      let pageState: string | undefined;
      do {
        const page = await cql.execute(q, [], { fetchSize: 5_000, ...(pageState ? { pageState } : {}) });
        for (const r of page.rows) found.set(String(r.get('id')), String(r.get('v')));
        pageState = page.pageState ?? undefined;
      } while (pageState);
      return found;
    };
    const lines = await rowsOf(`SELECT id, text AS v FROM ${KEYSPACE}.lyric_lines`);
    const songs = await rowsOf(`SELECT id, title AS v FROM ${KEYSPACE}.songs`);
    for (const l of expected.lines) if (lines.get(l.id) !== l.text) n++;
    for (const s of expected.songs) if (songs.get(s.id) !== s.title) n++;
    return n;
  } finally {
    await cql.close();
  }
}

/** Seconds until no record of the corpus is missing (NaN past the deadline). */
async function untilComplete(expected: RecordSet, deadlineMs = 300_000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < deadlineMs) {
    if ((await lost(expected).catch(() => -1)) === 0) return (Date.now() - t0) / 1000;
    await sleep(1_000);
  }
  return Number.NaN;
}

/** Submits rap-ingest without waiting; its name. */
function submit(): string {
  const r = argo(['submit', '--from', 'workflowtemplate/rap-ingest', '-o', 'name']);
  if (r.code !== 0) throw new Error(`argo submit failed: ${r.stderr}`);
  return r.stdout.trim();
}

function phaseOf(wf: string): string {
  return kubectlOk(['get', 'workflow', wf, '-n', NS, '-o', 'jsonpath={.status.phase}']).trim();
}

async function finished(wf: string, deadlineMs = 600_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const phase = phaseOf(wf);
    if (['Succeeded', 'Failed', 'Error'].includes(phase)) return phase;
    if (Date.now() - t0 > deadlineMs) throw new Error(`workflow ${wf} still ${phase} after ${deadlineMs} ms`);
    await sleep(1_000);
  }
}

interface PodState {
  metadata: { name: string; annotations?: Record<string, string> };
  status: { containerStatuses?: { name: string; state: { running?: { startedAt: string } } }[] };
}

/** The first pod of `wf` running `template` whose main container has run for `forMs`. */
async function runningPod(wf: string, template: string, forMs = 0, deadlineMs = 120_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const pods = (JSON.parse(kubectlOk(['get', 'pods', '-n', NS, '-l', `workflows.argoproj.io/workflow=${wf}`, '-o', 'json'])) as { items: PodState[] }).items;
    const hit = pods.find((p) => {
      const node = p.metadata.annotations?.['workflows.argoproj.io/node-name'] ?? '';
      const main = p.status.containerStatuses?.find((c) => c.name === 'main')?.state.running;
      return node.includes(`.${template}(`) && main !== undefined && Date.now() - new Date(main.startedAt).getTime() >= forMs;
    });
    if (hit) return hit.metadata.name;
    if (Date.now() - t0 > deadlineMs) throw new Error(`no ${template} pod of ${wf} ran ${forMs} ms`);
    await sleep(100);
  }
}

/** The pods a workflow ran for `template`, by phase ("Succeeded", "Failed", "Error"). */
function attempts(wf: string, template: string): string[] {
  const nodes = (JSON.parse(kubectlOk(['get', 'workflow', wf, '-n', NS, '-o', 'json'])) as { status: { nodes: Record<string, { type: string; templateName?: string; phase: string }> } }).status.nodes;
  return Object.values(nodes)
    .filter((n) => n.type === 'Pod' && n.templateName === template)
    .map((n) => n.phase);
}

/** Records of the corpus now in the table: to inject a fault while the consumer is writing them. */
async function someWritten(expected: RecordSet, deadlineMs = 180_000): Promise<void> {
  const t0 = Date.now();
  const total = expected.lines.length + expected.songs.length;
  while (Date.now() - t0 < deadlineMs) {
    const missing = await lost(expected);
    if (missing < total) return;
    await sleep(200);
  }
  throw new Error('the consumer wrote nothing of the corpus in time');
}

function row(fault: string, did: string, lostN: number, recoverS: number): Row {
  const r: Row = { fault, did, recoverS, lost: lostN, duplicated: null, duplicatedInKafka: null, duplicatedDeadLetters: null, deadLetters: null, missing: [] };
  rows.push(r);
  return r;
}

beforeAll(async () => {
  installChart();
  installArgo();
  kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', '{"spec":{"suspend":true}}']);
  minio = await portForward('rapflow-minio', 9000);
}, 1_500_000);

afterAll(() => {
  minio?.stop();
  if (rows.length > 0) writeRows(subsetOnly ? 'faults/k8s-subset' : 'faults/k8s', `Local Kubernetes${subsetOnly ? ', CI subset' : ''}: the workflow under Argo, the consumer Deployment (${SONGS} songs a row)`, rows, started);
});

describe('faults on the local Kubernetes', () => {
  it('a consumer pod deleted mid-run (CI subset)', async () => {
    const { expected } = corpus();
    const wf = submit();
    await someWritten(expected);
    const pod = kubectlOk(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=consumer', '-o', 'jsonpath={.items[0].metadata.name}']).trim();
    kubectlOk(['delete', 'pod', pod, '-n', NS, '--wait=false']);
    const recovery = untilComplete(expected);
    const phase = await finished(wf);
    const recoverS = await recovery;
    const r = row('Consumer pod deleted (mid-consume)', `one of the two consumer pods deleted once the corpus's first rows were in; the Deployment made a new one; the workflow ${phase}`, await lost(expected), recoverS);
    expect(phase).toBe('Succeeded');
    expect(r.lost).toBe(0);
  });

  full('a split pod deleted mid-file', async () => {
    // A corpus big enough that a shard is still producing 1.5 s after its container started.
    const { expected } = corpus(900);
    const wf = submit();
    const pod = await runningPod(wf, 'split', 1_500);
    const deletedAt = Date.now();
    kubectlOk(['delete', 'pod', pod, '-n', NS, '--grace-period=0', '--force']);
    const phase = await finished(wf);
    const splits = attempts(wf, 'split');
    // How Argo ended the deleted pod's step, and when, against the deletion.
    const nodes = (JSON.parse(kubectlOk(['get', 'workflow', wf, '-n', NS, '-o', 'json'])) as { status: { nodes: Record<string, { id: string; phase: string; finishedAt?: string }> } }).status.nodes;
    const node = Object.values(nodes).find((n) => n.id.endsWith(`-${pod.split('-').pop()}`));
    const after = node?.finishedAt ? ((new Date(node.finishedAt).getTime() - deletedAt) / 1000).toFixed(1) : '?';
    // A pod deleted under Argo is not an exit 75, so it is not retried: should a file be left
    // unsplit, the next run (the CronWorkflow's) takes it; its transaction was never committed.
    let again = '';
    if (phase !== 'Succeeded') again = await finished(submit());
    const recoverS = await untilComplete(expected);
    const did =
      `force-deleted 1.5 s into its shard; Argo recorded that step ${node?.phase ?? 'unknown'} ${after} s after the deletion, ` +
      `${splits.filter((p) => p !== 'Succeeded').length} of ${splits.length} split pods not succeeded; the workflow ${phase}` +
      (again ? `; the next run (as the CronWorkflow's would) ${again}, splitting what the first had not committed` : '');
    const r = row('Split pod deleted (mid-split, --force)', did, await lost(expected), recoverS);
    expect(again || phase).toBe('Succeeded');
    expect(r.lost).toBe(0);
  });

  full('the kubelet restarted mid-run', async () => {
    const { expected } = corpus();
    const wf = submit();
    await runningPod(wf, 'split', 500);
    const status = JSON.parse(rapflow(['k8s', 'status', '--json']).stdout) as { name: string; pid?: number }[];
    process.kill(status.find((s) => s.name === 'k8s-kubelet')!.pid!, 'SIGTERM');
    await sleep(3_000);
    const up = rapflow(['k8s', 'up']);
    expect(up.code, up.stderr).toBe(0);
    const phase = await finished(wf);
    const recoverS = await untilComplete(expected);
    const splits = attempts(wf, 'split');
    const r = row('Kubelet restarted (mid-split)', `the kubelet stopped (SIGTERM) 0.5 s into a split and started again by \`rapflow k8s up\`; ${splits.length} split pods ran; the workflow ${phase}`, await lost(expected), recoverS);
    expect(phase).toBe('Succeeded');
    expect(r.lost).toBe(0);
  });
});
