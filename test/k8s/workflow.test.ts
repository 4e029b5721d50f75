// The ingest workflow run by Argo's own controller on the local Kubernetes: the sample data
// uploaded to the chart's MinIO through a port-forward (as the tutorial does), `argo submit --from
// workflowtemplate/rap-ingest`, every step a pod of the rapflow image talking to the presented Kafka
// (TLS, SCRAM, ACLs) and Cassandra, the consumer Deployment writing; then a second run that finds
// nothing new. Step durations are printed for docs/kubernetes.md.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../manifests/tools.js';
import { kubectlOk } from './cluster.js';
import { argo, installArgo, installChart, NS, pauseEvents, portForward } from './install.js';
import { Bucket, corpus, finished, podNodes, seconds, sleep, stepTimes, upload, workflow, workflows, type Workflow } from './runs.js';

const full = process.env.RAPFLOW_K8S_SUBSET === '1' ? it.skip : it;
let minio: { port: number; stop: () => void };
let bucket: Bucket;

/** Submits rap-ingest, waits for it, and returns the finished Workflow. */
function submit(): Workflow {
  const r = argo(['submit', '--from', 'workflowtemplate/rap-ingest', '--wait', '-o', 'name']);
  if (r.code !== 0) throw new Error(`argo submit failed:\n${r.stderr}${r.stdout}`);
  const name = r.stdout.trim().split('\n').pop()!;
  return workflow(name);
}

beforeAll(async () => {
  installChart();
  installArgo();
  pauseEvents();
  // Runs only when this suite submits one (the schedule has a suite of its own).
  kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', '{"spec":{"suspend":true}}']);
  minio = await portForward('rapflow-minio', 9000);
  bucket = new Bucket(minio.port);
  // Under a folder of this run's own inside the inbox, so the files are new to the ingest ledger
  // whatever ran before (the rows they make are the same ids, upserted: the tables do not grow).
  upload(minio.port, join(ROOT, 'data'), `incoming/test-${Date.now()}/`);
}, 1_500_000);

afterAll(() => minio?.stop());

