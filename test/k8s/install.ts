// What the k8s suites stand on, each step idempotent (every suite file runs in its own worker and
// may run first): the operators' stand-ins, the chart installed with helm, Argo's controller.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { CHART, ROOT, run, tool } from '../manifests/tools.js';
import { applyCrds, kubectl, rapflow } from './cluster.js';

export const NS = 'rapflow';
const stargate = rapflow(['stack', 'status', 'stargate', '--json']).stdout.includes('"state": "up"');
export const SINK = stargate ? 'stargate' : 'cql';

/**
 * The values this cluster needs on top of the chart's defaults (docs/kubernetes.md lists them): the
 * dev MinIO; the local Cassandra is one node (replication 1) whose datacenter is Cassandra's
 * default, not K8ssandra's dc1 (a node cannot change datacenter once it has data); a keyspace of
 * its own, as the local stack's own runs keep their ingest ledger in `rapflow` on the same
 * Cassandra (the same files would count as ingested); the sink the local stack serves (Stargate
 * only with a coordinator).
 */
export const LOCAL_VALUES = [
  '--set', 'devMinio.enabled=true',
  '--set', 'cassandra.replicationFactor=1',
  '--set', 'cassandra.datacenter=datacenter1',
  '--set', 'cassandra.keyspace=rapflow_k8s',
  '--set', `cassandra.sink=${SINK}`,
  '--set', `cassandra.readApi=${SINK}`,
  // One node: one NATS server for the EventBus (its stream then keeps one copy).
  '--set', 'events.eventBusReplicas=1',
];

/** helm and the argo CLI talk to the cluster with the admin kubeconfig k8s.sh writes. */
export function adminKubeconfig(): string {
  const paths = run('bash', ['scripts/stack/k8s.sh', 'paths']).stdout;
  return `${/^conf=(.*)$/m.exec(paths)![1]}/admin.kubeconfig`;
}

/** `rapflow k8s present`, then `helm upgrade --install --wait --wait-for-jobs`; its time and output. */
export function installChart(): { seconds: number; output: string } {
  applyCrds();
  const present = rapflow(['k8s', 'present', '--namespace', NS]);
  if (present.code !== 0) throw new Error(`rapflow k8s present failed:\n${present.stderr}`);
  const t0 = Date.now();
  const r = run(tool('helm'), ['upgrade', '--install', 'rapflow', CHART, '--namespace', NS, '--kubeconfig', adminKubeconfig(), '--wait', '--wait-for-jobs', '--timeout', '5m', ...LOCAL_VALUES]);
  const seconds = (Date.now() - t0) / 1000;
  const output = r.stdout + r.stderr;
  if (r.code !== 0) {
    const state = kubectl(['get', 'pods,jobs,events', '-n', NS]).stdout;
    throw new Error(`helm install failed after ${seconds.toFixed(0)} s:\n${output}\n${state}`);
  }
  process.stderr.write(`[k8s] helm install --wait --wait-for-jobs: ${seconds.toFixed(1)} s (sink ${SINK})\n`);
  return { seconds, output };
}

/** Argo Workflows' controller, namespaced in NS, from images built here (scripts/k8s/argo.sh). */
export function installArgo(): void {
  const r = spawnSync('bash', [join(ROOT, 'scripts/k8s/argo.sh'), 'install-controller', NS], { encoding: 'utf8', timeout: 1_200_000 });
  if (r.status !== 0) throw new Error(`scripts/k8s/argo.sh install-controller failed:\n${r.stderr}`);
  process.stderr.write(`[k8s] ${r.stderr.split('\n').filter((l) => l.startsWith('argo: workflow-controller')).join('\n')}\n`);
}

/** Argo Events' controller-manager, namespaced in NS, from images built here (scripts/k8s/argo.sh). */
export function installEvents(): void {
  const r = spawnSync('bash', [join(ROOT, 'scripts/k8s/argo.sh'), 'install-events', NS], { encoding: 'utf8', timeout: 1_200_000 });
  if (r.status !== 0) throw new Error(`scripts/k8s/argo.sh install-events failed:\n${r.stderr}`);
  process.stderr.write(`[k8s] ${r.stderr.split('\n').filter((l) => l.startsWith('argo: argo-events')).join('\n')}\n`);
}

/**
 * Argo Events stopped in NS, if it is there: its controller scaled to 0 and the EventSource's and
 * Sensor's pods removed (the controller would make them again), so that the other suites' uploads
 * start no runs of their own. installEvents() brings it all back.
 */
export function pauseEvents(): void {
  if (kubectl(['get', 'deployment', 'controller-manager', '-n', NS]).code !== 0) return;
  kubectl(['scale', 'deployment', 'controller-manager', '-n', NS, '--replicas=0']);
  kubectl(['delete', 'deployment', '-n', NS, '-l', 'eventsource-name', '--wait=true']);
  kubectl(['delete', 'deployment', '-n', NS, '-l', 'sensor-name', '--wait=true']);
}

/** The argo CLI built with the controller (v4.0.5), on the cluster's admin kubeconfig. */
export function argo(args: string[], timeoutMs = 600_000): { code: number; stdout: string; stderr: string } {
  const bin = spawnSync('bash', [join(ROOT, 'scripts/k8s/argo.sh'), 'bin-dir'], { encoding: 'utf8' }).stdout.trim();
  const r = spawnSync(join(bin, 'argo'), ['-n', NS, ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, KUBECONFIG: adminKubeconfig() }, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `kubectl port-forward` of a Service to a free loopback port, as the tutorial does; stop() ends it. */
export async function portForward(service: string, port: number): Promise<{ port: number; stop: () => void }> {
  const child: ChildProcess = spawn('bash', [join(ROOT, 'scripts/stack/k8s.sh'), 'kubectl', '-n', NS, 'port-forward', '--address', '127.0.0.1', `svc/${service}`, `:${port}`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const local = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`port-forward to ${service}:${port} did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    void once(child, 'exit').then(() => reject(new Error(`port-forward exited: ${out}`)));
  });
  return {
    port: local,
    stop: () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
    },
  };
}


