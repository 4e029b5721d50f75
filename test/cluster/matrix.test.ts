// The cluster's fault matrix (`npm run test:cluster`; CI runs the two rows marked "CI subset"):
// the faults a cluster has, injected into real runs on the local three-node cluster (three KRaft
// brokers, replication 3, min.insync.replicas 2; three Cassandra nodes, replication 3,
// LOCAL_QUORUM), each checked against the corpus record by record. Writes its part of
// docs/reliability.md. Needs RAPFLOW_NODES=3 (the npm scripts set it).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { topicOf } from '../../src/codec/schemas.js';
import { config } from '../integration/stack.js';
import { Scenario, sleep, stack, start } from '../faults/harness.js';
import { clean, notRunRow, recordRow, times, writeRows, type Row } from '../faults/rows.js';

const rows: Row[] = [];
const started = new Date();
const onCluster = config.stack.nodes === 3;
if (!onCluster) process.stderr.write('\n*** cluster fault matrix NOT RUN: RAPFLOW_NODES is not 3 (run it with `npm run test:cluster`)\n');
const stargateUp = onCluster && (await stack.status(['stargate']))[0]?.state === 'up';
const subsetOnly = process.env.RAPFLOW_CLUSTER_SUBSET === '1';
const record = (sc: Scenario, fault: string, did: string, recovery?: Promise<number>) => recordRow(rows, sc, fault, did, recovery);

const pidOf = async (service: string) => (await stack.status([service]))[0]!.pid!;
const kill = async (service: string, signal: NodeJS.Signals = 'SIGKILL') => process.kill(await pidOf(service), signal);
const batchesAfter = (output: string, t: number) => output.split('\n').filter((l) => l.includes('"batch written"') && Number(/"time":(\d+)/.exec(l)?.[1] ?? 0) > t).length;

/** The broker that leads a partition (its node id is its number in the cluster: kafka-<id>). */
async function leaderOf(topic: string, partition: number): Promise<number> {
  const admin = new Kafka({ clientId: 'cluster-faults', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]!.partitions.find((p) => p.partitionId === partition)!.leader;
  } finally {
    await admin.disconnect();
  }
}

/** discover's list cut into `n` parts, todo-1.json ... todo-n.json: a run in n parts. */
function parts(sc: Scenario, n: number): string[] {
  const todo = JSON.parse(readFileSync(join(sc.tmp, 'todo.json'), 'utf8')) as unknown[];
  const size = Math.ceil(todo.length / n);
  return Array.from({ length: n }, (_, k) => {
    writeFileSync(join(sc.tmp, `todo-${k + 1}.json`), JSON.stringify(todo.slice(k * size, (k + 1) * size)));
    return `todo-${k + 1}.json`;
  });
}

