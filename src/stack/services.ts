// The services of the local stack: what each listens on and how we prove it answers.
import { probeCassandra, probeKafka, probeMinio, probeRegistry, probeStargate } from './probes.js';

/** Addresses and dev credentials of the local stack; the CLI builds this from the environment. */
export interface StackEndpoints {
  kafkaBroker: string;
  /** Every broker (the cluster has three). */
  kafkaBrokers: string[];
  registryUrl: string;
  s3Endpoint: string;
  s3AccessKey: string;
  s3SecretKey: string;
  buckets: string[];
  /** Objects created under this prefix of the first bucket are announced on `eventsTopic`. */
  inboxPrefix: string;
  eventsTopic: string;
  cqlContactPoint: string;
  cassandraDatacenter: string;
  cassandraUser: string;
  cassandraPassword: string;
  /** Stargate's REST/Document API and auth API; the coordinator listens on their host. */
  stargateUrl: string;
  stargateAuthUrl: string;
  /** Where a Stargate coordinator is installed (STARGATE_HOME); undefined: the default under the cache. */
  stargateHome: string | undefined;
}

export interface ServiceDef {
  name: string;
  /** Script in scripts/stack/ with `install`, `run` and `version` subcommands. */
  script: string;
  /** TCP ports on 127.0.0.1 the service owns (checked free before start). */
  ports: (ep: StackEndpoints) => number[];
  url: (ep: StackEndpoints) => string;
  /** A real request through rapflow's own client library; resolves with a short detail. */
  probe: (ep: StackEndpoints) => Promise<string>;
  /** How long a start may take before we give up (2 cores, cold JVM). */
  startTimeoutMs: number;
  /** Environment the run script needs beyond the paths. */
  env: (ep: StackEndpoints) => Record<string, string>;
  /** Services that must answer before this one starts. */
  after?: string[];
  /** The address its ports are on (127.0.0.1 unless it has one of its own). */
  host?: (ep: StackEndpoints) => string;
  /**
   * Not installed by rapflow: its install step only checks, and exits NOT_INSTALLED when it is not
   * there. The stack then runs without it and says how to get it.
   */
  optional?: boolean;
}

/** The exit code of an optional service's install step when it is not installed. */
export const NOT_INSTALLED = 3;

/**
 * The single node's second listener, as Strimzi's `tls` one (TLS, SCRAM-SHA-512): the local
 * Kubernetes' pods reach it as rapflow-kafka-bootstrap:9093 (src/stack/k8s.ts forwards the port).
 */
export const KAFKA_TLS_PORT = 9094;

/** Apicurio's Quarkus management port (health), moved off 9000 where MinIO listens. */
const REGISTRY_MANAGEMENT_PORT = 9095;

const portOf = (hostPort: string, fallback: number) => Number(hostPort.split(':').pop() ?? fallback) || fallback;
const urlPort = (url: string, fallback: number) => Number(new URL(url).port) || fallback;

export const SERVICES: ServiceDef[] = [
  {
    name: 'kafka',
    script: 'kafka.sh',
    ports: (ep) => [portOf(ep.kafkaBroker, 9092), portOf(ep.kafkaBroker, 9092) + 1, KAFKA_TLS_PORT],
    url: (ep) => `kafka://${ep.kafkaBroker}`,
    probe: probeKafka,
    startTimeoutMs: 120_000,
    env: (ep) => ({
      KAFKA_PORT: String(portOf(ep.kafkaBroker, 9092)),
      KAFKA_CONTROLLER_PORT: String(portOf(ep.kafkaBroker, 9092) + 1),
      KAFKA_TLS_PORT: String(KAFKA_TLS_PORT),
    }),
  },
  {
    name: 'registry',
    script: 'registry.sh',
    ports: (ep) => [urlPort(ep.registryUrl, 8085), REGISTRY_MANAGEMENT_PORT],
    url: (ep) => ep.registryUrl,
    probe: probeRegistry,
    startTimeoutMs: 120_000,
    env: (ep) => ({ REGISTRY_PORT: String(urlPort(ep.registryUrl, 8085)), REGISTRY_MANAGEMENT_PORT: String(REGISTRY_MANAGEMENT_PORT) }),
  },
  {
    name: 'minio',
    script: 'minio.sh',
    ports: (ep) => [urlPort(ep.s3Endpoint, 9000)],
    url: (ep) => ep.s3Endpoint,
    probe: probeMinio,
    startTimeoutMs: 60_000,
    env: (ep) => ({
      MINIO_PORT: String(urlPort(ep.s3Endpoint, 9000)),
      MINIO_ROOT_USER: ep.s3AccessKey,
      MINIO_ROOT_PASSWORD: ep.s3SecretKey,
      KAFKA_PORT: String(portOf(ep.kafkaBroker, 9092)),
    }),
  },
  {
    name: 'cassandra',
    script: 'cassandra.sh',
    ports: (ep) => [portOf(ep.cqlContactPoint, 9042)],
    url: (ep) => `cql://${ep.cqlContactPoint}`,
    probe: probeCassandra,
    startTimeoutMs: 240_000,
    env: (ep) => ({ CASSANDRA_CQL_PORT: String(portOf(ep.cqlContactPoint, 9042)) }),
  },
  {
    // A coordinator (it owns no data) joined to the node's ring; scripts/stack/stargate.sh.
    name: 'stargate',
    script: 'stargate.sh',
    // auth, REST and Docs, health, GraphQL, gRPC, its CQL and gossip: all on its own address.
    ports: () => [8081, 8082, 8084, 8080, 8090, 9042, 7000],
    host: (ep) => new URL(ep.stargateUrl).hostname,
    url: (ep) => ep.stargateUrl,
    probe: probeStargate,
    // ~27 s to start its bundles alone; on 2 cores shared with the rest of the stack, more.
    startTimeoutMs: 240_000,
    env: (ep) => ({
      STARGATE_LISTEN: new URL(ep.stargateUrl).hostname,
      CASSANDRA_SEED: ep.cqlContactPoint.split(':')[0]!,
      ...(ep.stargateHome ? { STARGATE_HOME: ep.stargateHome } : {}),
    }),
    after: ['cassandra'],
    optional: true,
  },
];

export function serviceByName(name: string): ServiceDef | undefined {
  return SERVICES.find((s) => s.name === name);
}
