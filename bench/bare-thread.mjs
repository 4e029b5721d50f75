// The bare clients of the benchmarks, each on a thread of its own (started by bench/bare.ts): the
// service's own client library and nothing of rapflow, sending data prepared before the clock
// starts. A thread has its own heap and event loop, so a baseline neither shares an event loop
// with the other one nor pays for the bench's large heap in its garbage collections.
// Plain JavaScript, because worker threads do not get the TypeScript loader the benchmarks run under.
import { Buffer } from 'node:buffer';
import { parentPort, workerData } from 'node:worker_threads';
import cassandra from 'cassandra-driver';
import kafkajs from 'kafkajs';
import { compatibilityPartitioner, Producer, stringSerializer } from '@platformatic/kafka';
// A thread reports its own warnings: kafkajs' harmless TimeoutNegativeWarning is dropped here
// too (the benches build dist/ before they run).
import { dropKafkajsTimerWarnings } from '../dist/runtime/warnings.js';

dropKafkajsTimerWarnings();

const { CompressionTypes, Kafka, logLevel, Partitioners } = kafkajs;

/**
 * A kafkajs transactional producer sending already-encoded records, one transaction per file,
 * in the sends given (planned as rapflow's split plans its own).
 */
async function producer({ client, brokers, transactionalId, compression, files }) {
  if (client === 'platformatic') return platformaticProducer({ brokers, transactionalId, compression, files });
  const kafka = new Kafka({ clientId: 'bench-baseline', brokers, logLevel: logLevel.NOTHING });
  const p = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  // Values cross the thread boundary as Uint8Arrays; kafkajs wants Buffers (views, no copies).
  for (const file of files) for (const send of file) for (const r of send) r.value = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
  return {
    run: async () => {
      for (const file of files) {
        const tx = await p.transaction();
        for (const send of file) {
          const byTopic = new Map();
          for (const r of send) {
            let list = byTopic.get(r.topic);
            if (!list) byTopic.set(r.topic, (list = []));
            list.push({ key: r.key, value: r.value, headers: r.headers });
          }
          await tx.sendBatch({ acks: -1, compression: compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        }
        await tx.commit();
      }
    },
    close: () => p.disconnect(),
  };
}

/** The same with @platformatic/kafka: a transactional producer, one transaction per file. */
async function platformaticProducer({ brokers, transactionalId, compression, files }) {
  const p = new Producer({
    clientId: 'bench-baseline',
    bootstrapBrokers: brokers,
    transactionalId,
    idempotent: true,
    acks: -1,
    timeout: 30_000,
    partitioner: compatibilityPartitioner,
    compression,
    serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
  });
  for (const file of files) for (const send of file) for (const r of send) r.value = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
  // Connected (metadata of the topics) before the clock starts; like rapflow's producer of this
  // client, it gets its transactional producer id at the first transaction.
  await p.metadata({ topics: [...new Set(files.flat(2).map((r) => r.topic))] });
  return {
    run: async () => {
      for (const file of files) {
        const tx = await p.beginTransaction();
        for (const send of file) await tx.send({ messages: send, acks: -1, compression });
        await tx.commit();
      }
    },
    close: () => p.close(),
  };
}

/**
 * The Cassandra driver sending prepared INSERTs: `rows`, its own bulk writer (executeConcurrent,
 * one INSERT per row); `batches`, the requests as given (an unlogged batch per partition).
 */
async function writer({ settings, mode, requests, inFlight }) {
  const [host, port] = settings.contactPoint.split(':');
  const client = new cassandra.Client({
    contactPoints: [host],
    protocolOptions: { port: Number(port ?? 9042) },
    localDataCenter: settings.datacenter,
    authProvider: new cassandra.auth.PlainTextAuthProvider(settings.username, settings.password),
    queryOptions: { consistency: cassandra.types.consistencies.localQuorum, prepare: true },
  });
  await client.connect();
  const run = async () => {
    if (mode === 'rows') {
      const byQuery = new Map();
      for (const r of requests.flat()) {
        const list = byQuery.get(r.query) ?? [];
        list.push(r.params);
        byQuery.set(r.query, list);
      }
      for (const [query, params] of byQuery) await cassandra.concurrent.executeConcurrent(client, query, params, { concurrencyLevel: inFlight, raiseOnFirstError: true });
      return;
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < requests.length) {
          const r = requests[next++];
          await (r.length === 1 ? client.execute(r[0].query, r[0].params, { prepare: true }) : client.batch(r, { prepare: true, logged: false }));
        }
      }),
    );
  };
  return { run, close: () => client.shutdown() };
}

const client = await (workerData.kind === 'producer' ? producer(workerData) : writer(workerData));
parentPort.postMessage('ready');
await new Promise((resolve) => parentPort.once('message', resolve));
const t0 = process.hrtime.bigint();
await client.run();
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
await client.close();
parentPort.postMessage(seconds);
