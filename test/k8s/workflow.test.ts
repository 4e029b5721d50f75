// The ingest workflow run by Argo's own controller on the local Kubernetes: the sample data
// uploaded to the chart's MinIO through a port-forward (as the tutorial does), `argo submit --from
// workflowtemplate/rap-ingest`, every step a pod of the rapflow image talking to the presented Kafka
// (TLS, SCRAM, ACLs) and Cassandra, the consumer Deployment writing; then a second run that finds
// nothing new. Step durations are printed for docs/kubernetes.md.
import { readdirSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import * as Minio from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../manifests/tools.js';
import { kubectlOk, rapflow } from './cluster.js';
import { argo, installArgo, installChart, NS, portForward } from './install.js';

interface WorkflowNode {
  displayName: string;
  templateName?: string;
  type: string;
  phase: string;
  startedAt?: string;
  finishedAt?: string;
}

interface Workflow {
  metadata: { name: string; uid: string; creationTimestamp: string };
  status: { phase: string; startedAt: string; finishedAt: string; nodes: Record<string, WorkflowNode> };
}

interface VerifyTotals {
  ok: boolean;
  files: number;
  totals: Record<string, { expected: number; found: number; deadLettered: number }>;
}

const DEV_KEYS = { accessKey: 'rapflow', secretKey: 'rapflow-dev-secret' };
let minio: { port: number; stop: () => void };
let s3: Minio.Client;

/** Submits rap-ingest, waits for it, and returns the finished Workflow. */
function submit(): Workflow {
  const r = argo(['submit', '--from', 'workflowtemplate/rap-ingest', '--wait', '-o', 'name']);
  if (r.code !== 0) throw new Error(`argo submit failed:\n${r.stderr}${r.stdout}`);
  const name = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(kubectlOk(['get', 'workflow', name, '-n', NS, '-o', 'json'])) as Workflow;
}

const seconds = (n: { startedAt?: string; finishedAt?: string }) => (new Date(n.finishedAt!).getTime() - new Date(n.startedAt!).getTime()) / 1000;

/** The pods' steps, as "name: seconds". */
function stepTimes(wf: Workflow): string {
  return Object.values(wf.status.nodes)
    .filter((n) => n.type === 'Pod')
    .sort((a, b) => a.startedAt!.localeCompare(b.startedAt!))
    .map((n) => `${n.displayName} ${n.phase} ${seconds(n).toFixed(0)} s`)
    .join(', ');
}

async function artifact(key: string): Promise<string> {
  let text = '';
  for await (const chunk of await s3.getObject('rap-artifacts', key)) text += String(chunk);
  return text;
}

async function artifactKeys(uid: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of s3.listObjectsV2('rap-artifacts', `rap-ingest/${uid}/`, true)) keys.push((o as { name: string }).name);
  return keys;
}

interface Report {
  verify: VerifyTotals;
  /** The tables' row counts when the report was made. */
  counts: { rows: Record<string, number> };
}

/** The run's report, as its report step wrote it into the artifact bucket. */
async function reportOf(wf: Workflow): Promise<Report> {
  return JSON.parse(await artifact(`rap-ingest/${wf.metadata.uid}/report/report.json`)) as Report;
}

beforeAll(async () => {
  installChart();
  installArgo();
  // Runs only when this suite submits one (the schedule has a suite of its own).
  kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', '{"spec":{"suspend":true}}']);
  minio = await portForward('rapflow-minio', 9000);
  // A new connection per request: a kept-alive socket through the port-forward is closed under it
  // while a run goes on (socket hang up on the next request).
  s3 = new Minio.Client({ endPoint: '127.0.0.1', port: minio.port, useSSL: false, ...DEV_KEYS, transportAgent: new Agent({ keepAlive: false }) });
  // Under a folder of this run's own inside the inbox, so the files are new to the ingest ledger
  // whatever ran before (the rows they make are the same ids, upserted: the tables do not grow).
  const up = rapflow(['upload', join(ROOT, 'data')], {
    S3_ENDPOINT: `http://127.0.0.1:${minio.port}`,
    S3_ACCESS_KEY: DEV_KEYS.accessKey,
    S3_SECRET_KEY: DEV_KEYS.secretKey,
    S3_INBOX_PREFIX: `incoming/test-${Date.now()}/`,
  });
  if (up.code !== 0) throw new Error(`rapflow upload failed:\n${up.stderr}`);
}, 1_500_000);

afterAll(() => minio?.stop());

