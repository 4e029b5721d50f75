// Faults on the local Kubernetes, counted as the fault matrix counts them (docs/reliability.md):
// a generated corpus of its own per row, uploaded to the chart's MinIO, ingested by the workflow
// under Argo's controller, a fault injected the way a cluster has it (a pod deleted, the kubelet
// restarted), then every record of the corpus looked up in the tables. `npm run test:k8s`
// runs every row and writes its section; CI runs the consumer row (RAPFLOW_K8S_SUBSET=1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordSet } from '../../src/model/records.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { config } from '../integration/stack.js';
import { writeRows, type Row } from '../faults/rows.js';
import { kubectlOk, rapflow } from './cluster.js';
import { argo, installArgo, installChart, NS, pauseEvents, portForward } from './install.js';
import { corpus, finished, sleep } from './runs.js';

const KEYSPACE = 'rapflow_k8s';
const SONGS = 60;
const subsetOnly = process.env.RAPFLOW_K8S_SUBSET === '1';
const full = subsetOnly ? it.skip : it;
const rows: Row[] = [];
const started = new Date();
let minio: { port: number; stop: () => void };

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

/** Waits for the workflow to end; its phase. */
const phaseAtEnd = async (wf: string) => (await finished(wf)).status.phase ?? '';

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
  pauseEvents();
  kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', '{"spec":{"suspend":true}}']);
  minio = await portForward('rapflow-minio', 9000);
}, 1_500_000);

afterAll(() => {
  minio?.stop();
  if (rows.length > 0) writeRows(subsetOnly ? 'faults/k8s-subset' : 'faults/k8s', `Local Kubernetes${subsetOnly ? ', CI subset' : ''}: the workflow under Argo, the consumer Deployment (${SONGS} songs a row)`, rows, started);
});

