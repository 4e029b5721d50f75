// What the operators would create, presented to the chart under the same names: the Strimzi and
// K8ssandra operators cannot run here (their images are on no registry this machine reaches), so
// the local stack's Kafka, Cassandra and Stargate stand behind Services, Secrets and users named as
// theirs. The names come from the manifests in strimzi/ and k8ssandra/, so the chart runs on its
// own defaults. Kafka's listener is real TLS with SCRAM-SHA-512 and the KafkaUsers' ACLs.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
// kafkajs is CommonJS: its enums are properties of the default export, not named exports.
import kafkajs, { Kafka, logLevel, type AclEntry, type ITopicConfig } from 'kafkajs';
import { parseAllDocuments } from 'yaml';
import { RapflowError } from '../errors.js';
import { kubectl, NODE_IP, PRESENTED_PORTS, type K8sPlace } from './k8s.js';
import type { StackEndpoints } from './services.js';
import type { Progress } from './supervisor.js';

const run = promisify(execFile);

interface StrimziAcl {
  resource: { type: 'topic' | 'group' | 'cluster' | 'transactionalId'; name?: string; patternType?: 'literal' | 'prefix' };
  operations: string[];
  host?: string;
}

interface Manifest {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { topicName?: string; partitions?: number; replicas?: number; config?: Record<string, string | number>; authorization?: { acls?: StrimziAcl[] }; cassandra?: { datacenters?: { metadata: { name: string } }[] } };
}

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

const RESOURCE: Record<StrimziAcl['resource']['type'], number> = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  cluster: AclResourceTypes.CLUSTER,
  transactionalId: AclResourceTypes.TRANSACTIONAL_ID,
};

const OPERATION: Record<string, number> = {
  All: AclOperationTypes.ALL,
  Read: AclOperationTypes.READ,
  Write: AclOperationTypes.WRITE,
  Create: AclOperationTypes.CREATE,
  Delete: AclOperationTypes.DELETE,
  Alter: AclOperationTypes.ALTER,
  Describe: AclOperationTypes.DESCRIBE,
  ClusterAction: AclOperationTypes.CLUSTER_ACTION,
  DescribeConfigs: AclOperationTypes.DESCRIBE_CONFIGS,
  AlterConfigs: AclOperationTypes.ALTER_CONFIGS,
  IdempotentWrite: AclOperationTypes.IDEMPOTENT_WRITE,
};

/** A KafkaUser's ACLs as Kafka's own ACL entries (what Strimzi's user operator would create). */
export function aclEntries(user: string, acls: StrimziAcl[]): AclEntry[] {
  return acls.flatMap((acl) =>
    acl.operations.map((op) => {
      const operation = OPERATION[op];
      if (operation === undefined) throw new RapflowError('CONFIG_INVALID', `KafkaUser ${user}: unknown ACL operation ${op}`);
      return {
        resourceType: RESOURCE[acl.resource.type],
        resourceName: acl.resource.type === 'cluster' ? 'kafka-cluster' : acl.resource.name!,
        resourcePatternType: acl.resource.patternType === 'prefix' ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
        principal: `User:${user}`,
        host: acl.host ?? '*',
        operation,
        permissionType: AclPermissionTypes.ALLOW,
      };
    }),
  );
}

/**
 * A KafkaTopic as the topic operator would create it, on `brokers` brokers: replicas and
 * min.insync.replicas capped at what they can hold (three copies on one local broker cannot be).
 */
export function topicOf(m: Manifest, brokers: number): ITopicConfig {
  const replicationFactor = Math.min(m.spec?.replicas ?? 1, brokers);
  const config = Object.entries(m.spec?.config ?? {}).map(([name, value]) => ({
    name,
    value: name === 'min.insync.replicas' ? String(Math.min(Number(value), replicationFactor)) : String(value),
  }));
  return { topic: m.spec?.topicName ?? m.metadata.name, numPartitions: m.spec?.partitions ?? 1, replicationFactor, configEntries: config };
}

function manifests(root: string, file: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(root, file), 'utf8')).map((d) => d.toJS() as Manifest).filter(Boolean);
}

