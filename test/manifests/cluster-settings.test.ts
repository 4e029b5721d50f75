// The cluster settings live in one place (src/config/cluster.ts): the local cluster of
// `rapflow stack up --nodes 3` runs with them, and the manifests users deploy must say the same.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { CLUSTER } from '../../src/config/cluster.js';
import { CONSISTENCY, CqlSession } from '../../src/store/cql/session.js';
import { CHART, find, loadFile, renderChart } from './tools.js';

type Any = any;
const strimzi = ['strimzi/kafka.yaml', 'strimzi/topics.yaml'].flatMap(loadFile);
const kafka = find(strimzi, 'Kafka', 'rapflow').spec as Any;
const pool = find(strimzi, 'KafkaNodePool', 'dual-role').spec as Any;
const topics = strimzi.filter((o) => o.kind === 'KafkaTopic');
const k8ssandra = find(loadFile('k8ssandra/cluster.yaml'), 'K8ssandraCluster', 'rapflow').spec as Any;
const values = yaml.load(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Any;

describe('the manifests agree with the cluster settings', () => {
  it(`strimzi/: ${CLUSTER.kafka.brokers} brokers, replication ${CLUSTER.kafka.replicationFactor}, min.insync.replicas ${CLUSTER.kafka.minInsyncReplicas}, for topics, offsets and transactions`, () => {
    expect(pool.replicas).toBe(CLUSTER.kafka.brokers);
    const config = kafka.kafka.config as Record<string, unknown>;
    expect(config['default.replication.factor']).toBe(CLUSTER.kafka.replicationFactor);
    expect(config['offsets.topic.replication.factor']).toBe(CLUSTER.kafka.replicationFactor);
    expect(config['transaction.state.log.replication.factor']).toBe(CLUSTER.kafka.replicationFactor);
    expect(config['min.insync.replicas']).toBe(CLUSTER.kafka.minInsyncReplicas);
    expect(config['transaction.state.log.min.isr']).toBe(CLUSTER.kafka.minInsyncReplicas);
    expect(topics.length).toBeGreaterThan(0);
    for (const t of topics) {
      const spec = t.spec as Any;
      expect(spec.replicas, t.metadata.name).toBe(CLUSTER.kafka.replicationFactor);
      expect(spec.config['min.insync.replicas'], t.metadata.name).toBe(CLUSTER.kafka.minInsyncReplicas);
    }
  });

  it(`k8ssandra/ and the chart: ${CLUSTER.cassandra.nodes} nodes, keyspace replication ${CLUSTER.cassandra.replicationFactor}`, () => {
    const dcs = k8ssandra.cassandra.datacenters as Any[];
    expect(dcs.map((d) => d.size)).toEqual([CLUSTER.cassandra.nodes]);
    expect(values.cassandra.replicationFactor).toBe(CLUSTER.cassandra.replicationFactor);
    const configmap = renderChart([]).find((o) => o.kind === 'ConfigMap' && (o as Any).data?.CASSANDRA_REPLICATION_FACTOR !== undefined) as Any;
    expect(configmap.data.CASSANDRA_REPLICATION_FACTOR).toBe(String(CLUSTER.cassandra.replicationFactor));
  });

  it(`the CQL session reads and writes at ${CLUSTER.cassandra.consistency}, which a replication of ${CLUSTER.cassandra.replicationFactor} serves with one node down`, () => {
    expect(CONSISTENCY).toBe(cassandra.types.consistencies.localQuorum);
    expect((new CqlSession({ contactPoint: '127.0.0.1:1', datacenter: 'dc1', username: 'u', password: 'p', keyspace: 'k', replicationFactor: 3 }).client as unknown as { options: { queryOptions: { consistency: number } } }).options.queryOptions.consistency).toBe(CONSISTENCY);
    // A quorum of the replicas, and one node fewer than that can be down.
    const quorum = Math.floor(CLUSTER.cassandra.replicationFactor / 2) + 1;
    expect(CLUSTER.cassandra.replicationFactor - quorum).toBeGreaterThanOrEqual(1);
    expect(CLUSTER.kafka.replicationFactor - CLUSTER.kafka.minInsyncReplicas).toBeGreaterThanOrEqual(1);
  });
});
