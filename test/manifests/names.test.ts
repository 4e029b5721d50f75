// Names that must agree across strimzi/, k8ssandra/, argo/, helm/ and the app's own defaults:
// topics, consumer groups, buckets, secrets, services. The app's side is imported from src/, so a
// rename in one place fails here until every other place follows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { topicOf } from '../../src/codec/schemas.js';
import { EnvSchema, loadConfig } from '../../src/config/index.js';
import { eventsTopic, rapTopics } from '../../src/transport/topics.js';
import { CHART, find, loadFile, renderChart, ROOT, type K8sObject } from './tools.js';

const app = loadConfig({});
const strimzi = ['strimzi/kafka.yaml', 'strimzi/topics.yaml', 'strimzi/users.yaml'].flatMap(loadFile);
const k8ssandra = find(loadFile('k8ssandra/cluster.yaml'), 'K8ssandraCluster', 'rapflow');
const argo = ['workflowtemplate', 'cronworkflow', 'rbac', 'artifact-repository', 'events', 'config'].flatMap((f) => loadFile(`argo/${f}.yaml`));
const chart = renderChart(['--set', 'devMinio.enabled=true']);
const values = yaml.load(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as {
  kafka: { brokers: string; consumerGroup: string; caSecret: string; users: Record<'split' | 'consume' | 'verify', string> };
  s3: { endpoint: string; inboxBucket: string; inboxPrefix: string; artifactsBucket: string; eventsTopic: string; existingSecret: string };
  cassandra: { contactPoint: string; datacenter: string; keyspace: string; existingSecret: string; stargateUrl: string; stargateAuthUrl: string };
  events: { webhook: { port: number; targetId: string } };
};
const source = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Any = any;
const spec = (o: K8sObject) => o.spec as Any;

const kafka = find(strimzi, 'Kafka', 'rapflow');
const topics = strimzi.filter((o) => o.kind === 'KafkaTopic');
const users = new Map(strimzi.filter((o) => o.kind === 'KafkaUser').map((u) => [u.metadata.name, spec(u).authorization.acls as Acl[]]));

interface Acl {
  resource: { type: string; name?: string; patternType?: string };
  operations: string[];
}

/** Whether a user's ACLs allow `operation` on the resource `type`/`name` (literal or prefix match). */
function allows(user: string, type: string, name: string, operation: string): boolean {
  const acls = users.get(user);
  if (!acls) throw new Error(`no KafkaUser ${user}`);
  return acls.some(
    (a) =>
      a.resource.type === type &&
      (a.resource.patternType === 'prefix' ? name.startsWith(a.resource.name!) : a.resource.name === name) &&
      (a.operations.includes(operation) || a.operations.includes('All')),
  );
}

/** Every container env of a pod template or a WorkflowTemplate, with the workflow templates by name. */
function containers(objects: K8sObject[]): { where: string; env: Record<string, Any>[]; args: string[]; volumes: Any[] }[] {
  const out: { where: string; env: Record<string, Any>[]; args: string[]; volumes: Any[] }[] = [];
  for (const o of objects) {
    if (o.kind === 'Deployment') {
      const pod = spec(o).template.spec;
      for (const c of pod.containers) out.push({ where: `${o.metadata.name}/${c.name}`, env: c.env ?? [], args: c.args ?? [], volumes: pod.volumes ?? [] });
    }
    if (o.kind === 'WorkflowTemplate') {
      for (const t of spec(o).templates) if (t.container) out.push({ where: `${o.metadata.name}/${t.name}`, env: t.container.env ?? [], args: t.container.args ?? [], volumes: spec(o).volumes ?? [] });
    }
  }
  return out;
}

const configOf = (objects: K8sObject[]) => find(objects, 'ConfigMap', 'rapflow-config').data!;

describe('names agree across strimzi/, k8ssandra/, argo/, helm/ and src/', () => {
  it('one KafkaTopic per topic the app uses, with its partitions and retention, replicated 3 with min ISR 2', () => {
    const want = [...rapTopics(), eventsTopic()];
    expect(topics.map((t) => spec(t).topicName).sort()).toEqual(want.map((t) => t.name).sort());
    for (const t of want) {
      const s = spec(topics.find((k) => spec(k).topicName === t.name)!);
      expect({ partitions: s.partitions, retention: String(s.config['retention.ms']) }, t.name).toEqual({ partitions: t.partitions, retention: t.config['retention.ms'] });
      expect({ replicas: s.replicas, minIsr: s.config['min.insync.replicas'] }).toEqual({ replicas: 3, minIsr: 2 });
    }
    expect(app.s3.eventsTopic).toBe(eventsTopic().name);
    expect(values.s3.eventsTopic).toBe(eventsTopic().name);
  });

  it('every Strimzi resource names the Kafka cluster, which creates no topic by itself', () => {
    for (const o of strimzi.filter((x) => x.kind !== 'Kafka')) expect(o.metadata.labels?.['strimzi.io/cluster'], `${o.kind}/${o.metadata.name}`).toBe(kafka.metadata.name);
    expect(spec(kafka).kafka.config['auto.create.topics.enable']).toBe(false);
  });

  it('the KafkaUsers allow what each command does, on the app names', () => {
    const { split, consume, verify } = values.kafka.users;
    const records = rapTopics()
      .map((t) => t.name)
      .filter((t) => t !== topicOf('DeadLetter'));
    // split: writes every record topic in transactions named as ingest.ts names them; follows the events topic.
    const txPrefix = /transactionalProducer\(`([a-z-]+)\$\{runId\}/.exec(source('src/cli/commands/ingest.ts'))?.[1];
    expect(txPrefix).toBeDefined();
    for (const t of records) expect(allows(split, 'topic', t, 'Write'), t).toBe(true);
    expect(allows(split, 'transactionalId', `${txPrefix}some-run-0of3`, 'Write')).toBe(true);
    expect(allows(split, 'topic', eventsTopic().name, 'Read')).toBe(true);
    expect(allows(split, 'group', app.kafka.followGroup, 'Read')).toBe(true);
    // consume: reads the record topics in its group, writes dead letters; never the events.
    for (const t of records) expect(allows(consume, 'topic', t, 'Read'), t).toBe(true);
    expect(allows(consume, 'group', app.kafka.consumerGroup, 'Read')).toBe(true);
    expect(allows(consume, 'topic', topicOf('DeadLetter'), 'Write')).toBe(true);
    expect(allows(consume, 'topic', eventsTopic().name, 'Read')).toBe(false);
    // verify/report: describe the consumer group (never join it), read dead letters through a throwaway group.
    // Both Kafka clients' whole-topic readers use the same throwaway group prefix.
    const groups = ['kafkajs', 'platformatic'].map((c) => /const groupId = `([a-z-]+)\$\{/.exec(source(`src/transport/${c}/consumer.ts`))?.[1]);
    const readGroup = groups[0];
    expect(readGroup).toBeDefined();
    expect(groups[1]).toBe(readGroup);
    expect(allows(verify, 'group', app.kafka.consumerGroup, 'Describe')).toBe(true);
    expect(allows(verify, 'group', app.kafka.consumerGroup, 'Read')).toBe(false);
    expect(allows(verify, 'topic', topicOf('DeadLetter'), 'Read')).toBe(true);
    expect(allows(verify, 'group', `${readGroup}123-456`, 'Read')).toBe(true);
    for (const t of records) expect(allows(verify, 'topic', t, 'Write'), t).toBe(false);
  });

  it('groups, buckets and prefixes of the chart and argo/ are the app defaults', () => {
    for (const [where, config] of [['chart', configOf(chart)], ['argo/config.yaml', configOf(argo)]] as const) {
      expect(
        {
          KAFKA_CONSUMER_GROUP: config['KAFKA_CONSUMER_GROUP'],
          S3_INBOX_BUCKET: config['S3_INBOX_BUCKET'],
          S3_INBOX_PREFIX: config['S3_INBOX_PREFIX'],
          S3_ARTIFACTS_BUCKET: config['S3_ARTIFACTS_BUCKET'],
          S3_EVENTS_TOPIC: config['S3_EVENTS_TOPIC'],
          CASSANDRA_KEYSPACE: config['CASSANDRA_KEYSPACE'],
        },
        where,
      ).toEqual({
        KAFKA_CONSUMER_GROUP: app.kafka.consumerGroup,
        S3_INBOX_BUCKET: app.s3.inboxBucket,
        S3_INBOX_PREFIX: app.s3.inboxPrefix,
        S3_ARTIFACTS_BUCKET: app.s3.artifactsBucket,
        S3_EVENTS_TOPIC: app.s3.eventsTopic,
        CASSANDRA_KEYSPACE: app.cassandra.keyspace,
      });
    }
    // MinIO posts the inbox's events to the EventSource's webhook: the db-init Job points the
    // bucket's notifications at the target whose ID the chart gives MinIO.
    const hook = spec(find(argo, 'EventSource', 'rap-inbox')).webhook.inbox;
    expect(hook.endpoint).toBe('/inbox');
    expect(Number(hook.port)).toBe(values.events.webhook.port);
    const job = chart.find((o) => o.kind === 'Job' && o.metadata.name.endsWith('-db-init'))!;
    const notify = (spec(job).template.spec.containers as Any[]).find((c) => c.name === 'bucket-events');
    expect(notify?.args).toEqual(['notify', '--arn', `arn:minio:sqs::${values.events.webhook.targetId}:webhook`]);
    const repo = yaml.load(find(argo, 'ConfigMap', 'artifact-repositories').data!['rapflow']!) as Any;
    expect(repo.s3.bucket).toBe(app.s3.artifactsBucket);
  });

  it('every variable the manifests set is one the app reads', () => {
    // NODE_OPTIONS is read by Node itself (the consumer's heap, CONSUMER_NODE_OPTIONS).
    const known = new Set([...Object.keys(EnvSchema.shape), 'NODE_OPTIONS']);
    const set = [
      ...Object.keys(configOf(chart)),
      ...containers(chart)
        .filter((c) => !c.where.includes('minio') && !c.where.includes('registry'))
        .flatMap((c) => c.env.map((e) => e['name'] as string))
        .filter((n) => !n.startsWith('WF_')),
    ];
    expect(set.filter((n) => !known.has(n))).toEqual([]);
  });

  it('secrets: Strimzi CA and user secrets, K8ssandra superuser, S3 keys', () => {
    expect(values.kafka.caSecret).toBe(`${kafka.metadata.name}-cluster-ca-cert`);
    expect(values.cassandra.existingSecret).toBe(`${k8ssandra.metadata.name}-superuser`);
    for (const u of Object.values(values.kafka.users)) expect(users.has(u), u).toBe(true);
    for (const objects of [chart, argo]) {
      for (const c of containers(objects).filter((x) => !/minio|registry|summary|verdict/.test(x.where))) {
        const ref = (name: string) => c.env.find((e) => e['name'] === name)?.['valueFrom']?.secretKeyRef;
        expect(ref('CASSANDRA_PASSWORD'), c.where).toEqual({ name: values.cassandra.existingSecret, key: 'password' });
        expect(ref('S3_SECRET_KEY'), c.where).toEqual({ name: values.s3.existingSecret, key: 'secretKey' });
        const user = c.env.find((e) => e['name'] === 'KAFKA_SASL_USERNAME')?.['value'] as string | undefined;
        if (user !== undefined) expect(ref('KAFKA_SASL_PASSWORD'), c.where).toEqual({ name: user, key: 'password' });
        const ca = c.volumes.find((v) => v.name === 'kafka-ca');
        expect(ca?.secret.secretName, c.where).toBe(values.kafka.caSecret);
      }
    }
    // The step that runs each command connects as the user whose ACLs fit it.
    const userOf = (step: string) =>
      containers(argo)
        .find((c) => c.where === `rap-ingest/${step}`)!
        .env.find((e) => e['name'] === 'KAFKA_SASL_USERNAME')?.['value'] as string | undefined;
    expect([userOf('discover'), userOf('split'), userOf('verify'), userOf('report')]).toEqual([undefined, values.kafka.users.split, values.kafka.users.verify, values.kafka.users.verify]);
    const consumer = containers(chart).find((c) => c.where === 'rapflow-consumer/consume')!;
    expect(consumer.env.find((e) => e['name'] === 'KAFKA_SASL_USERNAME')?.['value']).toBe(values.kafka.users.consume);
  });

  it('services: Kafka bootstrap, Cassandra datacenter service, registry and MinIO', () => {
    const tls = spec(kafka).kafka.listeners.find((l: Any) => l.tls === true);
    expect(values.kafka.brokers).toBe(`${kafka.metadata.name}-kafka-bootstrap:${tls.port}`);
    expect(tls.authentication.type).toBe('scram-sha-512');
    const dc = spec(k8ssandra).cassandra.datacenters[0];
    expect(values.cassandra.contactPoint).toBe(`${k8ssandra.metadata.name}-${dc.metadata.name}-service:9042`);
    expect(values.cassandra.datacenter).toBe(dc.metadata.name);
    const stargate = `${k8ssandra.metadata.name}-${dc.metadata.name}-stargate-service`;
    expect([new URL(values.cassandra.stargateUrl).hostname, new URL(values.cassandra.stargateAuthUrl).hostname]).toEqual([stargate, stargate]);
    expect([new URL(values.cassandra.stargateUrl).port, new URL(values.cassandra.stargateAuthUrl).port]).toEqual([new URL(app.read.stargateUrl).port, new URL(app.read.stargateAuthUrl).port]);
    expect(spec(k8ssandra).cassandra.datacenters[0].stargate.size).toBeGreaterThan(0);
    // The registry URL points at the chart's Service, on the app's API path.
    const registry = new URL(configOf(chart)['REGISTRY_URL']!);
    const service = find(chart, 'Service', registry.hostname);
    expect(spec(service).ports.map((p: Any) => p.port)).toContain(Number(registry.port));
    expect(registry.pathname).toBe(new URL(app.registry.url).pathname);
    const minio = new URL(values.s3.endpoint);
    expect(spec(find(chart, 'Service', minio.hostname)).ports.map((p: Any) => p.port)).toContain(Number(minio.port));
  });

  it('Argo objects refer to each other by the right names', () => {
    const template = find(argo, 'WorkflowTemplate', 'rap-ingest');
    expect(spec(find(argo, 'CronWorkflow', 'rap-ingest')).workflowSpec.workflowTemplateRef.name).toBe(template.metadata.name);
    const sensor = spec(find(argo, 'Sensor', 'rap-ingest'));
    expect(sensor.triggers[0].template.argoWorkflow.source.resource.spec.workflowTemplateRef.name).toBe(template.metadata.name);
    const source = find(argo, 'EventSource', sensor.dependencies[0].eventSourceName);
    expect(Object.keys(spec(source).webhook)).toContain(sensor.dependencies[0].eventName);
    expect(find(argo, 'ServiceAccount', spec(template).serviceAccountName)).toBeDefined();
    expect(find(argo, 'ServiceAccount', sensor.template.serviceAccountName)).toBeDefined();
    const ref = spec(template).artifactRepositoryRef;
    expect(find(argo, 'ConfigMap', ref.configMap).data?.[ref.key]).toBeDefined();
  });
});
