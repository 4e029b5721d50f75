// The services of the local cluster (src/config/cluster.ts has its settings): each broker and
// each Cassandra node is a service of its own, on its own loopback address, with its own data and log.
import { cassandraHost, CLUSTER, clusterBrokers, CQL_PORT, KAFKA_CONTROLLER_PORT, KAFKA_PORT, kafkaHost, range, STORAGE_PORT } from '../config/cluster.js';
import { probeCassandra, probeKafka } from './probes.js';
import type { ServiceDef, StackEndpoints } from './services.js';

/** JMX listens on 127.0.0.1 whatever the node's address, so each node needs a port of its own. */
const jmxPort = (i: number) => 7200 + i;

/**
 * The single-node services, turned into the cluster's: kafka-1..3 and cassandra-1..3 in place of
 * kafka and cassandra. `joined(i)` says whether Cassandra node i has joined the ring before (it
 * has data): only a node that never joined waits for the one before it.
 */
export function clusterServices(single: ServiceDef[], joined: (node: number) => boolean = () => false): ServiceDef[] {
  const kafka = single.find((s) => s.name === 'kafka')!;
  const cassandra = single.find((s) => s.name === 'cassandra')!;
  const voters = range(CLUSTER.kafka.brokers)
    .map((i) => `${i}@${kafkaHost(i)}:${KAFKA_CONTROLLER_PORT}`)
    .join(',');
  const seeds = `${cassandraHost(1)}:${STORAGE_PORT}`;
  const brokers: ServiceDef[] = range(CLUSTER.kafka.brokers).map((i) => ({
    ...kafka,
    name: `kafka-${i}`,
    host: () => kafkaHost(i),
    ports: () => [KAFKA_PORT, KAFKA_CONTROLLER_PORT],
    url: () => `kafka://${kafkaHost(i)}:${KAFKA_PORT}`,
    // The cluster answers through this broker: a write with acks=all needs two of the three.
    probe: (ep: StackEndpoints) => probeKafka({ ...ep, kafkaBroker: `${kafkaHost(i)}:${KAFKA_PORT}` }),
    env: () => ({
      KAFKA_HOST: kafkaHost(i),
      KAFKA_PORT: String(KAFKA_PORT),
      KAFKA_CONTROLLER_PORT: String(KAFKA_CONTROLLER_PORT),
      KAFKA_NODE_ID: String(i),
      KAFKA_VOTERS: voters,
      KAFKA_REPLICATION: String(CLUSTER.kafka.replicationFactor),
      KAFKA_MIN_ISR: String(CLUSTER.kafka.minInsyncReplicas),
      KAFKA_DATA: `kafka-${i}`,
      KAFKA_CLUSTER_ID_FILE: 'kafka-cluster.id',
      KAFKA_HEAP_OPTS: '-Xms128m -Xmx384m',
    }),
  }));
  // A new node joins one at a time (two bootstrapping at once is refused), after the seed. Nodes
  // that joined before start together: the first alone, knowing its two peers, cannot make the
  // logins' quorum (system_auth has three copies), so waiting for it would wait forever.
  const nodes: ServiceDef[] = range(CLUSTER.cassandra.nodes).map((i) => ({
    ...cassandra,
    name: `cassandra-${i}`,
    host: () => cassandraHost(i),
    ports: () => [CQL_PORT, STORAGE_PORT],
    url: () => `cql://${cassandraHost(i)}:${CQL_PORT}`,
    probe: (ep: StackEndpoints) =>
      probeCassandra({ ...ep, cqlContactPoint: `${cassandraHost(i)}:${CQL_PORT}` }, CLUSTER.cassandra.replicationFactor, i === 1 ? CLUSTER.cassandra.replicationFactor : undefined),
    env: () => ({
      CASSANDRA_HOST: cassandraHost(i),
      CASSANDRA_CQL_PORT: String(CQL_PORT),
      CASSANDRA_JMX_PORT: String(jmxPort(i)),
      CASSANDRA_SEEDS: seeds,
      CASSANDRA_DATA: `cassandra-${i}`,
      CASSANDRA_HEAP_OPTS: '-Xms512m -Xmx512m',
      // A joining node waits this long for the ring's gossip; the default 30 s is for real networks.
      CASSANDRA_RING_DELAY_MS: i === 1 ? '100' : '5000',
    }),
    ...(i > 1 && !joined(i) ? { after: [`cassandra-${i - 1}`] } : {}),
  }));
  return single.flatMap((s) => {
    if (s.name === 'kafka') return brokers;
    if (s.name === 'cassandra') return nodes;
    if (s.name === 'stargate') {
      // A folder of its own (log, bundle cache), so the two topologies' coordinators never share
      // one; stargate.sh also forgets the last ring's peers and schema at every start.
      return [{ ...s, env: (ep: StackEndpoints) => ({ ...s.env(ep), CASSANDRA_SEED: cassandraHost(1), STARGATE_DATA: 'stargate-cluster' }), after: [nodes.at(-1)!.name] }];
    }
    if (s.name === 'minio') return [{ ...s, env: (ep: StackEndpoints) => ({ ...s.env(ep), KAFKA_BROKERS: clusterBrokers().join(',') }) }];
    return [s];
  });
}
