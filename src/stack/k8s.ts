// The local single-node Kubernetes (scripts/stack/k8s.sh builds, configures and runs each piece):
// its components are services of the stack's own supervisor, started in order and proven by a
// real request each; the cluster is ready when a pod runs.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { RapflowError } from '../errors.js';
import { stackPaths, type StackPaths } from './paths.js';
import { KAFKA_TLS_PORT, type ServiceDef, type StackEndpoints } from './services.js';
import { portAnswers, Supervisor, type Progress } from './supervisor.js';
import { startInWaves, statusOf, type ServiceReport } from './waves.js';

const run = promisify(execFile);

/** The bridge address: the node's IP, where pods reach the API server and the host. */
export const NODE_IP = '10.244.0.1';
export const NODE_NAME = 'rapflow-node';
/** The image every pod sandbox runs, and the one the readiness pod runs (built by k8s.sh, no registry). */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';

/** Where the cluster lives, and the environment its script runs with (PATH and the like). */
export interface K8sPlace {
  paths: StackPaths;
  env: Record<string, string | undefined>;
}

/** Runs scripts/stack/k8s.sh with these arguments; resolves with what it printed. */
function k8sScript(place: K8sPlace, args: string[], timeoutMs: number, input?: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'bash',
      [join(place.paths.scripts, 'k8s.sh'), ...args],
      { env: { ...place.env, RAPFLOW_HOME: place.paths.home, RAPFLOW_STATE: place.paths.state }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(stderr.trim() || err.message, { cause: err })) : resolve({ stdout, stderr })),
    );
    child.stdin!.end(input ?? '');
  });
}

/** kubectl with the cluster's admin credentials, through k8s.sh (which knows the pinned binary). */
export async function kubectl(place: K8sPlace, args: string[], timeoutMs = 60_000, input?: string): Promise<string> {
  try {
    const { stdout } = await k8sScript(place, ['kubectl', ...args], timeoutMs, input);
    return stdout;
  } catch (err) {
    throw new Error(`kubectl ${args.join(' ')}: ${(err as Error).message}`, { cause: err });
  }
}

// The components' own health endpoints serve certificates they made for themselves.
const selfSigned = new Agent({ connect: { rejectUnauthorized: false } });

