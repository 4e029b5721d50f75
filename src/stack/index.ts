// `rapflow stack up | down | status | logs`: the local stack as one unit.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/index.js';
import { RapflowError } from '../errors.js';
import { stackPaths, type StackPaths } from './paths.js';
import { enableNotifications } from '../source/s3.js';
import { KafkajsTransport } from '../transport/kafkajs/index.js';
import { eventsTopic } from '../transport/topics.js';
import { minioClient } from './probes.js';
import { SERVICES, serviceByName, type ServiceDef, type StackEndpoints } from './services.js';
import { Supervisor, type Progress } from './supervisor.js';

export { SERVICES } from './services.js';
export type { StackEndpoints } from './services.js';

export function endpointsFrom(config: Config): StackEndpoints {
  return {
    kafkaBroker: config.kafka.brokers[0]!,
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

export interface ServiceReport {
  name: string;
  url: string;
  /** `not installed`: an optional service (Stargate) that is not there; the rest runs without it. */
  state: 'up' | 'down' | 'not answering' | 'not installed';
  pid?: number;
  /** Seconds from spawn to the first successful probe (up only, when we started it). */
  startSeconds?: number;
  detail: string;
}

export class Stack {
  readonly paths: StackPaths;
  private readonly supervisor: Supervisor;

  constructor(
    private readonly endpoints: StackEndpoints,
    private readonly progress: Progress,
    options: { home?: string; state?: string; env?: Record<string, string | undefined> } = {},
  ) {
    this.paths = stackPaths(options.home, options.state);
    this.supervisor = new Supervisor(this.paths, endpoints, progress, options.env ?? {});
  }

  select(names: string[]): ServiceDef[] {
    if (names.length === 0) return SERVICES;
    return names.map((n) => {
      const svc = serviceByName(n);
      if (!svc) {
        throw new RapflowError('CONFIG_INVALID', `unknown service "${n}"; known: ${SERVICES.map((s) => s.name).join(', ')}`);
      }
      return svc;
    });
  }

  /** Installs what is missing, starts what is not running, and waits until each answers. */
  async up(names: string[] = []): Promise<ServiceReport[]> {
    const services: ServiceDef[] = [];
    const absent: ServiceReport[] = [];
    for (const svc of this.select(names)) {
      this.progress(`${svc.name}: checking install`);
      const missing = await this.supervisor.install(svc);
      if (missing === undefined) services.push(svc);
      else absent.push({ name: svc.name, url: svc.url(this.endpoints), state: 'not installed', detail: missing });
    }
    // Services that need others (Stargate joins Cassandra's ring) start once those answer.
    const first = services.filter((s) => !s.after?.some((a) => services.some((o) => o.name === a)));
    const reports = [...(await this.startAndWait(first)), ...(await this.startAndWait(services.filter((s) => !first.includes(s))))];
    if (services.some((s) => s.name === 'kafka') && services.some((s) => s.name === 'minio')) await this.wireNotifications();
    return [...reports, ...absent];
  }

  private async startAndWait(services: ServiceDef[]): Promise<ServiceReport[]> {
    const started = new Map<string, number>();
    for (const svc of services) {
      if (await this.supervisor.start(svc)) {
        started.set(svc.name, Date.now());
        this.progress(`${svc.name}: started (log ${this.supervisor.logFile(svc)})`);
      } else {
        this.progress(`${svc.name}: already running`);
      }
    }
    const results = await Promise.allSettled(
      services.map(async (svc): Promise<ServiceReport> => {
        const detail = await this.supervisor.waitReady(svc);
        const t0 = started.get(svc.name);
        const report: ServiceReport = { name: svc.name, url: svc.url(this.endpoints), state: 'up', pid: this.supervisor.runningPid(svc), detail };
        if (t0 !== undefined) report.startSeconds = (Date.now() - t0) / 1000;
        this.progress(`${svc.name}: up${t0 !== undefined ? ` in ${report.startSeconds!.toFixed(1)} s` : ''} (${detail})`);
        return report;
      }),
    );
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length > 0) {
      const reasons = failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n\n');
      const first = failures[0]!.reason as unknown;
      throw first instanceof RapflowError && failures.length === 1
        ? first
        : new RapflowError('STACK_START_FAILED', reasons, { cause: first });
    }
    return results.map((r) => (r as PromiseFulfilledResult<ServiceReport>).value);
  }

  /** MinIO announces new inbox objects on Kafka (the event-driven start; `rapflow split --follow` listens). */
  private async wireNotifications(): Promise<void> {
    const ep = this.endpoints;
    await new KafkajsTransport({ brokers: [ep.kafkaBroker], clientId: 'rapflow-stack' }).ensureTopics([eventsTopic(ep.eventsTopic)]);
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
        if (pid === undefined) return { name: svc.name, url, state: 'down', detail: 'not started by rapflow' };
        try {
          return { name: svc.name, url, state: 'up', pid, detail: await svc.probe(this.endpoints) };
        } catch (err) {
          return { name: svc.name, url, pid, state: 'not answering', detail: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
  }

  /** Stops only the processes rapflow started (pid file and command line both ours). */
  async down(names: string[] = []): Promise<string[]> {
    const stopped: string[] = [];
    // Reverse order: clients of Kafka (MinIO notifications) go before Kafka.
    for (const svc of [...this.select(names)].reverse()) {
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