/** A password as Strimzi's user operator makes them (32 letters and digits), kept across presentations. */
function userPassword(dir: string, user: string): string {
  const file = join(dir, user);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const password = Array.from({ length: 32 }, () => alphabet[randomInt(alphabet.length)]).join('');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** A selector-less Service and its EndpointSlice at the bridge address (the host's forwards). */
function hostService(name: string, ns: string, ports: { name: string; port: number }[], labels: Record<string, string>): unknown[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, labels }, spec: { ports: ports.map((p) => ({ ...p, protocol: 'TCP', targetPort: p.port })) } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-host`, namespace: ns, labels: { ...labels, 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'rapflow' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [NODE_IP] }],
      ports: ports.map((p) => ({ name: p.name, port: p.port, protocol: 'TCP' })),
    },
  ];
}

const secret = (name: string, ns: string, labels: Record<string, string>, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: ns, labels },
  type: 'Opaque',
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});

export interface PresentOptions {
  namespace: string;
  endpoints: StackEndpoints;
  /** The project's root (strimzi/, k8ssandra/ and scripts/stack/ are read from it). */
  root: string;
  /** Present K8ssandra's Stargate service (a coordinator runs in the local stack). */
  stargate: boolean;
}

/** Creates (or updates) everything the operators would have made; returns the objects' names. */
export async function presentOperators(place: K8sPlace, progress: Progress, opts: PresentOptions): Promise<string[]> {
  const ns = opts.namespace;
  const kafkaCluster = manifests(opts.root, 'strimzi/kafka.yaml').find((m) => m.kind === 'Kafka')!.metadata.name;
  const k8ssandra = manifests(opts.root, 'k8ssandra/cluster.yaml').find((m) => m.kind === 'K8ssandraCluster')!;
  const dc = k8ssandra.spec!.cassandra!.datacenters![0]!.metadata.name;
  const cassandraPrefix = `${k8ssandra.metadata.name}-${dc}`;
  const users = manifests(opts.root, 'strimzi/users.yaml').filter((m) => m.kind === 'KafkaUser');
  const strimzi = (kind: string) => ({ 'strimzi.io/cluster': kafkaCluster, 'strimzi.io/kind': kind, 'app.kubernetes.io/managed-by': 'rapflow-stand-in' });
  const k8ssandraLabels = { 'app.kubernetes.io/name': 'k8ssandra-operator', 'k8ssandra.io/cluster-name': k8ssandra.metadata.name, 'app.kubernetes.io/managed-by': 'rapflow-stand-in' };

  const kafkaScript = join(place.paths.scripts, 'kafka.sh');
  const scriptEnv = { ...place.env, RAPFLOW_HOME: place.paths.home, RAPFLOW_STATE: place.paths.state };
  const caFile = (await run('bash', [kafkaScript, 'tls-ca'], { env: scriptEnv })).stdout.trim();
  if (!existsSync(caFile)) {
    throw new RapflowError('STACK_START_FAILED', `Kafka's TLS listener has no CA yet (${caFile}): start the local stack first (\`npx rapflow stack up\`)`);
  }

  // The users, their credentials in the broker, and their ACLs: the user operator's work.
  const passwords = new Map(users.map((u) => [u.metadata.name, userPassword(join(place.paths.state, 'k8s', 'kafka-users'), u.metadata.name)]));
  for (const u of users) {
    await new Promise<void>((resolve, reject) => {
      const child = execFile('bash', [kafkaScript, 'scram-user', u.metadata.name], { env: scriptEnv }, (err, _out, stderr) => (err ? reject(new Error(stderr.trim() || err.message, { cause: err })) : resolve()));
      child.stdin!.end(`${passwords.get(u.metadata.name)}\n`);
    }).catch((err: unknown) => {
      throw new RapflowError('STACK_START_FAILED', `could not create Kafka user ${u.metadata.name}: ${(err as Error).message}`, { cause: err });
    });
  }
  // The topic operator's work: the KafkaTopics, with no more copies than the local brokers hold.
  const topics = manifests(opts.root, 'strimzi/topics.yaml').filter((m) => m.kind === 'KafkaTopic').map((m) => topicOf(m, opts.endpoints.kafkaBrokers.length));
  const admin = new Kafka({ clientId: 'rapflow-k8s-present', brokers: opts.endpoints.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics, waitForLeaders: true });
    const acls = users.flatMap((u) => aclEntries(u.metadata.name, u.spec?.authorization?.acls ?? []));
    if (acls.length > 0) await admin.createAcls({ acl: acls });
  } finally {
    await admin.disconnect();
  }
  progress(`k8s: Kafka topics ${topics.map((t) => t.topic).join(', ')}`);
  progress(`k8s: Kafka users ${users.map((u) => u.metadata.name).join(', ')} (SCRAM-SHA-512, with their ACLs)`);

  const objects: unknown[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    ...hostService(`${kafkaCluster}-kafka-bootstrap`, ns, [{ name: 'tcp-clientstls', port: PRESENTED_PORTS.kafka }], strimzi('Kafka')),
    secret(`${kafkaCluster}-cluster-ca-cert`, ns, strimzi('Kafka'), { 'ca.crt': readFileSync(caFile, 'utf8') }),
    ...users.map((u) => {
      const name = u.metadata.name;
      const password = passwords.get(name)!;
      return secret(name, ns, strimzi('KafkaUser'), {
        password,
        'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="${name}" password="${password}";`,
      });
    }),
    ...hostService(`${cassandraPrefix}-service`, ns, [{ name: 'native', port: PRESENTED_PORTS.cql }], k8ssandraLabels),
    secret(`${k8ssandra.metadata.name}-superuser`, ns, k8ssandraLabels, { username: opts.endpoints.cassandraUser, password: opts.endpoints.cassandraPassword }),
    ...(opts.stargate
      ? hostService(`${cassandraPrefix}-stargate-service`, ns, [{ name: 'authapi', port: PRESENTED_PORTS.stargateAuth }, { name: 'rest', port: PRESENTED_PORTS.stargateRest }], k8ssandraLabels)
      : []),
  ];
  const text = objects.map((o) => JSON.stringify(o)).join('\n');
  await kubectl(place, ['apply', '--server-side', '--force-conflicts', '--field-manager=rapflow-stand-in', '-f', '-'], 60_000, text);
  const names = objects.map((o) => {
    const m = o as { kind: string; metadata: { name: string } };
    return `${m.kind}/${m.metadata.name}`;
  });
  progress(`k8s: presented in namespace ${ns}: ${names.filter((n) => !n.startsWith('Namespace/')).join(', ')}`);
  return names;
}
