// The fault matrix's harness: one known corpus per scenario, the pipeline's commands run as
// processes (as Argo and Kubernetes run them), faults injected into the real local stack, and
// the final tables compared with the corpus record by record.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSchemaSet, topicOf, type RecordName } from '../../src/codec/schemas.js';
import { DLQ_HEADER, HEADER } from '../../src/transport/topics.js';
import { generateCorpus } from '../../src/model/generate.js';
import { emptyRecordSet, type RecordSet } from '../../src/model/records.js';
import { recordsOf, validateFile } from '../../src/model/validate.js';
import { CqlSession } from '../../src/store/cql/session.js';
import { StargateReader } from '../../src/store/stargate/reader.js';
import { stargateOf } from '../../src/cli/adapters.js';
import { rapflow } from '../integration/cli.js';
import { config, dropBucket, dropKeyspace, dropTopics, readTopics, testStack, uniqueName } from '../integration/stack.js';

const set = loadSchemaSet('avro');
export const CORPUS = { songs: 120, seed: 11, linesPerSong: 20, songsPerFile: 12 };

export interface Outcome {
  /** Corpus records with no row (or no document, through Stargate), or a row that differs. */
  lost: number;
  /** Rows that are not in the corpus: a record stored twice under another key. */
  duplicated: number;
  /**
   * Records of one file version visible more than once to a read_committed reader of their topic
   * (same bucket, key, etag and record index): produced twice, which the idempotent writes absorb.
   */
  duplicatedInKafka: number;
  /** Dead letters beyond the first for the same source record. */
  duplicatedDeadLetters: number;
  /** Dead letters in all: on a corpus without poison, every one is a good record a fault made poison. */
  deadLetters: number;
  missing: string[];
}

