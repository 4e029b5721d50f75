// The chart installed with helm on the local Kubernetes, on its own defaults but for what a laptop
// needs (dev MinIO, keyspace replication 1, the sink the local stack can serve): the consumer
// Deployment Ready through its probes, the db-init Job complete, the registry and MinIO as pods,
// the NetworkPolicies accepted. What the operators would create is presented first (rapflow k8s
// present): Kafka's TLS+SCRAM listener, its users and topics, Cassandra's Service and Secret.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, tool } from '../manifests/tools.js';
import { kubectlOk, rapflow } from './cluster.js';
import { adminKubeconfig, installChart, NS, SINK } from './install.js';

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

beforeAll(() => {
  installChart();
}, 900_000);

afterAll(() => {
  // Left installed on purpose: the pipeline suites run against it; `helm uninstall rapflow -n rapflow` removes it.
  for (const p of pods()) process.stderr.write(`[k8s] ${p.name}: ${p.phase}${p.readySeconds === undefined ? '' : `, ready ${p.readySeconds.toFixed(1)} s after creation`}\n`);
});

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
    const tables = rapflow(['query', 'artists'], { READ_API: 'cql', CASSANDRA_KEYSPACE: 'rapflow_k8s' });
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
