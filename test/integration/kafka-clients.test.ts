// The transport's contract, held by both Kafka clients against the real broker: one transaction
// per file, read_committed consumption that never shows an aborted file, the Java-compatible
// partitioner, headers, committed offsets, whole-topic reads, following, and the error classes.
// The independent reader and the aborted transaction come from kafkajs' own API, not the transport.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { RapflowError } from '../../src/errors.js';
import { kafkaTransport } from '../../src/transport/index.js';
import { partitionFor } from '../../src/transport/partition.js';
import { KAFKA_CLIENTS, type InMessageLike, type KafkaTransport, type OutRecord } from '../../src/transport/types.js';
import { config, dropTopics, uniqueName } from './stack.js';

const prefix = `${uniqueName('kclients')}.`;
const kafkajs = new Kafka({ clientId: 'kclients-test', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });

afterAll(() => dropTopics(prefix));

/** Runs a batch consumer until `want` messages arrived (or 30 s passed), then stops it. */
async function consumeAll(t: KafkaTransport, topics: string[], group: string, want: number): Promise<InMessageLike[]> {
  const got: InMessageLike[] = [];
  let enough: () => void = () => {};
  const reached = new Promise<void>((resolve) => (enough = resolve));
  const consumer = await t.consumeBatches(topics, group, (messages) => {
    got.push(...messages);
    if (got.length >= want) enough();
    return Promise.resolve();
  });
  await Promise.race([reached, consumer.done, new Promise((r) => setTimeout(r, 30_000))]);
  await consumer.stop();
  return got;
}

