// The chart installed with helm on the local Kubernetes, on its own defaults but for what a laptop
// needs (dev MinIO, keyspace replication 1, the sink the local stack can serve): the consumer
// Deployment Ready through its probes, the db-init Job complete, the registry and MinIO as pods,
// the NetworkPolicies accepted. What the operators would create is presented first (rapflow k8s
// present): Kafka's TLS+SCRAM listener, its users and topics, Cassandra's Service and Secret.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART, run, tool } from '../manifests/tools.js';
import { applyCrds, kubectl, kubectlOk, rapflow } from './cluster.js';

export const NS = 'rapflow';
const stargate = rapflow(['stack', 'status', 'stargate', '--json']).stdout.includes('"state": "up"');
const SINK = stargate ? 'stargate' : 'cql';

/**
 * The values this cluster needs on top of the chart's defaults (docs/kubernetes.md lists them): the
 * dev MinIO; the local Cassandra is one node (replication 1) whose datacenter is Cassandra's
 * default, not K8ssandra's dc1 (a node cannot change datacenter once it has data); the sink the
 * local stack serves (Stargate only with a coordinator).
 */
export const LOCAL_VALUES = [
  '--set', 'devMinio.enabled=true',
  '--set', 'cassandra.replicationFactor=1',
  '--set', 'cassandra.datacenter=datacenter1',
  '--set', `cassandra.sink=${SINK}`,
  '--set', `cassandra.readApi=${SINK}`,
];

interface PodTimes {
  name: string;
  component: string;
  phase: string;
  readySeconds?: number;
}

function pods(): PodTimes[] {
  const items = (JSON.parse(kubectlOk(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/part-of=rapflow', '-o', 'json'])) as {
    items: { metadata: { name: string; creationTimestamp: string; deletionTimestamp?: string; labels: Record<string, string> }; status: { phase: string; conditions?: { type: string; status: string; lastTransitionTime: string }[] } }[];
  }).items;
  // Pods of an earlier release still shutting down are not this install's.
  return items.filter((p) => p.metadata.deletionTimestamp === undefined).map((p) => {
    const ready = p.status.conditions?.find((c) => (c.type === 'Ready' && c.status === 'True') || (c.type === 'Ready' && p.status.phase === 'Succeeded'));
    const t = (s: string) => new Date(s).getTime();
    return {
      name: p.metadata.name,
      component: p.metadata.labels['app.kubernetes.io/component'] ?? '',
      phase: p.status.phase,
      ...(ready ? { readySeconds: (t(ready.lastTransitionTime) - t(p.metadata.creationTimestamp)) / 1000 } : {}),
    };
  });
}

let installSeconds = 0;
let installOutput = '';

beforeAll(() => {
  applyCrds();
  const present = rapflow(['k8s', 'present', '--namespace', NS]);
  if (present.code !== 0) throw new Error(`rapflow k8s present failed:\n${present.stderr}`);
  const t0 = Date.now();
  const r = run(tool('helm'), ['upgrade', '--install', 'rapflow', CHART, '--namespace', NS, '--kubeconfig', adminKubeconfig(), '--wait', '--wait-for-jobs', '--timeout', '5m', ...LOCAL_VALUES]);
  installSeconds = (Date.now() - t0) / 1000;
  installOutput = r.stdout + r.stderr;
  if (r.code !== 0) {
    const state = kubectl(['get', 'pods,jobs,events', '-n', NS]).stdout;
    throw new Error(`helm install failed after ${installSeconds.toFixed(0)} s:\n${installOutput}\n${state}`);
  }
  process.stderr.write(`[k8s] helm install --wait --wait-for-jobs: ${installSeconds.toFixed(1)} s (sink ${SINK})\n`);
}, 900_000);

afterAll(() => {
  // Left installed on purpose: the pipeline suites run against it; `helm uninstall rapflow -n rapflow` removes it.
  for (const p of pods()) process.stderr.write(`[k8s] ${p.name}: ${p.phase}${p.readySeconds === undefined ? '' : `, ready ${p.readySeconds.toFixed(1)} s after creation`}\n`);
});

/** helm talks to the cluster with the admin kubeconfig k8s.sh writes. */
function adminKubeconfig(): string {
  const paths = run('bash', ['scripts/stack/k8s.sh', 'paths']).stdout;
  return `${/^conf=(.*)$/m.exec(paths)![1]}/admin.kubeconfig`;
}

describe(`the chart installed with helm (sink ${SINK})`, () => {
  it('has the consumer Deployment available, its readiness and liveness probes passing', () => {
    const d = JSON.parse(kubectlOk(['get', 'deployment', 'rapflow-consumer', '-n', NS, '-o', 'json'])) as { spec: { replicas: number }; status: { availableReplicas?: number; readyReplicas?: number } };
    expect(d.status.readyReplicas).toBe(d.spec.replicas);
    expect(d.status.availableReplicas).toBe(d.spec.replicas);
    const consumers = pods().filter((p) => p.component === 'consumer');
    expect(consumers.length).toBe(d.spec.replicas);
    for (const p of consumers) expect(p.readySeconds, p.name).toBeDefined();
  });

  it('ran the db-init Job to completion (keyspace and tables created from a pod)', () => {
    // The hook Job is deleted once it succeeds (its hook-delete-policy); helm keeps its last run.
    const status = JSON.parse(run(tool('helm'), ['status', 'rapflow', '--namespace', NS, '--kubeconfig', adminKubeconfig(), '-o', 'json']).stdout) as {
      info: { status: string };
      hooks?: { name: string; last_run?: { phase?: string; started_at?: string; completed_at?: string } }[];
    };
    expect(status.info.status).toBe('deployed');
    const dbInit = status.hooks?.find((h) => h.name === 'rapflow-db-init');
    expect(dbInit?.last_run?.phase).toBe('Succeeded');
    const took = (new Date(dbInit!.last_run!.completed_at!).getTime() - new Date(dbInit!.last_run!.started_at!).getTime()) / 1000;
    process.stderr.write(`[k8s] db-init hook: ${took.toFixed(1)} s\n`);
    const tables = rapflow(['query', 'artists'], { READ_API: 'cql' });
    expect(tables.code, tables.stderr).toBe(0);
  });

  it('runs the schema registry and the dev MinIO as pods', () => {
    for (const component of ['registry', 'minio']) {
      const p = pods().filter((x) => x.component === component);
      expect(p.length, component).toBe(1);
      expect(p[0]!.phase).toBe('Running');
      expect(p[0]!.readySeconds, `${component} never became Ready`).toBeDefined();
    }
  });

  it('has its NetworkPolicies accepted by the API server', () => {
    const names = kubectlOk(['get', 'networkpolicy', '-n', NS, '-o', 'name']).split('\n').filter(Boolean);
    expect(names).toEqual(expect.arrayContaining(['networkpolicy.networking.k8s.io/rapflow-consumer', 'networkpolicy.networking.k8s.io/rapflow-registry']));
  });
});
