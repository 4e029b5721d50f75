// The Kubernetes tutorial's steps 5 to 8 (docs/tutorials/kubernetes.md), their command blocks run
// as written against the local cluster, with the substitutions below, the one place that lists
// what differs here. Steps 1 to 4 (kind, the operators' Helm charts, docker build) cannot run on
// this machine: their equivalents are this suite's beforeAll (the CRDs, `rapflow k8s present`, Argo
// Workflows' and Argo Events' controllers from scripts/k8s/argo.sh, the image from images.sh).
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fences } from '../docs/markdown.js';
import { ROOT, tool } from '../manifests/tools.js';
import { applyCrds, kubectlOk, rapflow } from './cluster.js';
import { adminKubeconfig, installArgo, installEvents, LOCAL_VALUES, NS, pauseEvents } from './install.js';

const TUTORIAL = 'docs/tutorials/kubernetes.md';

/**
 * What differs from the tutorial here, each a rewrite of its text (every one must apply, so a
 * changed tutorial fails this suite rather than running something else):
 * - the helm install gets the values this cluster needs (test/k8s/install.ts: one Cassandra node
 *   in its own datacenter and keyspace, CQL without a Stargate coordinator, one NATS server);
 * - `kubectl get workflows --watch` runs until a person stops it: here, until the run the upload
 *   started has ended;
 * - a port-forward put in the background is waited for before the next line uses its port.
 * And the tools on PATH are this machine's: kubectl v1.36.3 on the cluster's admin kubeconfig, helm
 * and the argo CLI v4.0.5 (the tutorial installs Argo v4.1.2, which the Go module proxy does not
 * serve). The image the tutorial builds as `:dev` is the one images.sh built, tagged `:dev` too.
 */
const SUBSTITUTIONS: { step: number; from: RegExp; to: string }[] = [
  { step: 5, from: /--set devMinio\.enabled=true/, to: `--set devMinio.enabled=true ${LOCAL_VALUES.filter((v) => v !== '--set').map((v) => `--set ${v}`).join(' ')}` },
  {
    step: 6,
    from: /^kubectl -n rapflow get workflows --watch$/m,
    to: 'until [ -n "$(kubectl -n rapflow get workflows -l events.argoproj.io/sensor=rap-ingest -o name)" ]; do sleep 1; done\nkubectl -n rapflow wait --for=jsonpath=\'{.status.phase}\'=Succeeded $(kubectl -n rapflow get workflows -l events.argoproj.io/sensor=rap-ingest -o name) --timeout=300s',
  },
  { step: 6, from: /(port-forward svc\/rapflow-minio 19000:9000) &$/m, to: '$1 &\nuntil (exec 3<>/dev/tcp/127.0.0.1/19000) 2>/dev/null; do sleep 0.2; done' },
  { step: 8, from: /(port-forward svc\/rapflow-consumer 9464:9464) &$/m, to: '$1 &\nuntil (exec 3<>/dev/tcp/127.0.0.1/9464) 2>/dev/null; do sleep 0.2; done' },
];

/** The `sh` blocks of step N (its `## N.` section), as the tutorial has them. */
function stepBlocks(step: number): string[] {
  const md = readFileSync(join(ROOT, TUTORIAL), 'utf8');
  const start = md.indexOf(`\n## ${step}. `);
  const end = md.indexOf('\n## ', start + 1);
  expect(start, `${TUTORIAL} has no step ${step}`).toBeGreaterThan(0);
  return fences(md.slice(start, end)).filter((f) => f.lang === 'sh').map((f) => f.body);
}

let bin: string;

/** Runs a block with bash, from the repository root, with this machine's tools first on PATH. */
function runBlock(step: number, body: string): { code: number; out: string } {
  let script = body;
  for (const s of SUBSTITUTIONS.filter((x) => x.step === step && x.from.test(body))) script = script.replace(s.from, s.to);
  // Background port-forwards end with the block: each job in a process group of its own (set -m),
  // the groups killed on exit; one left running would hold the block's output open.
  const r = spawnSync('bash', ['-c', `set -euo pipefail -m\ntrap 'for j in $(jobs -p); do kill -- -$j 2>/dev/null || true; done' EXIT\n${script}`], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 900_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, PATH: `${bin}:${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`, KUBECONFIG: adminKubeconfig() },
  });
  const out = `${r.stdout}${r.stderr}`;
  process.stderr.write(`[k8s] tutorial step ${step}: exit ${r.status}\n${out.split('\n').slice(-12).map((l) => `  | ${l}`).join('\n')}\n`);
  return { code: r.status ?? -1, out };
}

