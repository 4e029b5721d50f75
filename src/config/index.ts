// Configuration: parsed once from the environment, all problems reported together, then frozen.
import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { RapflowError } from '../errors.js';
import { clusterEnv } from './cluster.js';
import { DEFAULT_KAFKA_CLIENT, KAFKA_CLIENTS, type KafkaClientName } from '../transport/types.js';

const csv = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(1)).min(1));

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port');

/** Environment variables rapflow reads, with the local stack's values as defaults. */
export const EnvSchema = z
  .object({
    RAPFLOW_HOME: z.string().min(1).optional(),
    RAPFLOW_STATE: z.string().min(1).optional(),
    // 1: the single-node stack; 3: the local cluster of `rapflow stack up --nodes 3`, whose brokers,
    // contact point and replication become the defaults of the settings below (src/config/cluster.ts).
    RAPFLOW_NODES: z.enum(['1', '3']).default('1'),
    HTTP_HOST: z.string().min(1).default('127.0.0.1'),
    HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9464), // 0: any free port (tests running several consumers)
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
    // Which Kafka client runs the transport (src/transport/): chosen by measurement, docs/performance.md.
    KAFKA_CLIENT: z.enum(KAFKA_CLIENTS).default(DEFAULT_KAFKA_CLIENT),
    KAFKA_CONSUMER_GROUP: z.string().min(1).default('rapflow-consume'),
    KAFKA_FOLLOW_GROUP: z.string().min(1).default('rapflow-split-follow'),
    // The batch consumer's memory and overlap (src/transport/flow.ts; defaults from bench/e2e, docs/performance.md).
    KAFKA_CONSUMER_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(64).optional(),
    KAFKA_CONSUMER_FETCH_MAX_BYTES: z.coerce.number().int().min(64 * 1024).max(256 * 2 ** 20).optional(),
    // Strimzi KafkaUser (SCRAM-SHA-512) on a cluster; unset locally, where the broker is plaintext.
    KAFKA_SASL_MECHANISM: z.enum(['scram-sha-512', 'scram-sha-256']).optional(),
    KAFKA_SASL_USERNAME: z.string().min(1).optional(),
    KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
    KAFKA_TLS: z.enum(['true', 'false']).default('false'),
    /** Strimzi's cluster CA (secret <cluster>-cluster-ca-cert, key ca.crt), mounted as a file. */
    KAFKA_TLS_CA_FILE: z.string().min(1).optional(),
    KAFKA_TOPIC_PREFIX: z.string().regex(/^[a-zA-Z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only').default(''),
    REGISTRY_URL: z.url().default('http://127.0.0.1:8085/apis/ccompat/v7'),
    S3_ENDPOINT: z.url().default('http://127.0.0.1:9000'),
    S3_ACCESS_KEY: z.string().min(3).default('rapflow'),
    S3_SECRET_KEY: z.string().min(8).default('rapflow-dev-secret'),
    S3_INBOX_BUCKET: z.string().min(3).default('rap-inbox'),
    S3_ARTIFACTS_BUCKET: z.string().min(3).default('rap-artifacts'),
    S3_EVENTS_TOPIC: z.string().regex(/^[a-zA-Z0-9._-]+$/, 'a Kafka topic name').default('rap.inbox-events'),
    S3_INBOX_PREFIX: z.string().regex(/^([^/].*\/)?$/, 'a prefix ending in "/" (or empty)').default('incoming/'),
    S3_QUARANTINE_PREFIX: z.string().regex(/^[^/].*\/$/, 'a prefix ending in "/"').default('quarantine/'),
    MAX_FILE_BYTES: z.coerce.number().int().min(1024).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
    CASSANDRA_CONTACT_POINT: hostPort.default('127.0.0.1:9042'),
    CASSANDRA_DATACENTER: z.string().min(1).default('datacenter1'),
    CASSANDRA_USERNAME: z.string().min(1).default('cassandra'),
    CASSANDRA_PASSWORD: z.string().min(1).default('cassandra'),
    CASSANDRA_KEYSPACE: z.string().regex(/^[a-z][a-z0-9_]{0,47}$/, 'lowercase letters, digits and "_"').default('rapflow'),
    CASSANDRA_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(9).default(1),
    /** How query, verify and report read rows: CQL (the local stack) or Stargate's REST API (K8ssandra). */
    READ_API: z.enum(['cql', 'stargate']).default('cql'),
    /**
     * How consume (and run) write: CQL straight to Cassandra, or Stargate's REST API for rows and its
     * Document API for documents. Unset: consume writes over CQL; run uses Stargate when the stack has it.
     */
    SINK: z.enum(['cql', 'stargate']).optional(),
    // The local stack's coordinator listens on an address of its own (it joins the ring beside the node).
    STARGATE_URL: z.url().default('http://127.0.0.2:8082'),
    STARGATE_AUTH_URL: z.url().default('http://127.0.0.2:8081'),
    /** A Stargate v1 coordinator for the local stack: a folder with `starctl` and `stargate-lib/` (default: $RAPFLOW_HOME/stargate). */
    STARGATE_HOME: z.string().min(1).optional(),
    RUN_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-"').optional(),
  })
  // Unknown RAPFLOW_/KAFKA_/S3_... names are not rejected: the environment holds far more than ours.
  .loose()
  .superRefine((e, ctx) => {
    if (e.KAFKA_SASL_MECHANISM && (!e.KAFKA_SASL_USERNAME || !e.KAFKA_SASL_PASSWORD))
      ctx.addIssue({ code: 'custom', path: ['KAFKA_SASL_MECHANISM'], message: 'needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD' });
    if (e.KAFKA_TLS_CA_FILE && e.KAFKA_TLS !== 'true') ctx.addIssue({ code: 'custom', path: ['KAFKA_TLS_CA_FILE'], message: 'set KAFKA_TLS=true to use a CA file' });
  });

export interface Config {
  log: { level: string };
  /** Where the consumer serves /healthz, /readyz and /metrics (0.0.0.0 in a pod). */
  http: { host: string; port: number };
  stack: { home: string | undefined; state: string | undefined; stargateHome: string | undefined; nodes: 1 | 3 };
  kafka: {
    client: KafkaClientName;
    brokers: string[];
    topicPrefix: string;
    followGroup: string;
    consumerGroup: string;
    /** Unset values: the transport's DEFAULT_CONSUMER_TUNING. */
    consumerTuning: { maxInFlight?: number; fetchMaxBytes?: number };
    sasl?: { mechanism: 'scram-sha-512' | 'scram-sha-256'; username: string; password: string };
    tls: boolean;
    caFile?: string;
  };
  registry: { url: string };
  s3: {
    endpoint: string;
    accessKey: string;
    secretKey: string;
    inboxBucket: string;
    artifactsBucket: string;
    inboxPrefix: string;
    quarantinePrefix: string;
    eventsTopic: string;
  };
  cassandra: { contactPoint: string; datacenter: string; username: string; password: string; keyspace: string; replicationFactor: number };
  limits: { maxFileBytes: number };
  read: { api: 'cql' | 'stargate'; stargateUrl: string; stargateAuthUrl: string };
  /** Unset: see SINK. */
  sink: 'cql' | 'stargate' | undefined;
  runId: string | undefined;
}

/** Parses the environment; throws one CONFIG_INVALID naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Readonly<Config> {
  // Settings given explicitly win over the cluster's defaults.
  const parsed = EnvSchema.safeParse(env.RAPFLOW_NODES === '3' ? { ...clusterEnv(), ...definedOnly(env) } : env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new RapflowError('CONFIG_INVALID', `invalid configuration:\n${problems}`);
  }
  const e = parsed.data;
  return deepFreeze({
    log: { level: e.LOG_LEVEL },
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    stack: { home: e.RAPFLOW_HOME, state: e.RAPFLOW_STATE, stargateHome: e.STARGATE_HOME, nodes: e.RAPFLOW_NODES === '3' ? 3 : 1 },
    kafka: {
      client: e.KAFKA_CLIENT,
      brokers: e.KAFKA_BROKERS,
      topicPrefix: e.KAFKA_TOPIC_PREFIX,
      followGroup: e.KAFKA_FOLLOW_GROUP,
      consumerGroup: e.KAFKA_CONSUMER_GROUP,
      consumerTuning: {
        ...(e.KAFKA_CONSUMER_MAX_IN_FLIGHT !== undefined ? { maxInFlight: e.KAFKA_CONSUMER_MAX_IN_FLIGHT } : {}),
        ...(e.KAFKA_CONSUMER_FETCH_MAX_BYTES !== undefined ? { fetchMaxBytes: e.KAFKA_CONSUMER_FETCH_MAX_BYTES } : {}),
      },
      ...(e.KAFKA_SASL_MECHANISM ? { sasl: { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME!, password: e.KAFKA_SASL_PASSWORD! } } : {}),
      tls: e.KAFKA_TLS === 'true',
      ...(e.KAFKA_TLS_CA_FILE ? { caFile: e.KAFKA_TLS_CA_FILE } : {}),
    },
    registry: { url: e.REGISTRY_URL },
    s3: {
      endpoint: e.S3_ENDPOINT,
      accessKey: e.S3_ACCESS_KEY,
      secretKey: e.S3_SECRET_KEY,
      inboxBucket: e.S3_INBOX_BUCKET,
      artifactsBucket: e.S3_ARTIFACTS_BUCKET,
      inboxPrefix: e.S3_INBOX_PREFIX,
      quarantinePrefix: e.S3_QUARANTINE_PREFIX,
      eventsTopic: e.S3_EVENTS_TOPIC,
    },
    cassandra: {
      contactPoint: e.CASSANDRA_CONTACT_POINT,
      datacenter: e.CASSANDRA_DATACENTER,
      username: e.CASSANDRA_USERNAME,
      password: e.CASSANDRA_PASSWORD,
      keyspace: e.CASSANDRA_KEYSPACE,
      replicationFactor: e.CASSANDRA_REPLICATION_FACTOR,
    },
    limits: { maxFileBytes: e.MAX_FILE_BYTES },
    read: { api: e.READ_API, stargateUrl: e.STARGATE_URL, stargateAuthUrl: e.STARGATE_AUTH_URL },
    sink: e.SINK,
    runId: e.RUN_ID,
  });
}

/**
 * Where the secrets are in a Config: the one list that both redactedConfig and the loggers'
 * redaction (observability/logger.ts) are made from, so a new secret is hidden everywhere at once.
 */
export const SECRET_PATHS: readonly (readonly string[])[] = [
  ['kafka', 'sasl', 'password'],
  ['s3', 'secretKey'],
  ['cassandra', 'password'],
];

/** The config as it may be logged or printed: every secret of SECRET_PATHS replaced. */
export function redactedConfig(config: Config): Config {
  const copy = structuredClone(config) as unknown as Record<string, unknown>;
  for (const path of SECRET_PATHS) {
    let at: Record<string, unknown> | undefined = copy;
    for (const key of path.slice(0, -1)) at = at?.[key] as Record<string, unknown> | undefined;
    if (at && at[path.at(-1)!] !== undefined) at[path.at(-1)!] = '[redacted]';
  }
  return copy as unknown as Config;
}

function deepFreeze<T extends object>(o: T): Readonly<T> {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(o);
}

/**
 * Variables our prefixes share that are not the pipeline's own but are read by the stack's scripts,
 * the tests or the benches: never reported as typos.
 */
const OTHER_SETTINGS = [
  'KAFKA_PORT', 'KAFKA_CONTROLLER_PORT', 'KAFKA_HEAP_OPTS', 'KAFKA_JAVA', 'REGISTRY_PORT', 'REGISTRY_MANAGEMENT_PORT', 'REGISTRY_HEAP_OPTS', 'REGISTRY_JAVA',
  'CASSANDRA_CQL_PORT', 'CASSANDRA_JMX_PORT', 'CASSANDRA_HEAP_OPTS', 'CASSANDRA_MLOCK', 'CASSANDRA_SEED', 'STARGATE_LISTEN', 'STARGATE_HEAP_OPTS',
  'KAFKA_HOST', 'KAFKA_NODE_ID', 'KAFKA_VOTERS', 'KAFKA_REPLICATION', 'KAFKA_MIN_ISR', 'KAFKA_DATA', 'KAFKA_CLUSTER_ID_FILE',
  'CASSANDRA_HOST', 'CASSANDRA_SEEDS', 'CASSANDRA_DATA', 'CASSANDRA_RING_DELAY_MS',
  'RAPFLOW_K8S_SCHEMAS', 'RAPFLOW_CLUSTER_SUBSET', 'RAPFLOW_TEST_SEED', 'RAPFLOW_UPDATE_MANIFESTS', 'RAPFLOW_CLUSTER', 'RAPFLOW_NAMESPACE',
];
const OURS = [...Object.keys(EnvSchema.shape), ...OTHER_SETTINGS];
const PREFIXES = /^(RAPFLOW|KAFKA|S3|CASSANDRA|STARGATE|REGISTRY|HTTP|READ|SINK)_?/;

/**
 * Variables with one of our prefixes that are not settings but are one or two letters from one
 * (KAFKA_BROKER for KAFKA_BROKERS): likely typos, which would otherwise leave the default in
 * force without a word. Others with our prefixes (another tool's KAFKA_OPTS) are left alone.
 */
export function likelyTypos(env: Record<string, string | undefined>): { name: string; meant: string }[] {
  const known = new Set(OURS);
  return Object.keys(env)
    .filter((name) => PREFIXES.test(name) && !known.has(name))
    .map((name) => ({ name, meant: closest(name, OURS) }))
    .filter(({ name, meant }) => distance(name, meant) <= 2);
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined));
}