describe('rap-ingest, run by the Argo Workflows controller in the cluster', () => {
  let first: Workflow;
  const sampleFiles = readdirSync(join(ROOT, 'data')).filter((f) => f.endsWith('.yaml')).length;

  it('runs discover, split in its shards, verify, report and the exit handler, and verify reconciles every file', async () => {
    first = submit();
    process.stderr.write(`[k8s] ${first.metadata.name}: ${first.status.phase} in ${seconds(first.status).toFixed(0)} s; ${stepTimes(first)}\n`);
    expect(first.status.phase).toBe('Succeeded');
    const pods = Object.values(first.status.nodes).filter((n) => n.type === 'Pod');
    const byTemplate = (t: string) => pods.filter((n) => n.templateName === t);
    expect(byTemplate('discover').map((n) => n.phase)).toEqual(['Succeeded']);
    expect(byTemplate('split').map((n) => n.phase)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(byTemplate('verify').map((n) => n.phase)).toEqual(['Succeeded']);
    expect(byTemplate('report').map((n) => n.phase)).toEqual(['Succeeded']);
    expect(byTemplate('summary').map((n) => n.phase)).toEqual(['Succeeded']);

    const keys = await artifactKeys(first.metadata.uid);
    expect(keys.filter((k) => /\/manifests\/shard-\d\.json$/.test(k))).toHaveLength(3);
    expect(keys).toContain(`rap-ingest/${first.metadata.uid}/report/report.html`);
    const { verify } = await reportOf(first);
    expect(verify.ok).toBe(true);
    expect(verify.files).toBe(sampleFiles);
    for (const [table, t] of Object.entries(verify.totals)) {
      expect(t.found, table).toBe(t.expected);
      expect(t.expected, table).toBeGreaterThan(0);
      expect(t.deadLettered, table).toBe(0);
    }
  });

  it('finds nothing new on a second run, and the tables hold exactly what they held', async () => {
    const second = submit();
    process.stderr.write(`[k8s] ${second.metadata.name} (nothing new): ${second.status.phase} in ${seconds(second.status).toFixed(0)} s\n`);
    expect(second.status.phase).toBe('Succeeded');
    const list = (await artifactKeys(second.metadata.uid)).find((k) => k.endsWith('/list.json'))!;
    expect(JSON.parse(await artifact(list))).toEqual([]);
    const before = await reportOf(first);
    const after = await reportOf(second);
    expect(after.verify.files).toBe(0);
    expect(Object.values(before.counts.rows).every((n) => n > 0)).toBe(true);
    expect(after.counts.rows).toEqual(before.counts.rows);
  });

  it('fires on its schedule (the CronWorkflow shortened to every minute), and that run succeeds', async () => {
    const cron = JSON.parse(kubectlOk(['get', 'cronworkflow', 'rap-ingest', '-n', NS, '-o', 'json'])) as { spec: { schedules: string[] } };
    const patched = Math.floor(Date.now() / 1000) * 1000;
    kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { schedules: ['* * * * *'], suspend: false } })]);
    try {
      let fired: Workflow | undefined;
      // The next minute, plus the controller's cron sync period (10 s).
      for (const deadline = Date.now() + 150_000; !fired && Date.now() < deadline; await new Promise((r) => setTimeout(r, 1_000))) {
        const runs = (JSON.parse(kubectlOk(['get', 'workflows', '-n', NS, '-l', 'workflows.argoproj.io/cron-workflow=rap-ingest', '-o', 'json'])) as { items: Workflow[] }).items;
        fired = runs.find((w) => new Date(w.metadata.creationTimestamp).getTime() >= patched);
      }
      expect(fired, 'no run of the CronWorkflow within 150 s of its schedule set to every minute').toBeDefined();
      const firedS = (new Date(fired!.metadata.creationTimestamp).getTime() - patched) / 1000;
      const waited = argo(['wait', fired!.metadata.name]);
      expect(waited.code, waited.stderr).toBe(0);
      const done = JSON.parse(kubectlOk(['get', 'workflow', fired!.metadata.name, '-n', NS, '-o', 'json'])) as Workflow;
      process.stderr.write(`[k8s] ${done.metadata.name} (CronWorkflow): created ${firedS.toFixed(0)} s after the schedule was set (the next minute came ${(60 - (patched / 1000) % 60).toFixed(0)} s after), ${done.status.phase} in ${seconds(done.status).toFixed(0)} s\n`);
      expect(done.status.phase).toBe('Succeeded');
    } finally {
      kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { schedules: cron.spec.schedules, suspend: true } })]);
    }
  });
});