beforeAll(() => {
  // The tools the tutorial calls, as this machine has them.
  bin = mkdtempSync(join(tmpdir(), 'rapflow-tutorial-bin-'));
  const shim = (name: string, line: string) => {
    writeFileSync(join(bin, name), `#!/usr/bin/env bash\n${line}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  shim('kubectl', `exec bash ${JSON.stringify(join(ROOT, 'scripts/stack/k8s.sh'))} kubectl "$@"`);
  shim('helm', `exec ${JSON.stringify(tool('helm'))} "$@"`);
  const argoBin = spawnSync('bash', [join(ROOT, 'scripts/k8s/argo.sh'), 'bin-dir'], { encoding: 'utf8' }).stdout.trim();
  shim('argo', `exec ${JSON.stringify(join(argoBin, 'argo'))} "$@"`);
  // Steps 1 to 4, as this machine does them.
  applyCrds();
  const present = rapflow(['k8s', 'present', '--namespace', NS]);
  if (present.code !== 0) throw new Error(`rapflow k8s present failed:\n${present.stderr}`);
  installArgo();
  installEvents();
  const tagged = spawnSync('bash', [join(ROOT, 'scripts/stack/k8s.sh'), 'tag-image', 'ghcr.io/dok-community/rapflow:0.1.0', 'ghcr.io/dok-community/rapflow:dev'], { encoding: 'utf8' });
  if (tagged.status !== 0) throw new Error(`tagging the image :dev failed:\n${tagged.stderr}`);
}, 1_500_000);

afterAll(() => {
  pauseEvents();
  // The schedule stays off between suites, as the other suites leave it.
  kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', '{"spec":{"suspend":true}}']);
});

describe(`${TUTORIAL}, steps 5 to 8, as written (with the substitutions listed in this file)`, () => {
  it('every substitution applies to the tutorial as it is', () => {
    for (const s of SUBSTITUTIONS) expect(stepBlocks(s.step).some((b) => s.from.test(b)), `step ${s.step}: ${s.from}`).toBe(true);
  });

  it('5. rapflow, with Helm: the release installs and its pods run', () => {
    const [install] = stepBlocks(5);
    const r = runBlock(5, install!);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/rapflow-consumer-\S+\s+1\/1\s+Running/);
  });

  it('6. an upload of the sample data starts a run, which succeeds', async () => {
    // A reader starts with no runs: step 6 waits for the one its upload starts. Other suites'
    // uploads while the EventSource was away reach it now (MinIO queues them): let them come in
    // first, then remove their runs.
    await new Promise((r) => setTimeout(r, 10_000));
    kubectlOk(['delete', 'workflows', '-n', NS, '-l', 'events.argoproj.io/sensor=rap-ingest', '--ignore-not-found', '--wait=true']);
    const [upload] = stepBlocks(6);
    const r = runBlock(6, upload!);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/uploaded \d+ files to s3:\/\/rap-inbox\/incoming\//);
    expect(r.out).toMatch(/condition met/);
  });

  it('7. the schedule run by hand finds nothing new and succeeds', () => {
    const [submit] = stepBlocks(7);
    const r = runBlock(7, submit!);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Status:\s+Succeeded/);
  });

  it("8. the run's logs, the consumer's logs and metrics, and a query", () => {
    const [look, query] = stepBlocks(8);
    const r = runBlock(8, look!);
    expect(r.code, r.out).toBe(0);
    // One pod's counter (the port-forward picks a pod): its HELP line at least, its samples once
    // that pod has written.
    expect(r.out).toMatch(/^# HELP rapflow_consumer_records_written_total /m);
    const q = runBlock(8, query!);
    expect(q.code, q.out).toBe(0);
    // Lil Sidecar's songs (data/songs-lil-sidecar.yaml), from the table by artist.
    expect(q.out).toMatch(/Golden Signals\s+Scrape Interval/);
  });
});
