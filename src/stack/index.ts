// `rapflow stack up | down | status | logs`: the local stack as one unit.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { RapflowError } from '../errors.js';
import { stackPaths, type StackPaths } from './paths.js';
import { enableNotifications } from '../source/s3.js';
import { KafkajsTransport } from '../transport/kafkajs/index.js';
import { eventsTopic } from '../transport/topics.js';
import { minioClient } from './probes.js';
import { clusterServices } from './cluster.js';
import { SERVICES, type ServiceDef, type StackEndpoints } from './services.js';
import { Supervisor, type Progress } from './supervisor.js';
import { startInWaves, statusOf, type ServiceReport } from './waves.js';

export { SERVICES } from './services.js';
export type { StackEndpoints } from './services.js';
export type { ServiceReport } from './waves.js';

export function endpointsFrom(config: Config): StackEndpoints {
  return {
    kafkaBroker: config.kafka.brokers[0]!,
    kafkaBrokers: config.kafka.brokers,
    registryUrl: config.registry.url,
    s3Endpoint: config.s3.endpoint,
    s3AccessKey: config.s3.accessKey,
    s3SecretKey: config.s3.secretKey,
    buckets: [config.s3.inboxBucket, config.s3.artifactsBucket],
    inboxPrefix: config.s3.inboxPrefix,
    eventsTopic: config.s3.eventsTopic,
    cqlContactPoint: config.cassandra.contactPoint,
    cassandraDatacenter: config.cassandra.datacenter,
    cassandraUser: config.cassandra.username,
    cassandraPassword: config.cassandra.password,
    stargateUrl: config.read.stargateUrl,
    stargateAuthUrl: config.read.stargateAuthUrl,
    stargateHome: config.stack.stargateHome,
  };
}


export class Stack {
  readonly paths: StackPaths;
  /** The services of this topology: the single node's, or the three-node cluster's (RAPFLOW_NODES=3). */
  readonly services: ServiceDef[];
  private readonly supervisor: Supervisor;
  private readonly nodes: 1 | 3;

  constructor(
    private readonly endpoints: StackEndpoints,
    private readonly progress: Progress,
    options: { home?: string; state?: string; env?: Record<string, string | undefined>; nodes?: 1 | 3 } = {},
  ) {
    this.paths = stackPaths(options.home, options.state);
    this.supervisor = new Supervisor(this.paths, endpoints, progress, options.env ?? {});
    this.nodes = options.nodes ?? 1;
    this.services = this.nodes === 3 ? clusterServices(SERVICES, (i) => hasJoined(this.paths, i)) : SERVICES;
  }

  select(names: string[]): ServiceDef[] {
    if (names.length === 0) return this.services;
    return names.map((n) => {
      const svc = this.services.find((s) => s.name === n);
      if (!svc) {
        const other = this.nodes === 3 ? 'the single-node stack (RAPFLOW_NODES=1)' : 'the cluster (RAPFLOW_NODES=3)';
        throw new RapflowError('CONFIG_INVALID', `unknown service "${n}"; known: ${this.services.map((s) => s.name).join(', ')} (other names belong to ${other})`);
      }
      return svc;
    });
  }

  /** The other topology's brokers and nodes, if any of them runs: the two share ports and Stargate. */
  private otherTopologyRunning(): string[] {
    const other = this.nodes === 3 ? SERVICES : clusterServices(SERVICES);
    return other.filter((s) => /^(kafka|cassandra)/.test(s.name) && this.supervisor.runningPid(s) !== undefined).map((s) => s.name);
  }

  /** Installs what is missing, starts what is not running, and waits until each answers. */
  async up(names: string[] = []): Promise<ServiceReport[]> {
    const running = this.otherTopologyRunning();
    if (running.length > 0) {
      const which = this.nodes === 3 ? 'the single-node stack' : 'the three-node cluster';
      throw new RapflowError('STACK_START_FAILED', `${which} is running (${running.join(', ')}): stop it first with \`rapflow stack down\`, then start this one`);
    }
    const services: ServiceDef[] = [];
    const absent: ServiceReport[] = [];
    for (const svc of this.select(names)) {
      this.progress(`${svc.name}: checking install`);
      const missing = await this.supervisor.install(svc);
      if (missing === undefined) services.push(svc);
      else absent.push({ name: svc.name, url: svc.url(this.endpoints), state: 'not installed', detail: missing });
    }
    // Services that need others (Stargate joins Cassandra's ring, a cluster's Cassandra nodes join
    // one at a time) start once those answer: in waves, each of what the waves before it need.
    const reports = await startInWaves(this.supervisor, this.endpoints, this.progress, services);
    if (services.some((s) => s.name.startsWith('kafka')) && services.some((s) => s.name === 'minio')) await this.wireNotifications();
    return [...reports, ...absent];
  }

  /** MinIO announces new inbox objects on Kafka (the event-driven start; `rapflow split --follow` listens). */
  private async wireNotifications(): Promise<void> {
    const ep = this.endpoints;
    await new KafkajsTransport({ brokers: ep.kafkaBrokers, clientId: 'rapflow-stack' }).ensureTopics([eventsTopic(ep.eventsTopic)]);
    await enableNotifications(minioClient(ep), ep.buckets[0]!, ep.inboxPrefix, '');
    this.progress(`minio: events of s3://${ep.buckets[0]}/${ep.inboxPrefix} go to Kafka topic ${ep.eventsTopic}`);
  }

  async status(names: string[] = []): Promise<ServiceReport[]> {
    return Promise.all(
      this.select(names).map(async (svc): Promise<ServiceReport> => {
        const pid = this.supervisor.runningPid(svc);
        const url = svc.url(this.endpoints);
        if (pid === undefined && svc.optional) {
          const missing = await this.supervisor.install(svc, true);
          if (missing !== undefined) return { name: svc.name, url, state: 'not installed', detail: missing };
        }
        return statusOf(this.supervisor, this.endpoints, svc);
      }),
    );
  }

  /** Stops only the processes rapflow started (pid file and command line both ours). */
  async down(names: string[] = []): Promise<string[]> {
    const stopped: string[] = [];
    // Everything of ours, whichever topology is configured (a cluster left running is stopped too).
    const all = names.length > 0 ? this.select(names) : [...SERVICES, ...clusterServices(SERVICES).filter((c) => !SERVICES.some((s) => s.name === c.name))];
    // Reverse order: clients of Kafka (MinIO notifications) go before Kafka.
    for (const svc of [...all].reverse()) {
      if (await this.supervisor.stop(svc)) stopped.push(svc.name);
    }
    return stopped;
  }

  async logs(name: string, lines: number): Promise<string> {
    const [svc] = this.select([name]);
    const file = this.supervisor.logFile(svc!);
    if (!existsSync(file)) return `(no log yet at ${file})`;
    const text = await readFile(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  }

  logFile(name: string): string {
    return this.supervisor.logFile(this.select([name])[0]!);
  }
}

/**
 * Whether cluster node i has started before (and so, but for a start that failed mid-join, joined
 * the ring): Cassandra writes its system keyspaces under the node's storage folder
 * (scripts/stack/cassandra.sh) as it first starts.
 */
function hasJoined(paths: StackPaths, i: number): boolean {
  return existsSync(join(paths.state, 'data', `cassandra-${i}`, 'data', 'system'));
}