export interface Proc {
  child: ChildProcess;
  exited: Promise<number>;
  output: () => string;
  /** Resolves when the output matches. */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function start(args: string[], env: Record<string, string>): Proc {
  const child = spawn('node', ['dist/cli/main.js', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (b: Buffer) => {
    out += b.toString();
    for (const w of [...waiters]) {
      if (!w.re.test(out)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number>((r) =>
    child.on('close', (c, signal) => {
      // RAPFLOW_FAULT_LOGS=<dir> keeps every process's output, for a row that failed after the fact.
      const keep = process.env.RAPFLOW_FAULT_LOGS;
      if (keep) {
        mkdirSync(keep, { recursive: true });
        writeFileSync(join(keep, `${Date.now()}-${args[0]}-${child.pid}.log`), out);
      }
      r(c ?? (signal === 'SIGKILL' ? 137 : 128));
    }),
  );
  return {
    child,
    exited,
    output: () => out,
    waitFor: (re, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(out)) return resolve();
        const timer = setTimeout(() => reject(new Error(`no ${re} within ${timeoutMs} ms; output:\n${out.slice(-2000)}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
      }),
  };
}

export class Scenario {
  readonly tmp = mkdtempSync(join(tmpdir(), 'rapflow-fault-'));
  readonly corpusDir = join(this.tmp, 'corpus');
  readonly env: Record<string, string>;
  readonly expected: RecordSet = emptyRecordSet();
  /** Restarts of supervised processes, as Kubernetes would count them. */
  restarts = 0;

  constructor(
    readonly name: string,
    extraEnv: Record<string, string> = {},
  ) {
    const id = uniqueName('f');
    this.env = {
      ...extraEnv,
      KAFKA_TOPIC_PREFIX: `${id}.`,
      S3_INBOX_BUCKET: id,
      CASSANDRA_KEYSPACE: id.replace(/-/g, '_'),
      KAFKA_CONSUMER_GROUP: `${id}-consume`,
      // One run id for every attempt: a retried Argo step keeps the workflow's id, and with it its claims and transactional id.
      RUN_ID: `${id}-run`,
      LOG_LEVEL: 'info',
    };
  }

  /** Generated corpus (plus extra files), uploaded; keyspace and topics created. */
  async prepare(extra: Record<string, string> = {}): Promise<void> {
    mkdirSync(this.corpusDir, { recursive: true });
    for (const f of generateCorpus(CORPUS)) writeFileSync(join(this.corpusDir, f.name), f.content);
    for (const [name, content] of Object.entries(extra)) writeFileSync(join(this.corpusDir, name), content);
    for (const f of readdirSync(this.corpusDir)) {
      const v = validateFile(f, readFileSync(join(this.corpusDir, f)), set.types);
      if (v.problems.length > 0) continue; // invalid on purpose: expected in quarantine, not in the tables
      const r = recordsOf(v);
      this.expected.songs.push(...r.songs);
      this.expected.lines.push(...r.lines);
      this.expected.artists.push(...r.artists);
      this.expected.meetups.push(...r.meetups);
    }
    this.expected.artists = [...new Map(this.expected.artists.map((a) => [a.id, a])).values()];
    for (const args of [['db', 'init'], ['topics', 'create'], ['upload', this.corpusDir]]) {
      const r = await rapflow(args, this.env);
      if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
    }
  }

  discover(): Promise<number> {
    return rapflow(['discover', '--out', join(this.tmp, 'todo.json')], this.env).then((r) => r.code);
  }

  split(extraEnv: Record<string, string> = {}, list = 'todo.json'): Proc {
    return start(['split', '--from-list', join(this.tmp, list), '--manifest', join(this.tmp, `manifest-${Date.now()}.json`)], { ...this.env, ...extraEnv });
  }

  /** Splits discover's list in two (`todo-a.json`, `todo-b.json`): a run in two parts. */
  halves(): [string, string] {
    const todo = JSON.parse(readFileSync(join(this.tmp, 'todo.json'), 'utf8')) as unknown[];
    const half = Math.ceil(todo.length / 2);
    writeFileSync(join(this.tmp, 'todo-a.json'), JSON.stringify(todo.slice(0, half)));
    writeFileSync(join(this.tmp, 'todo-b.json'), JSON.stringify(todo.slice(half)));
    return ['todo-a.json', 'todo-b.json'];
  }

  consume(extraEnv: Record<string, string> = {}, idleExit = 6): Proc {
    return start(['consume', '--idle-exit', String(idleExit)], { ...this.env, HTTP_PORT: '0', ...extraEnv });
  }

  /** Runs a command until it exits 0, restarting it after a failure (a Deployment's or Argo's retry), within a deadline. */
  async supervise(make: () => Proc, deadlineMs = 180_000): Promise<Proc> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const p = make();
      const code = await p.exited;
      if (code === 0) return p;
      if (Date.now() > end) throw new Error(`still failing after ${deadlineMs} ms (exit ${code}):\n${p.output().slice(-2000)}`);
      this.restarts++;
      await sleep(2_000);
    }
  }

  /** Rows now in the keyspace compared with the corpus, and what Kafka and the dead-letter topic hold twice. */
  async outcome(): Promise<Outcome> {
    return { ...(await this.tables()), ...(await this.kafkaDuplicates()) };
  }

  /** Rows now in the keyspace compared with the corpus, record by record. */
  async tables(): Promise<Pick<Outcome, 'lost' | 'duplicated' | 'missing'>> {
    const ks = this.env.CASSANDRA_KEYSPACE!;
    const cql = new CqlSession({ ...config.cassandra, keyspace: ks });
    await cql.connect();
    try {
      const rows = async (q: string) => (await cql.execute(q, [], { fetchSize: 20_000 })).rows;
      const str = (v: unknown) => String(v);
      const lines = new Map((await rows(`SELECT id, text FROM ${ks}.lyric_lines`)).map((r) => [str(r.get('id')), r.get('text') as string]));
      const songs = new Map((await rows(`SELECT id, title FROM ${ks}.songs`)).map((r) => [str(r.get('id')), r.get('title') as string]));
      const artists = new Map((await rows(`SELECT id, name FROM ${ks}.artists`)).map((r) => [str(r.get('id')), r.get('name') as string]));
      const missing: string[] = [];
      for (const l of this.expected.lines) if (lines.get(l.id) !== l.text) missing.push(`line ${l.id}`);
      for (const s of this.expected.songs) if (songs.get(s.id) !== s.title) missing.push(`song ${s.id}`);
      for (const a of this.expected.artists) if (artists.get(a.id) !== a.name) missing.push(`artist ${a.id}`);
      const known = new Set([...this.expected.lines, ...this.expected.songs, ...this.expected.artists].map((r) => r.id));
      const extra = [...lines.keys(), ...songs.keys(), ...artists.keys()].filter((id) => !known.has(id)).length;
      if (this.env.SINK === 'stargate') {
        // The Stargate sink also writes each song and artist whole as a document: one missing is a record lost.
        const docs = new StargateReader(stargateOf(config), ks);
        const songDocs = await docs.existingDocuments('Song', this.expected.songs.map((s) => s.id));
        const artistDocs = await docs.existingDocuments('Artist', this.expected.artists.map((a) => a.id));
        for (const s of this.expected.songs) if (!songDocs.has(s.id)) missing.push(`song document ${s.id}`);
        for (const a of this.expected.artists) if (!artistDocs.has(a.id)) missing.push(`artist document ${a.id}`);
      }
      return { lost: missing.length, duplicated: extra, missing: missing.slice(0, 5) };
    } finally {
      await cql.close();
    }
  }

  /** Starts polling the tables at once; resolves with the seconds until they held the whole corpus (NaN past the deadline). */
  watchComplete(deadlineMs = 240_000): Promise<number> {
    const t0 = Date.now();
    return (async () => {
      while (Date.now() - t0 < deadlineMs) {
        // A service still coming back (Stargate, for the documents) is not complete yet.
        if ((await this.tables().catch(() => undefined))?.lost === 0) return (Date.now() - t0) / 1000;
        await sleep(500);
      }
      return Number.NaN;
    })();
  }

  /**
   * Every committed record of the rap topics and the dead-letter topic, read back whole
   * (read_committed): records of one file version seen more than once, by their source headers,
   * and dead letters beyond the first for one source record.
   */
  async kafkaDuplicates(): Promise<Pick<Outcome, 'duplicatedInKafka' | 'duplicatedDeadLetters' | 'deadLetters'>> {
    const prefix = this.env.KAFKA_TOPIC_PREFIX;
    const source = (h: Record<string, string>) => [h[HEADER.sourceBucket], h[HEADER.sourceKey], h[HEADER.sourceEtag], h[HEADER.recordIndex]].join('\n');
    const beyondFirst = (ids: string[]) => {
      const seen = new Map<string, number>();
      for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
      return [...seen.values()].reduce((n, c) => n + c - 1, 0);
    };
    const topics = (['Song', 'LyricLine', 'Artist', 'Meetup'] as RecordName[]).map((n) => topicOf(n, prefix));
    const records = await readTopics(topics);
    const letters = await readTopics([topicOf('DeadLetter', prefix)], 1_000);
    return {
      duplicatedInKafka: beyondFirst(records.map((r) => `${r.topic}\n${source(r.headers)}\n${r.key}`)),
      // A poison record from outside split has no source headers: its topic and key tell it apart.
      duplicatedDeadLetters: beyondFirst(letters.map((r) => `${r.headers[DLQ_HEADER.sourceTopic]}\n${source(r.headers)}\n${r.key}`)),
      deadLetters: letters.length,
    };
  }

  async cleanup(): Promise<void> {
    await dropTopics(this.env.KAFKA_TOPIC_PREFIX!);
    await dropKeyspace(this.env.CASSANDRA_KEYSPACE!);
    await dropBucket(this.env.S3_INBOX_BUCKET!);
  }
}

export const stack = testStack();

/** A TCP proxy that holds every chunk for `delayMs` in each direction (order kept): a slow network to a service. */
export async function delayProxy(target: { host: string; port: number }, delayMs: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const pipeDelayed = (from: Socket, to: Socket) => {
    let ready = Date.now();
    from.on('data', (chunk) => {
      ready = Math.max(ready, Date.now() + delayMs);
      setTimeout(() => to.writable && to.write(chunk), ready - Date.now());
    });
    from.on('close', () => setTimeout(() => to.destroy(), Math.max(0, ready - Date.now())));
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
