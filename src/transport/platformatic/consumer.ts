// Consumers over @platformatic/kafka: the batch consumer (consume), one-at-a-time (split
// --follow), and a whole-topic read (dead letters for verify and the report). Its consumer is a
// stream of messages with manual commits; heartbeats run on a timer of their own.
import { Consumer, FetchIsolationLevels, ProtocolError, stringDeserializer, type Message, type MessagesStream } from '@platformatic/kafka';
import { RapflowError } from '../../errors.js';
import { causes } from '../errors.js';
import { runConsumer } from '../running.js';
import { BatchFlow, consumerTuning } from '../flow.js';
import type { BatchHandler, ConsumerTuning, InMessageLike, KafkaSettings, RunningConsumer } from '../types.js';
import { deleteGroup, topicEnds } from './admin.js';
import { baseOptions } from './client.js';
import { kafkaError } from './errors.js';

type Msg = Message<Buffer, Buffer, string, string>;
type Stream = MessagesStream<Buffer, Buffer, string, string>;

const deserializers = { headerKey: stringDeserializer, headerValue: stringDeserializer };

/** The pipeline's view of a message; headers become a plain object only when asked for (dead letters). */
function inMessage(m: Msg): InMessageLike {
  let headers: Record<string, string> | undefined;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset.toString(),
    key: m.key ?? null,
    value: m.value ?? null,
    get headers() {
      return (headers ??= Object.fromEntries(m.headers));
    },
    header: (name) => m.headers.get(name),
  };
}

function consumerOf(settings: KafkaSettings, groupId: string): Consumer<Buffer, Buffer, string, string> {
  return new Consumer<Buffer, Buffer, string, string>({
    ...baseOptions(settings),
    groupId,
    autocommit: false,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTime: 500,
    deserializers,
  });
}

/**
 * A commit refused because the group rebalanced: the partition is someone else's now and they
 * start from the last commit, so the batch is delivered again (the upserts absorb it), not lost.
 */
function lostToRebalance(err: unknown): boolean {
  return causes(err).some((e) => e instanceof ProtocolError && (e.needsRejoin === true || e.rebalanceInProgress === true));
}

/**
 * Pulls what the stream holds (at least one message, at most `max`) and hands it on one
 * partition at a time, in order, until the stream closes or `each` says stop.
 */
async function drain(stream: Stream, max: number, each: (messages: Msg[]) => Promise<boolean>): Promise<void> {
  for await (const first of stream as AsyncIterable<Msg>) {
    const batch: Msg[] = [first];
    for (let m: Msg | null; batch.length < max && (m = stream.read() as Msg | null) !== null; ) batch.push(m);
    const byPartition = new Map<string, Msg[]>();
    for (const m of batch) {
      const k = `${m.topic}/${m.partition}`;
      let list = byPartition.get(k);
      if (!list) byPartition.set(k, (list = []));
      list.push(m);
    }
    for (const messages of byPartition.values()) if (!(await each(messages))) return;
  }
}

interface LoopState {
  stopping: boolean;
  stream?: Stream;
  loop?: Promise<void>;
  /** The batch consumer's batches in hand. */
  flow?: BatchFlow;
}

function lifeOf(consumer: Consumer<Buffer, Buffer, string, string>, state: LoopState) {
  return {
    connect: () => Promise.resolve(),
    // The batches in hand are written and committed before the stream closes (their commits go
    // through the consumer, still in the group).
    stop: async () => {
      state.stopping = true;
      state.flow?.close();
      await state.flow?.idle();
      await state.stream?.close().catch(() => undefined);
      await state.loop;
    },
    // The stream first: closing the consumer with a stream still open waited forever (seen when
    // the handler failed and nothing had stopped the stream).
    disconnect: async () => {
      await state.stream?.close().catch(() => undefined);
      await consumer.close(true).catch(() => undefined);
    },
  };
}

