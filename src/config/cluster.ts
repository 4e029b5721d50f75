// The local cluster of `rapflow stack up --nodes 3` (RAPFLOW_NODES=3): three KRaft brokers and three Cassandra nodes,
// each on a loopback address of its own, with the replication a production cluster has. CLUSTER is
// the one place these settings live: the manifests (strimzi/, k8ssandra/, the chart) must agree
// with it, and a test (test/manifests/cluster-settings.test.ts) checks that they do. No imports:
// the configuration reads it too.

export const CLUSTER = {
  kafka: {
    brokers: 3,
    /** Topics, consumer offsets and transaction state: three copies each. */
    replicationFactor: 3,
    /** acks=all waits for two of them: one broker may be down without stopping writes. */
    minInsyncReplicas: 2,
  },
  cassandra: {
    nodes: 3,
    replicationFactor: 3,
    /** Two of three replicas answer every read and write: one node may be down. */
    consistency: 'LOCAL_QUORUM',
    datacenter: 'datacenter1',
  },
} as const;

/** Node i (1-based) of each kind gets an address of its own on the loopback network. */
export const kafkaHost = (i: number) => `127.0.1.${i}`;
export const cassandraHost = (i: number) => `127.0.2.${i}`;
export const KAFKA_PORT = 9092;
export const KAFKA_CONTROLLER_PORT = 9093;
export const CQL_PORT = 9042;
export const STORAGE_PORT = 7000;

/** 1, 2, ... n */
export const range = (n: number) => Array.from({ length: n }, (_, k) => k + 1);

/** The brokers' client addresses (KAFKA_BROKERS) and the nodes' CQL addresses. */
export const clusterBrokers = () => range(CLUSTER.kafka.brokers).map((i) => `${kafkaHost(i)}:${KAFKA_PORT}`);
export const clusterContactPoints = () => range(CLUSTER.cassandra.nodes).map((i) => `${cassandraHost(i)}:${CQL_PORT}`);

/**
 * The settings that point rapflow at the cluster instead of the single node (`rapflow stack env
 * --nodes 3` prints them): every broker, the first Cassandra node as contact point (the driver
 * finds the others), and replication 3 for the keyspace.
 */
export function clusterEnv(): Record<string, string> {
  return {
    RAPFLOW_NODES: '3',
    KAFKA_BROKERS: clusterBrokers().join(','),
    CASSANDRA_CONTACT_POINT: clusterContactPoints()[0]!,
    CASSANDRA_REPLICATION_FACTOR: String(CLUSTER.cassandra.replicationFactor),
  };
}