describe.runIf(onCluster)(`cluster fault matrix (${config.kafka.client})`, () => {
  const scenarios: Scenario[] = [];
  const scenario = async (name: string, env: Record<string, string> = {}) => {
    const sc = new Scenario(name, env);
    scenarios.push(sc);
    await sc.prepare();
    expect(await sc.discover()).toBe(0);
    return sc;
  };
  const splitUntilDone = (sc: Scenario, list?: string) => sc.supervise(() => sc.split({}, list));
  const drain = (sc: Scenario) => sc.supervise(() => sc.consume());
  const full = subsetOnly ? it.skip : it;

  afterAll(async () => {
    await stack.up();
    for (const sc of scenarios) await sc.cleanup().catch(() => undefined);
    const section = subsetOnly ? `faults/cluster-subset-${config.kafka.client}` : `faults/cluster-${config.kafka.client}`;
    writeRows(section, `Three-node cluster${subsetOnly ? ', CI subset' : ''}, Kafka client: ${config.kafka.client}`, rows, started);
  });

  it('the partition leader broker SIGKILL mid-split, and back (CI subset)', async () => {
    const sc = await scenario('leader-kill');
    const lines = topicOf('LyricLine', sc.env.KAFKA_TOPIC_PREFIX);
    const leader = await leaderOf(lines, 0);
    const split = sc.split();
    await split.waitFor(/"file split"/);
    await kill(`kafka-${leader}`);
    const code = await split.exited;
    // The controller moves the leadership once the dead broker's session expires (4 s here);
    // metadata asked for before that still names the dead broker.
    let newLeader = await leaderOf(lines, 0);
    for (const until = Date.now() + 30_000; newLeader === leader && Date.now() < until; newLeader = await leaderOf(lines, 0)) await sleep(1_000);
    expect(newLeader, `${lines}[0] still led by the killed kafka-${leader} after 30 s`).not.toBe(leader);
    const back = sc.watchComplete();
    await stack.up([`kafka-${leader}`]);
    await splitUntilDone(sc);
    await drain(sc);
    clean(
      await record(
        sc,
        'Partition leader broker SIGKILL (mid-split), then back',
        `kafka-${leader} led ${lines}[0] and was killed after the first file; kafka-${newLeader} took over the partition and split ${code === 0 ? 'went on with two brokers (min.insync.replicas 2) and finished' : `exited ${code}, its retry (same run id) skipped finished files and split the rest`}; the broker came back and caught up`,
        back,
      ),
      'possible',
    );
  });

  it('one Cassandra node SIGKILL mid-consume: writes go on at LOCAL_QUORUM (CI subset)', async () => {
    const sc = await scenario('cassandra-one');
    const [first, second] = parts(sc, 2);
    await splitUntilDone(sc, first);
    const consumer = sc.consume({}, 8);
    await consumer.waitFor(/"batch written"/);
    const killedAt = Date.now();
    await kill('cassandra-3');
    await splitUntilDone(sc, second);
    const code = await consumer.exited;
    const after = batchesAfter(consumer.output(), killedAt);
    expect(after, consumer.output().slice(-1500)).toBeGreaterThan(0);
    const retried = (consumer.output().match(/sink unavailable, retrying the batch/g) ?? []).length;
    if (code !== 0) await drain(sc);
    const back = sc.watchComplete();
    await stack.up(['cassandra-3']);
    clean(
      await record(
        sc,
        'One Cassandra node SIGKILL (mid-consume)',
        `cassandra-3 killed while the consumer ran; it wrote ${after} more batches with two of three replicas (LOCAL_QUORUM)${retried ? `, retrying ${times(retried)} the batches in flight to the dead node` : ''}${code === 0 ? '' : `; it exited ${code} and its restart finished`}; the node came back`,
        back,
      ),
    );
  });

  full('a second Cassandra node down: writes stop and retry, never lost or half committed; both back', async () => {
    const sc = await scenario('cassandra-two');
    const [first, second] = parts(sc, 2);
    await splitUntilDone(sc, first);
    // One node down mid-consume: the consumer writes on at LOCAL_QUORUM.
    const consumer1 = sc.consume({}, 8);
    await consumer1.waitFor(/"batch written"/);
    await kill('cassandra-3');
    expect(await consumer1.exited, consumer1.output().slice(-1500)).toBe(0);
    // The second part reaches Kafka (split's ledger still has its quorum), then a second node
    // goes: one replica of three cannot make LOCAL_QUORUM, so every write of it must fail and retry.
    await splitUntilDone(sc, second);
    await kill('cassandra-2');
    const consumer = sc.consume({}, 8);
    // Two ways to stall, both seen: the consumer logs in before the driver sees cassandra-2 gone and
    // then every write fails and is retried, or it cannot log in at all (the default superuser's
    // login reads at QUORUM) and exits 75. Either way nothing is written or committed.
    const refusedLogin = /connecting to Cassandra: Cassandra unavailable/;
    try {
      await consumer.waitFor(new RegExp(`sink unavailable, retrying the batch|${refusedLogin.source}`), 120_000);
      await sleep(10_000);
    } catch (err) {
      await stack.up(['cassandra-2', 'cassandra-3']); // the rows after this one need the whole ring
      throw err;
    }
    const retried = (consumer.output().match(/sink unavailable, retrying the batch/g) ?? []).length;
    const loginRefused = refusedLogin.test(consumer.output());
    expect(retried > 0 || loginRefused, consumer.output().slice(-1500)).toBe(true);
    const back = sc.watchComplete();
    await stack.up(['cassandra-2', 'cassandra-3']);
    const code = await consumer.exited;
    if (code !== 0) await drain(sc);
    clean(
      await record(
        sc,
        'Two Cassandra nodes down (one mid-consume, then a second while records wait), then both back',
        `with cassandra-3 down the consumer wrote on at LOCAL_QUORUM; with cassandra-2 down too, one replica could not make a quorum: ${retried > 0 ? `the consumer retried the batch in hand ${times(retried)} with backoff and committed nothing unwritten` : 'the consumer could not log in (the superuser login reads at QUORUM) and wrote and committed nothing'}${code === 0 ? '' : `, exited ${code} and was restarted`}; with both back it finished`,
        back,
      ),
    );
  });

  full('one Cassandra node frozen (SIGSTOP) for longer than the driver timeouts, a stand-in for a partition', async () => {
    const sc = await scenario('cassandra-freeze');
    const [first, second] = parts(sc, 2);
    await splitUntilDone(sc, first);
    const consumer = sc.consume({}, 30);
    await consumer.waitFor(/"batch written"/);
    await kill('cassandra-2', 'SIGSTOP');
    await splitUntilDone(sc, second).catch(() => undefined);
    await sleep(20_000);
    await kill('cassandra-2', 'SIGCONT');
    const back = sc.watchComplete();
    const code = await consumer.exited;
    if (code !== 0) await drain(sc);
    await splitUntilDone(sc, second);
    await drain(sc);
    const retried = (consumer.output().match(/sink unavailable, retrying the batch/g) ?? []).length;
    clean(
      await record(
        sc,
        'One Cassandra node frozen 20 s (SIGSTOP, longer than the 12 s read timeout)',
        `requests the driver had sent to the frozen node timed out${retried ? ` and their batches were retried ${times(retried)}` : ''}; the other two nodes kept LOCAL_QUORUM${code === 0 ? '' : `; the consumer exited ${code} and was restarted`}`,
        back,
      ),
    );
  });

  full('a rolling restart of the three brokers, one at a time, during a run', async () => {
    const sc = await scenario('rolling');
    const consumer = sc.consume({}, 40);
    const split = splitUntilDone(sc);
    const t0 = Date.now();
    for (let i = 1; i <= 3; i++) {
      await stack.down([`kafka-${i}`]);
      await stack.up([`kafka-${i}`]);
    }
    const rollS = (Date.now() - t0) / 1000;
    await split;
    const back = sc.watchComplete();
    const code = await consumer.exited;
    await drain(sc);
    clean(
      await record(
        sc,
        'Rolling restart of the three brokers (during split and consume)',
        `each broker stopped and started in turn (${rollS.toFixed(0)} s for the three) while split produced and the consumer consumed; ${sc.restarts === 0 ? 'split finished without a retry' : `split or consume was retried ${times(sc.restarts)}`}, the consumer ${code === 0 ? 'went on' : `exited ${code} and was restarted`}`,
        back,
      ),
      'possible',
    );
  });

  full('three consumers in one group, one killed mid-run: rebalance, 0 lost', async () => {
    const sc = await scenario('group');
    await splitUntilDone(sc);
    const consumers = [1, 2, 3].map(() => start(['consume', '--idle-exit', '40'], { ...sc.env, HTTP_PORT: '0' }));
    await Promise.race(consumers.map((c) => c.waitFor(/"batch written"/, 120_000)));
    consumers[1]!.child.kill('SIGKILL');
    const back = sc.watchComplete();
    const codes = await Promise.all(consumers.map((c) => c.exited));
    await drain(sc);
    clean(
      await record(
        sc,
        'Three consumers in one group, one SIGKILL (mid-run)',
        `the two left took over its partitions after the rebalance and rewrote its uncommitted batches (exits ${codes.join(', ')})`,
        back,
      ),
    );
  });

  full('the Stargate coordinator killed and restarted mid-consume (SINK=stargate)', async () => {
    if (!stargateUp) {
      rows.push(notRunRow('Stargate coordinator SIGKILL on the cluster', 'not run: no Stargate coordinator in the local stack (`rapflow stack status` says how to install one)'));
      process.stderr.write('\n*** cluster fault matrix: the Stargate row NOT RUN: no Stargate coordinator\n');
      return;
    }
    const sc = await scenario('stargate', { SINK: 'stargate' });
    await splitUntilDone(sc);
    const consumer = sc.consume();
    await consumer.waitFor(/"batch written"/);
    process.kill(-(await pidOf('stargate')), 'SIGKILL');
    const code = await consumer.exited;
    const t0 = Date.now();
    await stack.up(['stargate']);
    const restartS = (Date.now() - t0) / 1000;
    const back = sc.watchComplete();
    await drain(sc);
    clean(
      await record(
        sc,
        'Stargate coordinator SIGKILL on the cluster (mid-consume, SINK=stargate)',
        `the consumer ${code === 0 ? 'retried and went on' : `retried, exited ${code}`}; the coordinator rejoined the three-node ring in ${restartS.toFixed(0)} s and the restarted consumer rewrote the uncommitted batches`,
        back,
      ),
    );
  });
});