describe.each(KAFKA_CLIENTS)('the Kafka transport over %s', (client) => {
  const t = kafkaTransport({ brokers: config.kafka.brokers, clientId: `kclients-${client}` }, client);
  const many = `${prefix}${client}.many`;
  const one = `${prefix}${client}.one`;
  const records = (n: number, tag: string): OutRecord[] =>
    Array.from({ length: n }, (_, i) => ({ topic: i % 4 === 0 ? one : many, key: `${tag}-key-${i}`, value: Buffer.from(`value ${i} ✓`), headers: { 'rapflow.record.index': String(i), 'rapflow.note': 'ünïcode' } }));

  beforeAll(async () => {
    const created = await t.ensureTopics([
      { name: many, partitions: 3, config: { 'retention.ms': '3600000' } },
      { name: one, partitions: 1, config: {} },
    ]);
    expect(created.sort()).toEqual([many, one].sort());
    expect(await t.ensureTopics([{ name: one, partitions: 1, config: {} }])).toEqual([]);
  });

  it('writes a file in one transaction, on the partitions kafkajs and the Java client choose, and reads it back read_committed with its headers', async () => {
    expect(await t.partitionCounts([many, one])).toEqual(new Map([[many, 3], [one, 1]]));
    const producer = await t.transactionalProducer(uniqueName(`kclients-${client}`), [many, one]);
    expect(producer.partitionsByTopic()).toEqual({ [many]: 3, [one]: 1 });
    const file = records(40, 'a');
    const last = await producer.sendAtomically(file);

    // An aborted transaction on the same topics, made with kafkajs' own API: never consumed.
    const raw = kafkajs.producer({ transactionalId: uniqueName('kclients-abort'), idempotent: true, maxInFlightRequests: 1 });
    await raw.connect();
    const tx = await raw.transaction();
    await tx.send({ topic: many, messages: [{ key: 'aborted', value: 'never seen' }] });
    await tx.abort();
    await raw.disconnect();
    // And a second committed file after it, so the consumer must read past the aborted one.
    await producer.sendAtomically(records(8, 'b'));
    await producer.close();

    const got = await consumeAll(t, [many, one], uniqueName(`kclients-${client}`), 48);
    expect(got.map((m) => m.key?.toString())).not.toContain('aborted');
    expect(got).toHaveLength(48);
    for (const m of got) {
      const key = m.key!.toString();
      expect(m.partition, key).toBe(partitionFor(key, m.topic === many ? 3 : 1));
      expect(m.headers['rapflow.note']).toBe('ünïcode');
    }
    const a0 = got.find((m) => m.key?.toString() === 'a-key-1')!;
    expect(a0.value!.toString()).toBe('value 1 ✓');
    expect(a0.headers['rapflow.record.index']).toBe('1');
    // The manifest's last offsets: the highest offset of each partition the first file wrote.
    for (const [topic, parts] of Object.entries(last)) {
      for (const [p, offset] of Object.entries(parts)) {
        const ofFile = got.filter((m) => m.topic === topic && m.partition === Number(p) && m.key!.toString().startsWith('a-'));
        expect(ofFile.at(-1)!.offset, `${topic}/${p}`).toBe(offset);
      }
    }
  });

  it('lets a rerun take over its transactional id, after a clean close and after a producer that left its transaction open', async () => {
    // A retried split reuses the file's transactional id: the new producer must fence the old one
    // and commit, never be fenced itself (@platformatic/kafka 2.12.1 was, until rapflow asked it
    // for a new producer id rather than its default "id 0, epoch 0").
    const topic = `${prefix}${client}.rerun`;
    await t.ensureTopics([{ name: topic, partitions: 1, config: {} }]);
    const id = uniqueName(`kclients-${client}-rerun`);
    const rec = (key: string) => [{ topic, key, value: Buffer.from(key), headers: {} }];
    const first = await t.transactionalProducer(id, [topic]);
    await first.sendAtomically(rec('first'));
    await first.close();
    const second = await t.transactionalProducer(id, [topic]);
    await second.sendAtomically(rec('second'));
    await second.close();
    // A producer that died mid-file: its transaction is still open when the rerun starts.
    const zombie = kafkajs.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1 });
    await zombie.connect();
    const open = await zombie.transaction();
    await open.send({ topic, messages: [{ key: 'zombie', value: 'never committed' }] });
    const third = await t.transactionalProducer(id, [topic]);
    await third.sendAtomically(rec('third'));
    await third.close();
    await zombie.disconnect();
    const got = await consumeAll(t, [topic], uniqueName(`kclients-${client}-rerun`), 3);
    expect(got.map((m) => m.key?.toString())).toEqual(['first', 'second', 'third']);
  });

  it('commits after the handler, so the group resumes where it stopped, and reports its committed offsets', async () => {
    const topic = `${prefix}${client}.resume`;
    await t.ensureTopics([{ name: topic, partitions: 1, config: {} }]);
    const producer = await t.transactionalProducer(uniqueName(`kclients-${client}`), [topic]);
    await producer.sendAtomically(Array.from({ length: 5 }, (_, i) => ({ topic, key: `r${i}`, value: Buffer.from([i]), headers: {} })));
    const group = uniqueName(`kclients-${client}-group`);
    expect((await t.committedOffsets(group, [topic]))[topic]).toEqual({ 0: '-1' });
    const first = await consumeAll(t, [topic], group, 5);
    expect(first).toHaveLength(5);
    expect((await t.committedOffsets(group, [topic]))[topic]).toEqual({ 0: String(Number(first.at(-1)!.offset) + 1) });
    await producer.sendAtomically([{ topic, key: 'r5', value: Buffer.from([5]), headers: {} }]);
    await producer.close();
    const second = await consumeAll(t, [topic], group, 1);
    expect(second.map((m) => m.key?.toString())).toEqual(['r5']);
  });

  it('fetches and decodes the next batches while one is written, commits nothing past a batch not yet written, and a stop finishes the batch in hand', async () => {
    const topic = `${prefix}${client}.overlap`;
    await t.ensureTopics([{ name: topic, partitions: 1, config: {} }]);
    const producer = await t.transactionalProducer(uniqueName(`kclients-${client}`), [topic]);
    await producer.sendAtomically(Array.from({ length: 50 }, (_, i) => ({ topic, key: `o${i}`, value: Buffer.from([i]), headers: {} })));
    const group = uniqueName(`kclients-${client}-overlap`);
    const prepared: string[] = [];
    const written: string[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const consumer = await t.consumeBatches(
      [topic],
      group,
      (messages) => {
        const first = messages[0]!.offset;
        prepared.push(first);
        return Promise.resolve(async () => {
          if (first === '0') await held; // the first batch's write waits until the test lets it go
          written.push(first);
        });
      },
      { maxBatch: 10, maxInFlight: 3 },
    );
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 100));
    };
    await until(() => prepared.length >= 3);
    // Three batches in hand (the bound), the first still being written: nothing written after it, nothing committed.
    expect(prepared.slice(0, 3)).toEqual(['0', '10', '20']);
    expect(written).toEqual([]);
    expect((await t.committedOffsets(group, [topic]))[topic]).toEqual({ 0: '-1' });
    // A stop while the write is held waits for it, and commits what was written before leaving.
    const stopped = consumer.stop();
    await new Promise((r) => setTimeout(r, 300));
    release();
    await stopped;
    expect(written.slice(0, 3)).toEqual(['0', '10', '20']);
    const committed = Number((await t.committedOffsets(group, [topic]))[topic]![0]);
    const lastWritten = Math.max(...written.map(Number));
    expect(committed).toBe(lastWritten + 10);
    expect(committed).toBeLessThan(50); // the batch waiting for room when the stop came was not taken
    // The rest is delivered again from there, none lost.
    const rest = await consumeAll(t, [topic], group, 50 - committed);
    expect(rest.map((m) => Number(m.offset))).toEqual(Array.from({ length: 50 - committed }, (_, i) => committed + i));
    await producer.close();
  });

  it('stops with the handler error and leaves that batch uncommitted', async () => {
    const topic = `${prefix}${client}.fail`;
    await t.ensureTopics([{ name: topic, partitions: 1, config: {} }]);
    const producer = await t.transactionalProducer(uniqueName(`kclients-${client}`), [topic]);
    await producer.sendAtomically([{ topic, key: 'x', value: Buffer.from('x'), headers: {} }]);
    await producer.close();
    const group = uniqueName(`kclients-${client}-fail`);
    const consumer = await t.consumeBatches([topic], group, () => Promise.reject(new RapflowError('SINK_UNAVAILABLE', 'the sink is away')));
    await expect(consumer.done).rejects.toMatchObject({ code: 'SINK_UNAVAILABLE' });
    expect((await t.committedOffsets(group, [topic]))[topic]).toEqual({ 0: '-1' });
  });

  it('reads a whole topic written without transactions (dead letters), keyed on the Java-compatible partitioner', async () => {
    const topic = `${prefix}${client}.dlq`;
    await t.ensureTopics([{ name: topic, partitions: 3, config: {} }]);
    const sender = await t.producer();
    const keys = Array.from({ length: 12 }, (_, i) => `dead-${i}`);
    for (const k of keys) await sender.send(topic, { key: Buffer.from(k), value: Buffer.from(`v-${k}`), headers: { 'rapflow.dlq.code': 'RECORD_INVALID' } });
    await sender.send(topic, { key: null, value: Buffer.from('no key'), headers: {} });
    await sender.close();
    const all = await t.readToEnd(topic);
    expect(all).toHaveLength(13);
    for (const m of all.filter((x) => x.key)) {
      expect(m.partition).toBe(partitionFor(m.key!.toString(), 3));
      expect(m.headers['rapflow.dlq.code']).toBe('RECORD_INVALID');
    }
  });

  it('follows a topic from its newest offset, one message at a time', async () => {
    const topic = `${prefix}${client}.events`;
    await t.ensureTopics([{ name: topic, partitions: 1, config: {} }]);
    const sender = await t.producer();
    await sender.send(topic, { key: null, value: Buffer.from('before'), headers: {} });
    const seen: string[] = [];
    let ready: () => void = () => {};
    const joined = new Promise<void>((resolve) => (ready = resolve));
    const follower = await t.follow(topic, uniqueName(`kclients-${client}-follow`), (v) => (seen.push(v!.toString()), Promise.resolve()), () => ready());
    await joined;
    // Give the new member its first fetch position (the newest offset) before sending.
    await new Promise((r) => setTimeout(r, 1_500));
    await sender.send(topic, { key: null, value: Buffer.from('after'), headers: {} });
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    await follower.stop();
    await sender.close();
    expect(seen).toEqual(['after']);
  });

  it('names a broker that is away KAFKA_UNAVAILABLE and a missing topic CONFIG_INVALID', async () => {
    const away = kafkaTransport({ brokers: ['127.0.0.1:1'], clientId: 'kclients-away' }, client);
    await expect(away.ping()).rejects.toThrow();
    await expect(away.partitionCounts([many])).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    const sender = await t.producer();
    try {
      await expect(sender.send(`${prefix}${client}.missing`, { key: null, value: Buffer.from('x'), headers: {} })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    } finally {
      await sender.close();
    }
    await expect(t.ping()).resolves.toBeUndefined();
  }, 60_000);
});