describe('faults on the local Kubernetes', () => {
  it('a consumer pod deleted mid-run (CI subset)', async () => {
    const { expected } = corpus(minio.port, 'fault', SONGS);
    const wf = submit();
    await someWritten(expected);
    const pod = kubectlOk(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=consumer', '-o', 'jsonpath={.items[0].metadata.name}']).trim();
    kubectlOk(['delete', 'pod', pod, '-n', NS, '--wait=false']);
    const recovery = untilComplete(expected);
    const phase = await phaseAtEnd(wf);
    const recoverS = await recovery;
    const r = row('Consumer pod deleted (mid-consume)', `one of the two consumer pods deleted once the corpus's first rows were in; the Deployment made a new one; the workflow ${phase}`, await lost(expected), recoverS);
    expect(phase).toBe('Succeeded');
    expect(r.lost).toBe(0);
  });

  full('a split pod deleted mid-file', async () => {
    // A corpus big enough that a shard is still producing 1.5 s after its container started.
    const { expected } = corpus(minio.port, 'fault', 900);
    const wf = submit();
    const pod = await runningPod(wf, 'split', 1_500);
    const deletedAt = Date.now();
    kubectlOk(['delete', 'pod', pod, '-n', NS, '--grace-period=0', '--force']);
    const phase = await phaseAtEnd(wf);
    const splits = attempts(wf, 'split');
    // How Argo ended the deleted pod's step, and when, against the deletion.
    const nodes = (JSON.parse(kubectlOk(['get', 'workflow', wf, '-n', NS, '-o', 'json'])) as { status: { nodes: Record<string, { id: string; phase: string; finishedAt?: string }> } }).status.nodes;
    const node = Object.values(nodes).find((n) => n.id.endsWith(`-${pod.split('-').pop()}`));
    const after = node?.finishedAt ? ((new Date(node.finishedAt).getTime() - deletedAt) / 1000).toFixed(1) : '?';
    // A pod deleted under Argo is not an exit 75, so it is not retried: should a file be left
    // unsplit, the next run (the CronWorkflow's) takes it; its transaction was never committed.
    let again = '';
    if (phase !== 'Succeeded') again = await phaseAtEnd(submit());
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
    const { expected } = corpus(minio.port, 'fault', SONGS);
    const wf = submit();
    await runningPod(wf, 'split', 500);
    const status = JSON.parse(rapflow(['k8s', 'status', '--json']).stdout) as { name: string; pid?: number }[];
    process.kill(status.find((s) => s.name === 'k8s-kubelet')!.pid!, 'SIGTERM');
    await sleep(3_000);
    const up = rapflow(['k8s', 'up']);
    expect(up.code, up.stderr).toBe(0);
    // A port-forward's stream goes through the kubelet: the rows after this one need a new one.
    minio.stop();
    minio = await portForward('rapflow-minio', 9000);
    const phase = await phaseAtEnd(wf);
    const recoverS = await untilComplete(expected);
    const splits = attempts(wf, 'split');
    const r = row('Kubelet restarted (mid-split)', `the kubelet stopped (SIGTERM) 0.5 s into a split and started again by \`rapflow k8s up\`; ${splits.length} split pods ran; the workflow ${phase}`, await lost(expected), recoverS);
    expect(phase).toBe('Succeeded');
    expect(r.lost).toBe(0);
  });

  full('MinIO unavailable under a split step: exit 75, retried by Argo with backoff', async () => {
    const { expected } = corpus(minio.port, 'fault', 900);
    const wf = submit();
    const pod = await runningPod(wf, 'split', 1_000);
    // The Service loses its endpoints (its selector matches nothing): connections to MinIO are
    // refused, as when it is down, and its data stays (the dev MinIO is on an emptyDir).
    const svc = JSON.parse(kubectlOk(['get', 'service', 'rapflow-minio', '-n', NS, '-o', 'json'])) as { spec: { selector: Record<string, string> } };
    const away = { ...svc.spec.selector, 'app.kubernetes.io/component': 'minio-away' };
    kubectlOk(['patch', 'service', 'rapflow-minio', '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { selector: away } })]);
    const cutAt = Date.now();
    try {
      await sleep(15_000);
    } finally {
      kubectlOk(['patch', 'service', 'rapflow-minio', '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { selector: svc.spec.selector } })]);
    }
    const phase = await phaseAtEnd(wf);
    const recoverS = await untilComplete(expected);
    const nodes = Object.values((JSON.parse(kubectlOk(['get', 'workflow', wf, '-n', NS, '-o', 'json'])) as { status: { nodes: Record<string, { type: string; templateName?: string; phase: string; startedAt?: string; finishedAt?: string; outputs?: { exitCode?: string } }> } }).status.nodes);
    const splits = nodes.filter((n) => n.type === 'Pod' && n.templateName === 'split').sort((a, b) => a.startedAt!.localeCompare(b.startedAt!));
    const failed = splits.filter((n) => n.phase !== 'Succeeded');
    const retried = failed.map((f) => {
      const next = splits.find((n) => n.startedAt! > f.finishedAt!);
      return next ? (new Date(next.startedAt!).getTime() - new Date(f.finishedAt!).getTime()) / 1000 : Number.NaN;
    });
    const did =
      `MinIO's Service without endpoints for 15 s, 1 s into split pod ${pod}; ${failed.length} split attempt(s) ended ${failed.map((f) => `${f.phase} exit ${f.outputs?.exitCode ?? '?'} ${((new Date(f.finishedAt!).getTime() - cutAt) / 1000).toFixed(0)} s into the outage`).join(', ')}; ` +
      `Argo started the next attempt ${retried.map((x) => `${x.toFixed(0)} s`).join(', ')} later (backoff 30 s, doubling); ${splits.length} split pods in all; the workflow ${phase}`;
    const r = row('MinIO unavailable (mid-split, 15 s)', did, await lost(expected), recoverS);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((f) => f.outputs?.exitCode === '75')).toBe(true);
    expect(phase).toBe('Succeeded');
    expect(r.lost).toBe(0);
  });

  full('the workflow controller killed mid-run', async () => {
    const { expected } = corpus(minio.port, 'fault', SONGS);
    const wf = submit();
    await runningPod(wf, 'split', 500);
    const old = kubectlOk(['get', 'pods', '-n', NS, '-l', 'app=workflow-controller', '-o', 'jsonpath={.items[0].metadata.name}']).trim();
    kubectlOk(['delete', 'pod', old, '-n', NS, '--grace-period=0', '--force']);
    const killedAt = Date.now();
    let back = Number.NaN;
    for (const deadline = killedAt + 180_000; Number.isNaN(back) && Date.now() < deadline; await sleep(500)) {
      const pods = (JSON.parse(kubectlOk(['get', 'pods', '-n', NS, '-l', 'app=workflow-controller', '-o', 'json'])) as { items: { metadata: { name: string }; status: { containerStatuses?: { ready: boolean }[] } }[] }).items;
      if (pods.some((p) => p.metadata.name !== old && p.status.containerStatuses?.[0]?.ready)) back = (Date.now() - killedAt) / 1000;
    }
    const phase = await phaseAtEnd(wf);
    const recoverS = await untilComplete(expected);
    const r = row('Workflow controller killed (mid-split)', `its pod force-deleted 0.5 s into a split; the Deployment's new controller was running ${back.toFixed(0)} s later and took the run over; the workflow ${phase}`, await lost(expected), recoverS);
    expect(back).toBeLessThan(180);
    expect(phase).toBe('Succeeded');
    expect(r.lost).toBe(0);
  });

  full('the consumer Deployment scaled 1 to 3 to 1 during a run', async () => {
    const replicas = kubectlOk(['get', 'deployment', 'rapflow-consumer', '-n', NS, '-o', 'jsonpath={.spec.replicas}']).trim();
    const scale = (n: number) => kubectlOk(['scale', 'deployment', 'rapflow-consumer', '-n', NS, `--replicas=${n}`]);
    scale(1);
    kubectlOk(['rollout', 'status', 'deployment', 'rapflow-consumer', '-n', NS, '--timeout=180s']);
    try {
      const { expected } = corpus(minio.port, 'fault', 900);
      const wf = submit();
      await someWritten(expected);
      scale(3);
      kubectlOk(['rollout', 'status', 'deployment', 'rapflow-consumer', '-n', NS, '--timeout=180s']);
      await sleep(10_000);
      scale(1);
      const phase = await phaseAtEnd(wf);
      const recoverS = await untilComplete(expected);
      const r = row('Consumer scaled 1 → 3 → 1 (mid-consume)', `one consumer pod; 3 once the corpus's first rows were in, back to 1 when all 3 were ready plus 10 s (the group rebalanced as they joined and left); the workflow ${phase}`, await lost(expected), recoverS);
      expect(phase).toBe('Succeeded');
      expect(r.lost).toBe(0);
    } finally {
      scale(Number(replicas));
    }
  });
});