async function httpOk(url: string): Promise<string> {
  const res = await request(url, { dispatcher: url.startsWith('https:') ? selfSigned : undefined, headersTimeout: 3_000, bodyTimeout: 3_000 });
  const body = (await res.body.text()).trim();
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode} ${body.slice(0, 200)}`);
  return body.slice(0, 80);
}

function component(name: string, def: Omit<ServiceDef, 'name' | 'script' | 'env'> & { component?: string }): ServiceDef {
  return { name: `k8s-${name}`, script: 'k8s.sh', env: () => ({ K8S_COMPONENT: def.component ?? name }), ...def };
}

/** The cluster's processes, in the order they can start. */
export function k8sServices(paths: K8sPlace, endpoints: StackEndpoints): ServiceDef[] {
  return [
    component('etcd', {
      ports: () => [2379, 2380, 2381],
      url: () => 'http://127.0.0.1:2379',
      probe: async () => `health ${await httpOk('http://127.0.0.1:2379/health')}`,
      startTimeoutMs: 30_000,
    }),
    component('containerd', {
      ports: () => [],
      url: () => 'unix:///run/containerd/containerd.sock',
      probe: async () => {
        const { stdout } = await run('ctr', ['--address', '/run/containerd/containerd.sock', 'version'], { timeout: 5_000 });
        return `server ${/Server:\s+Version:\s+(\S+)/.exec(stdout)?.[1] ?? 'answered'}`;
      },
      startTimeoutMs: 30_000,
    }),
    component('apiserver', {
      ports: () => [6443],
      url: () => 'https://127.0.0.1:6443',
      probe: async () => `readyz ${(await kubectl(paths, ['get', '--raw', '/readyz'], 10_000)).trim()}`,
      startTimeoutMs: 120_000,
      after: ['k8s-etcd'],
    }),
    component('apiserver-bridge', {
      // Pods reach the API at the advertised address; the apiserver itself listens on loopback only.
      ports: () => [6443],
      host: () => NODE_IP,
      url: () => `https://${NODE_IP}:6443`,
      probe: async () => {
        if (!(await portAnswers(6443, NODE_IP))) throw new Error(`nothing answers on ${NODE_IP}:6443`);
        return `forwards ${NODE_IP}:6443 to 127.0.0.1:6443`;
      },
      startTimeoutMs: 10_000,
      after: ['k8s-apiserver'],
    }),
    {
      ...component('stack-bridge', {
        // The local stack's Kafka (its TLS listener), Cassandra and Stargate, for pods, at the ports
        // the operators' Services use (src/stack/k8s-present.ts names those Services).
        ports: () => Object.values(PRESENTED_PORTS),
        host: () => NODE_IP,
        url: () => `tcp://${NODE_IP}`,
        probe: async () => {
          if (!(await portAnswers(PRESENTED_PORTS.kafka, NODE_IP))) throw new Error(`nothing answers on ${NODE_IP}:${PRESENTED_PORTS.kafka}`);
          return `forwards ${stackForwards(endpoints).replace(/ /g, ', ')}`;
        },
        startTimeoutMs: 10_000,
      }),
      env: () => ({ K8S_COMPONENT: 'stack-bridge', K8S_FORWARDS: stackForwards(endpoints) }),
    },
    component('controller-manager', {
      ports: () => [10257],
      url: () => 'https://127.0.0.1:10257',
      probe: async () => `healthz ${await httpOk('https://127.0.0.1:10257/healthz')}`,
      startTimeoutMs: 60_000,
      after: ['k8s-apiserver'],
    }),
    component('scheduler', {
      ports: () => [10259],
      url: () => 'https://127.0.0.1:10259',
      probe: async () => `healthz ${await httpOk('https://127.0.0.1:10259/healthz')}`,
      startTimeoutMs: 60_000,
      after: ['k8s-apiserver'],
    }),
    component('kubelet', {
      ports: () => [10250],
      host: () => NODE_IP,
      url: () => `https://${NODE_IP}:10250`,
      probe: async () => {
        const ready = await kubectl(paths, ['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], 10_000);
        if (ready.trim() !== 'True') throw new Error(`node ${NODE_NAME} Ready=${ready.trim() || 'unknown'}`);
        return `node ${NODE_NAME} Ready`;
      },
      startTimeoutMs: 90_000,
      after: ['k8s-apiserver-bridge', 'k8s-containerd'],
    }),
    component('proxy', {
      component: 'proxy',
      ports: () => [10249, 10256],
      url: () => 'http://127.0.0.1:10256',
      probe: async () => {
        await httpOk('http://127.0.0.1:10256/healthz');
        return 'Service rules synced (iptables)';
      },
      startTimeoutMs: 60_000,
      after: ['k8s-kubelet'],
    }),
    component('coredns', {
      ports: () => [8181],
      url: () => `dns://${NODE_IP}:53`,
      probe: async () => {
        await httpOk('http://127.0.0.1:8181/ready');
        return 'cluster.local served (no forwarding)';
      },
      startTimeoutMs: 60_000,
      after: ['k8s-apiserver'],
    }),
  ];
}


/** Strimzi's `tls` listener port, and the ports K8ssandra's services expose. */
export const PRESENTED_PORTS = { kafka: 9093, cql: 9042, stargateAuth: 8081, stargateRest: 8082 } as const;

/** The bridge's forwards ("port=host:port") to the local stack, for k8s.sh's stack-bridge. */
export function stackForwards(ep: StackEndpoints): string {
  const stargate = new URL(ep.stargateUrl).hostname;
  const [cqlHost, cqlPort] = ep.cqlContactPoint.split(':');
  return [
    `${PRESENTED_PORTS.kafka}=127.0.0.1:${KAFKA_TLS_PORT}`,
    `${PRESENTED_PORTS.cql}=${cqlHost}:${cqlPort ?? 9042}`,
    `${PRESENTED_PORTS.stargateAuth}=${stargate}:${new URL(ep.stargateAuthUrl).port || 8081}`,
    `${PRESENTED_PORTS.stargateRest}=${stargate}:${new URL(ep.stargateUrl).port || 8082}`,
  ].join(' ');
}

export class LocalKubernetes {
  readonly paths: StackPaths;
  readonly services: ServiceDef[];
  private readonly place: K8sPlace;
  private readonly supervisor: Supervisor;

  constructor(
    private readonly endpoints: StackEndpoints,
    private readonly progress: Progress,
    options: { home?: string; state?: string; env?: Record<string, string | undefined> } = {},
  ) {
    this.paths = stackPaths(options.home, options.state);
    this.supervisor = new Supervisor(this.paths, endpoints, progress, options.env ?? {});
    this.place = { paths: this.paths, env: options.env ?? {} };
    this.services = k8sServices(this.place, endpoints);
  }