describe('rap-ingest, run by the Argo Workflows controller in the cluster', () => {
  let first: Workflow;
  const sampleFiles = readdirSync(join(ROOT, 'data')).filter((f) => f.endsWith('.yaml')).length;

  it('runs discover, split in its shards, verify, report and the exit handler, and verify reconciles every file', async () => {
    first = submit();
    process.stderr.write(`[k8s] ${first.metadata.name}: ${first.status.phase} in ${seconds(first.status).toFixed(0)} s; ${stepTimes(first)}\n`);
    expect(first.status.phase).toBe('Succeeded');
    const byTemplate = (t: string) => podNodes(first, t);
    expect(byTemplate('discover').map((n) => n.phase)).toEqual(['Succeeded']);
    expect(byTemplate('split').map((n) => n.phase)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(byTemplate('verify').map((n) => n.phase)).toEqual(['Succeeded']);
    expect(byTemplate('report').map((n) => n.phase)).toEqual(['Succeeded']);
    expect(byTemplate('summary').map((n) => n.phase)).toEqual(['Succeeded']);

    const keys = await bucket.artifactKeys(first);
    expect(keys.filter((k) => /\/manifests\/shard-\d\.json$/.test(k))).toHaveLength(3);
    expect(keys).toContain(`rap-ingest/${first.metadata.uid}/report/report.html`);
    const { verify } = await bucket.report(first);
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
    expect(await bucket.listed(second)).toEqual([]);
    const before = await bucket.report(first);
    const after = await bucket.report(second);
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
      // One run is enough: another minute must not start a second while this one is waited for.
      kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', '{"spec":{"suspend":true}}']);
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

  it('fails at once on a configuration error (exit 78): no retry', () => {
    const r = argo(['submit', '--from', 'workflowtemplate/rap-ingest', '-p', 'max-files=abc', '--wait', '-o', 'name']);
    const wf = workflow(r.stdout.trim().split('\n').pop()!);
    const discover = podNodes(wf, 'discover');
    process.stderr.write(`[k8s] ${wf.metadata.name} (max-files=abc): ${wf.status.phase} in ${seconds(wf.status).toFixed(0)} s; discover ${discover.map((n) => `${n.phase} exit ${n.outputs?.exitCode ?? '?'}`).join(', ')}\n`);
    expect(wf.status.phase).toBe('Failed');
    expect(discover.map((n) => n.outputs?.exitCode)).toEqual(['78']);
    expect(podNodes(wf, 'split')).toEqual([]);
  });

  full('quarantines a file with bad data without a retry, and the rest of the run goes on', async () => {
    // Bad data is not an exit code of split: the file is quarantined with its report, the others
    // flow (only exit 75 is retried; see the configuration error above for a step that fails).
    const prefix = `incoming/bad-${Date.now()}/`;
    upload(minio.port, join(ROOT, 'test/fixtures/invalid/bad-slug.yaml'), prefix);
    const c = corpus(minio.port, 'beside-bad', 4, 2);
    const wf = submit();
    const manifests = await Promise.all(
      (await bucket.artifactKeys(wf)).filter((k) => /\/manifests\/shard-\d\.json$/.test(k)).map(async (k) => JSON.parse(await bucket.text('rap-artifacts', k)) as { files: { bucket: string; uri: string; status: string; quarantinedAs?: string }[] }),
    );
    const files = manifests.flatMap((m) => m.files);
    const bad = files.filter((f) => f.uri.includes(prefix));
    const good = files.filter((f) => f.uri.includes(c.prefix));
    process.stderr.write(`[k8s] ${wf.metadata.name} (a bad file beside ${c.keys.length} good): ${wf.status.phase}; the bad file ${bad.map((f) => f.status).join(', ')}, the good ${good.map((f) => f.status).join(', ')}; split pods ${podNodes(wf, 'split').map((n) => n.phase).join(', ')}\n`);
    expect(wf.status.phase).toBe('Succeeded');
    expect(bad.map((f) => f.status)).toEqual(['quarantined']);
    expect(good.map((f) => f.status)).toEqual(c.keys.map(() => 'split'));
    expect(podNodes(wf, 'split').map((n) => n.phase)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    // The file itself is kept, under the quarantine prefix, with its report beside it.
    expect(await bucket.keys(bad[0]!.bucket, bad[0]!.quarantinedAs!)).toContain(bad[0]!.quarantinedAs);
  });

  full('never starts a scheduled run while one is running (concurrencyPolicy: Forbid)', async () => {
    const cron = JSON.parse(kubectlOk(['get', 'cronworkflow', 'rap-ingest', '-n', NS, '-o', 'json'])) as { spec: { schedules: string[] } };
    const replicas = kubectlOk(['get', 'deployment', 'rapflow-consumer', '-n', NS, '-o', 'jsonpath={.spec.replicas}']).trim();
    // A run that outlasts the interval: with no consumer, its verify waits for what split produced.
    kubectlOk(['scale', 'deployment', 'rapflow-consumer', '-n', NS, '--replicas=0']);
    corpus(minio.port, 'forbid', 4, 2);
    const since = Math.floor(Date.now() / 1000) * 1000;
    const cronRuns = () => workflows('workflows.argoproj.io/cron-workflow=rap-ingest').filter((w) => new Date(w.metadata.creationTimestamp).getTime() >= since);
    kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { schedules: ['* * * * *'], suspend: false } })]);
    let long: Workflow | undefined;
    try {
      for (const deadline = Date.now() + 150_000; !long && Date.now() < deadline; await sleep(1_000)) long = cronRuns()[0];
      expect(long, 'no scheduled run within 150 s').toBeDefined();
      // Two more schedule times pass (and the controller's 10 s cron sync) while it runs.
      const started = new Date(long!.metadata.creationTimestamp).getTime();
      await sleep(Math.max(0, started + 135_000 - Date.now()));
      const during = cronRuns();
      const phase = workflow(long!.metadata.name).status.phase;
      process.stderr.write(`[k8s] Forbid: ${long!.metadata.name} still ${phase} ${((Date.now() - started) / 1000).toFixed(0)} s after it was created; scheduled runs since: ${during.map((w) => w.metadata.name).join(', ')}\n`);
      expect(phase).toBe('Running');
      expect(during.map((w) => w.metadata.name)).toEqual([long!.metadata.name]);
    } finally {
      kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { schedules: cron.spec.schedules, suspend: true } })]);
      kubectlOk(['scale', 'deployment', 'rapflow-consumer', '-n', NS, `--replicas=${replicas}`]);
    }
    // The consumer back, the long run ends well.
    const done = await finished(long!.metadata.name);
    expect(done.status.phase).toBe('Succeeded');
  });
});