export function consumeBatches(settings: KafkaSettings, topics: string[], groupId: string, handle: BatchHandler, tuning?: Partial<ConsumerTuning>): Promise<RunningConsumer> {
  const t = consumerTuning(tuning);
  const consumer = consumerOf(settings, groupId);
  const state: LoopState = { stopping: false };
  // The lag metric: the partitions' last stable offsets (listed every few seconds: the fetch
  // responses' are not handed to the stream's reader) against the stream's next fetch position.
  const latest = new Map<string, bigint>();
  const listLatest = () =>
    consumer
      .listOffsets({ topics, isolationLevel: FetchIsolationLevels.READ_COMMITTED })
      .then((offsets) => offsets.forEach((perPartition, topic) => perPartition.forEach((o, p) => latest.set(`${topic}:${p}`, o))))
      .catch(() => undefined); // a metric: the next listing may succeed
  let lister: NodeJS.Timeout | undefined;
  return runConsumer(
    lifeOf(consumer, state),
    async (fail) => {
      // Fetches bounded in bytes (the client's default, 50 MB a fetch, made the consumer's memory).
      const stream = await consumer.consume({
        topics,
        mode: 'committed',
        fallbackMode: 'earliest',
        autocommit: false,
        maxBytes: t.fetchMaxBytes,
        maxBytesPerPartition: t.partitionMaxBytes,
      });
      state.stream = stream;
      await listLatest();
      lister = setInterval(() => void listLatest(), 5_000).unref();
      const flow = (state.flow = new BatchFlow({ maxInFlight: t.maxInFlight, fail }));
      state.loop = drain(stream, t.maxBatch, (messages) => {
        if (state.stopping) return Promise.resolve(false);
        const last = messages.at(-1)!;
        const key = `${last.topic}:${last.partition}`;
        const end = latest.get(key);
        const fetched = stream.offsetsToFetch.get(key);
        const lag = end === undefined || fetched === undefined ? undefined : Math.max(0, Number(end - fetched));
        return flow.push({
          key,
          prepare: () => handle(messages.map(inMessage), () => Promise.resolve(), lag),
          commit: async () => {
            try {
              await last.commit();
            } catch (err) {
              if (!lostToRebalance(err)) throw kafkaError(err, `committing ${last.topic}[${last.partition}]@${last.offset}`);
            }
          },
        });
      })
        .catch((err: unknown) => {
          if (!state.stopping) fail(kafkaError(err, 'consuming'));
        })
        .finally(() => clearInterval(lister));
    },
    (err) => kafkaError(err, 'starting the consumer'),
  );
}

export function follow(settings: KafkaSettings, topic: string, groupId: string, handle: (value: Buffer | null) => Promise<void>, onReady?: () => void): Promise<RunningConsumer> {
  const consumer = consumerOf(settings, groupId);
  const state: LoopState = { stopping: false };
  consumer.on('consumer:group:join', () => onReady?.());
  return runConsumer(
    lifeOf(consumer, state),
    async (fail) => {
      const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'latest', autocommit: false });
      state.stream = stream;
      state.loop = drain(stream, 1, async ([m]) => {
        if (state.stopping) return false;
        try {
          await handle(m!.value ?? null);
        } catch (err) {
          fail(err);
          return false;
        }
        await m!.commit();
        return true;
      }).catch((err: unknown) => {
        if (!state.stopping) fail(kafkaError(err, `following ${topic}`));
      });
    },
    (err) => kafkaError(err, `following ${topic}`),
  );
}

export async function readToEnd(settings: KafkaSettings, topic: string, timeoutMs = 30_000): Promise<InMessageLike[]> {
  const ends = await topicEnds(settings, topic);
  const pending = new Map(ends.filter((e) => e.high > e.low).map((e) => [e.partition, e.high]));
  const out: InMessageLike[] = [];
  if (pending.size === 0) return out;
  // A group is needed to fetch through a stream; it commits nothing and is deleted afterwards.
  const groupId = `rapflow-read-${process.pid}-${Date.now()}`;
  const consumer = consumerOf(settings, groupId);
  let stream: Stream | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    const s = stream;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RapflowError('KAFKA_UNAVAILABLE', `reading ${topic}: not at its end after ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const read = drain(s, 1_000, (messages) => {
      for (const m of messages) {
        const high = pending.get(m.partition);
        if (high === undefined || m.offset >= high) continue;
        out.push(inMessage(m));
        // The end: for a topic written without transactions (like rap.dlq) the high watermark follows the last record.
        if (m.offset + 1n >= high) pending.delete(m.partition);
      }
      return Promise.resolve(pending.size > 0);
    });
    await Promise.race([read, timeout]);
  } catch (err) {
    throw kafkaError(err, `reading ${topic}`);
  } finally {
    clearTimeout(timer);
    await stream?.close().catch(() => undefined);
    await consumer.close(true).catch(() => undefined);
    await deleteGroup(settings, groupId);
  }
  return out;
}