  private async script(args: string[], timeoutMs = 60_000): Promise<string> {
    try {
      const { stdout, stderr } = await k8sScript(this.place, args, timeoutMs);
      for (const line of stderr.split('\n').filter(Boolean)) this.progress(`  ${line}`);
      return stdout;
    } catch (err) {
      throw new RapflowError('STACK_START_FAILED', `k8s.sh ${args[0]}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Builds what is missing (cached), prepares the host, starts every component in order, and
   * returns once a pod runs. Ready seconds: from the first start to the pod Running.
   */
  async up(): Promise<{ reports: ServiceReport[]; podSeconds: number; readySeconds: number }> {
    this.progress('k8s: checking install (the first one builds Kubernetes and CoreDNS from the Go module proxy: about 6 min on 2 cores)');
    await this.supervisor.install(this.services[0]!);
    await this.script(['host-up']);
    const t0 = Date.now();
    const reports = await startInWaves(this.supervisor, this.endpoints, this.progress, this.services);
    await this.script(['images']);
    const p0 = Date.now();
    await this.readinessPod();
    const now = Date.now();
    return { reports, podSeconds: (now - p0) / 1000, readySeconds: (now - t0) / 1000 };
  }

  /** A pod of the pause image, scheduled, started by containerd, Ready; then removed. */
  private async readinessPod(): Promise<void> {
    // The namespace's default service account is made by the controller-manager a moment after it starts.
    for (let i = 0; ; i++) {
      try {
        await kubectl(this.place, ['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name'], 10_000);
        break;
      } catch (err) {
        if (i >= 60) throw err;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
    const name = `rapflow-ready-${Date.now()}`;
    await kubectl(this.place, ['run', name, '-n', 'default', `--image=${PAUSE_IMAGE}`, '--image-pull-policy=Never', '--restart=Never']);
    try {
      await kubectl(this.place, ['wait', '-n', 'default', '--for=condition=Ready', `pod/${name}`, '--timeout=120s'], 130_000);
    } catch (err) {
      const events = await kubectl(this.place, ['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${name}`]).catch(() => '');
      throw new RapflowError('STACK_START_FAILED', `k8s: the readiness pod did not become Ready in 120 s\n${events}`, { cause: err });
    } finally {
      await kubectl(this.place, ['delete', 'pod', name, '-n', 'default', '--wait=false']).catch(() => '');
    }
  }

  /**
   * Presents what the Strimzi and K8ssandra operators would create in `namespace` (the local stack
   * behind their Services, Secrets and users); see src/stack/k8s-present.ts.
   */
  async present(namespace: string): Promise<string[]> {
    const { presentOperators } = await import('./k8s-present.js');
    const stargate = await portAnswers(Number(new URL(this.endpoints.stargateUrl).port || 8082), new URL(this.endpoints.stargateUrl).hostname);
    return presentOperators(this.place, this.progress, { namespace, endpoints: this.endpoints, root: join(this.paths.scripts, '..', '..'), stargate });
  }

  async status(): Promise<ServiceReport[]> {
    return Promise.all(this.services.map((svc) => statusOf(this.supervisor, this.endpoints, svc)));
  }

  /**
   * Stops every component (the kubelet first, then the pods' containers, so none outlives the
   * cluster), and undoes what host-up changed. Pods come back at the next `up`, as after a reboot.
   */
  async down(): Promise<string[]> {
    const stopped: string[] = [];
    const kubelet = this.services.find((s) => s.name === 'k8s-kubelet')!;
    if (await this.supervisor.stop(kubelet)) stopped.push(kubelet.name);
    const containerd = this.services.find((s) => s.name === 'k8s-containerd')!;
    if (this.supervisor.runningPid(containerd) !== undefined) await this.script(['stop-pods'], 120_000);
    for (const svc of [...this.services].reverse()) {
      if (svc !== kubelet && (await this.supervisor.stop(svc))) stopped.push(svc.name);
    }
    await this.script(['host-down']);
    return stopped;
  }

  logFile(name: string): string {
    const svc = this.services.find((s) => s.name === name || s.name === `k8s-${name}`);
    if (!svc) throw new RapflowError('CONFIG_INVALID', `unknown component "${name}"; known: ${this.services.map((s) => s.name).join(', ')}`);
    return this.supervisor.logFile(svc);
  }
}
