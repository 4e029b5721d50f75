// bench/stargate: the Stargate sink (rows through REST v2, documents through the Document API's
// /batch) against a bare client making the same HTTP calls to the same coordinator, and the CQL
// sink on the same records, in one run. Prints the figures and writes its section of
// docs/performance.md.
//
// The bare client is node:http with a keep-alive agent, the same bodies serialised before the
// clock, the same concurrency, and no mapping, classification or id checks: what any client must
// pay to write these rows and documents through Stargate.
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { loadSchemaSet, type RecordName } from '../src/codec/schemas.js';
import { generateCorpus } from '../src/model/generate.js';
import { recordsOf, validateFile } from '../src/model/validate.js';
import type { Decoded } from '../src/pipeline/consume.js';
import { StargateClient } from '../src/store/stargate/client.js';
import { COLLECTIONS, ensureStargateSchema } from '../src/store/stargate/schema.js';
import { DEFAULT_STARGATE_LIMITS, StargateSink } from '../src/store/stargate/writer.js';
import { CqlSession } from '../src/store/cql/session.js';
import { CqlSink } from '../src/store/cql/writer.js';
import { rowsOfRecords, TABLES } from '../src/store/tables.js';
import { endpointsFrom, Stack } from '../src/stack/index.js';
import { processCpuSeconds, rssMb } from './procs.js';
import { config, median, stackUp, table, timed, unique, writeSection } from './lib.js';

const SONGS = Number(process.env.BENCH_SONGS ?? 200);
const LINES_PER_SONG = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Rows and documents are judged each: a combined ratio let documents at 0.71 pass beside rows at 0.99. */
const TARGET = 0.9;

type Call = { method: 'POST'; path: string; body: string };

/** The bare client: node:http, keep-alive, pre-serialised bodies, `concurrency` calls at a time. */
async function bare(calls: Call[], concurrency: number, token: string, agent: Agent): Promise<void> {
  const url = new URL(config.read.stargateUrl);
  let next = 0;
  const one = (c: Call) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, method: c.method, path: c.path, agent, headers: { 'content-type': 'application/json', 'x-cassandra-token': token, 'content-length': Buffer.byteLength(c.body) } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 201 || res.statusCode === 202 ? resolve() : reject(new Error(`${c.path}: HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(c.body);
    });
  const worker = async () => {
    while (next < calls.length) await one(calls[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, calls.length) }, worker));
}

async function main(): Promise<void> {
  await stackUp();
  const stack = new Stack(endpointsFrom(config), () => {}, { home: config.stack.home, state: config.stack.state, env: process.env, nodes: config.stack.nodes });
  const [sg] = await stack.status(['stargate']);
  if (sg?.state !== 'up') {
    console.error(`bench/stargate NOT RUN: the local stack has no Stargate coordinator (${sg?.state ?? 'unknown'}). \`rapflow stack status\` says how to install one.`);
    process.exit(2);
  }
  const sgPid = sg.pid!;
  const cassandraPid = (await stack.status(['cassandra']))[0]!.pid!;

  // The records, as consume hands them to the sink.
  const set = loadSchemaSet('avro');
  const records: Decoded[] = [];
  for (const f of generateCorpus({ songs: SONGS, seed: 7, linesPerSong: LINES_PER_SONG, songsPerFile: 20 })) {
    const r = recordsOf(validateFile(f.name, Buffer.from(f.content), set.types));
    const add = (name: RecordName, xs: object[]) => xs.forEach((x) => records.push({ name, record: x as Record<string, unknown> }));
    add('Artist', r.artists);
    add('Song', r.songs);
    add('LyricLine', r.lines);
    add('Meetup', r.meetups);
  }
  const { rows } = rowsOfRecords(records);
  const docs = records.filter((r) => r.name in COLLECTIONS);
  console.log(`corpus: ${records.length} records -> ${rows.length} rows and ${docs.length} documents; ${ROUNDS} rounds; ${cpus().length} cores (${cpus()[0]?.model ?? '?'})`);

  const client = new StargateClient({ restUrl: config.read.stargateUrl, authUrl: config.read.stargateAuthUrl, username: config.cassandra.username, password: config.cassandra.password });
  const keyspaces: string[] = [];
  const freshKeyspace = async () => {
    const ks = unique('bench_sg', '_');
    keyspaces.push(ks);
    await ensureStargateSchema(client, ks, 1);
    return ks;
  };
  // The bare client's token, from the auth API.
  const login = await fetch(`${config.read.stargateAuthUrl}/v1/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: config.cassandra.username, password: config.cassandra.password }) });
  const auth = ((await login.json()) as { authToken: string }).authToken;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const L = DEFAULT_STARGATE_LIMITS;

  const cpu = () => ({ stargate: processCpuSeconds(sgPid), cassandra: processCpuSeconds(cassandraPid), self: (process.cpuUsage().user + process.cpuUsage().system) / 1e6 });
  const results: Record<string, number[]> = { sinkRows: [], bareRows: [], sinkDocs: [], bareDocs: [], sinkBoth: [], bareBoth: [], cqlRows: [] };
  const cpuOf: Record<string, { stargate: number; cassandra: number; self: number }[]> = { sink: [], bare: [] };

  // Bare: the same row POSTs and document batches, into a fresh keyspace each round.
  const bareRound = async () => {
    {
      const ks = await freshKeyspace();
      const rowCalls: Call[] = rows.map((r) => ({ method: 'POST', path: `/v2/keyspaces/${ks}/${r.table}`, body: JSON.stringify(r.values) }));
      const docCalls: Call[] = [];
      for (const [name, c] of Object.entries(COLLECTIONS)) {
        const of = docs.filter((d) => d.name === name).map((d) => d.record);
        for (let i = 0; i < of.length; i += L.docBatch) docCalls.push({ method: 'POST', path: `/v2/namespaces/${ks}/collections/${c}/batch?id-path=id`, body: JSON.stringify(of.slice(i, i + L.docBatch)) });
      }
      const c0 = cpu();
      const r = await timed(() => bare(rowCalls, L.rowConcurrency, auth, agent));
      const d = await timed(() => bare(docCalls, L.docConcurrency, auth, agent));
      const c1 = cpu();
      results.bareRows!.push(rows.length / r.seconds);
      results.bareDocs!.push(docs.length / d.seconds);
      results.bareBoth!.push(records.length / (r.seconds + d.seconds));
      cpuOf.bare!.push({ stargate: c1.stargate - c0.stargate, cassandra: c1.cassandra - c0.cassandra, self: c1.self - c0.self });
    }
  };
  // The sink: its rows half and documents half timed apart, then the whole write (both at once, as consume runs it).
  const sinkRound = async (round: number) => {
    {
      const ks = await freshKeyspace();
      const sink = new StargateSink(client, ks);
      const c0 = cpu();
      const r = await timed(() => sink.writeRows(rows));
      const d = await timed(() => sink.writeDocuments(records));
      const c1 = cpu();
      if (r.value.length || d.value.length) throw new Error(`the sink refused ${r.value.length + d.value.length} writes`);
      results.sinkRows!.push(rows.length / r.seconds);
      results.sinkDocs!.push(docs.length / d.seconds);
      results.sinkBoth!.push(records.length / (r.seconds + d.seconds));
      cpuOf.sink!.push({ stargate: c1.stargate - c0.stargate, cassandra: c1.cassandra - c0.cassandra, self: c1.self - c0.self });
      const ks2 = await freshKeyspace();
      const whole = await timed(() => new StargateSink(client, ks2).write(records));
      if (whole.value.length) throw new Error('the sink refused records');
      console.log(`round ${round}: sink write() of every record, rows and documents together: ${(records.length / whole.seconds).toFixed(0)} records/s`);
    }
  };

  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which goes first, so neither always meets a Stargate still busy with the other's writes.
    if (round % 2) {
      await bareRound();
      await sinkRound(round);
    } else {
      await sinkRound(round);
      await bareRound();
    }
    // CQL: the same records through the CQL sink, straight to Cassandra.
    {
      const ks = unique('bench_cql', '_');
      keyspaces.push(ks);
      const cql = new CqlSession({ ...config.cassandra, keyspace: ks });
      await cql.connect();
      await cql.bootstrap(TABLES);
      const w = await timed(() => new CqlSink(cql).write(records));
      await cql.close();
      results.cqlRows!.push(rows.length / w.seconds);
    }
    console.log(
      `round ${round}: rows/s sink ${results.sinkRows!.at(-1)!.toFixed(0)} bare ${results.bareRows!.at(-1)!.toFixed(0)}; docs/s sink ${results.sinkDocs!.at(-1)!.toFixed(0)} bare ${results.bareDocs!.at(-1)!.toFixed(0)}; CQL rows/s ${results.cqlRows!.at(-1)!.toFixed(0)}`,
    );
  }
  const m = (k: string) => median(results[k]!);
  const ratioRows = median(results.sinkRows!.map((v, i) => v / results.bareRows![i]!));
  const ratioDocs = median(results.sinkDocs!.map((v, i) => v / results.bareDocs![i]!));
  const ratio = median(results.sinkBoth!.map((v, i) => v / results.bareBoth![i]!));
  const perRow = (k: 'sink' | 'bare', p: 'stargate' | 'cassandra' | 'self') => median(cpuOf[k]!.map((c) => (c[p] * 1000) / (rows.length + docs.length)));
  const rss = { stargate: rssMb(sgPid), cassandra: rssMb(cassandraPid) };

  const summary = table([
    ['path', 'rows/s', 'docs/s', 'records/s', 'ratio to bare'],
    ['Stargate sink (REST rows, Docs /batch)', Math.round(m('sinkRows')), Math.round(m('sinkDocs')), Math.round(m('sinkBoth')), ratio],
    ['bare HTTP client, same calls', Math.round(m('bareRows')), Math.round(m('bareDocs')), Math.round(m('bareBoth')), 1],
    ['CQL sink, straight to Cassandra', Math.round(m('cqlRows')), '–', '–', '–'],
  ]);
  console.log(`\n${summary}`);
  const met = (r: number) => (r >= TARGET ? 'met' : 'NOT met');
  const pass = ratioRows >= TARGET && ratioDocs >= TARGET;
  console.log(`\nratio of medians of paired rounds, each against target >= ${TARGET}: rows ${ratioRows.toFixed(3)} (${met(ratioRows)}), documents ${ratioDocs.toFixed(3)} (${met(ratioDocs)}); both together ${ratio.toFixed(3)}: ${pass ? 'PASS' : 'FAIL'}`);
  console.log(`CQL against Stargate REST, rows: ${(m('cqlRows') / m('sinkRows')).toFixed(1)}x`);
  console.log(`CPU ms per write (row or document): Stargate ${perRow('sink', 'stargate').toFixed(2)} (bare ${perRow('bare', 'stargate').toFixed(2)}), Cassandra ${perRow('sink', 'cassandra').toFixed(2)}, client ${perRow('sink', 'self').toFixed(2)} (bare ${perRow('bare', 'self').toFixed(2)})`);
  console.log(`RSS after the run: Stargate ${rss.stargate} MB, Cassandra ${rss.cassandra} MB`);

  const date = new Date().toISOString().slice(0, 10);
  writeSection('docs/performance.md', 'bench/stargate', [
    '## Writing through Stargate: the REST and Document APIs against a bare client, and CQL',
    '',
    `Written by \`npm run bench:stargate\` on ${date}: ${records.length} records (${SONGS} songs of ${LINES_PER_SONG} lines, their artists) become ${rows.length} rows and ${docs.length} documents; ${ROUNDS} rounds, each into fresh keyspaces, on ${cpus().length} cores shared by the bench, Stargate v1.0.91 (heap 384 MB) and Cassandra 4.0.19. The bare client makes the same HTTP calls (node:http, keep-alive, bodies serialised before the clock, the same concurrency: ${L.rowConcurrency} row POSTs, ${L.docConcurrency} batches of ${L.docBatch} documents) with nothing else to do.`,
    '',
    '```text',
    summary,
    '```',
    '',
    `- **The sink against the bare client: rows ${ratioRows.toFixed(2)} (${met(ratioRows)}), documents ${ratioDocs.toFixed(2)} (${met(ratioDocs)})**, each against a target of ${TARGET} (medians of paired rounds; both together ${ratio.toFixed(2)}).`,
    `- **CQL writes the same rows ${(m('cqlRows') / m('sinkRows')).toFixed(0)} times faster** than Stargate's REST API: REST has no batch endpoint for rows, so each row is an HTTP request that Stargate turns into CQL.`,
    `- Stargate spends ${perRow('sink', 'stargate').toFixed(2)} ms of CPU per write and Cassandra ${perRow('sink', 'cassandra').toFixed(2)}; the sink's own client ${perRow('sink', 'self').toFixed(2)} (the bare one ${perRow('bare', 'self').toFixed(2)}). On these cores Stargate is the bottleneck.`,
    `- RSS after the run: Stargate ${rss.stargate} MB, Cassandra ${rss.cassandra} MB.`,
    '',
    'When to choose which: [CQL or Stargate](explanations/components.md#cql-or-stargate).',
  ]);
  console.log('\nwrote the Stargate section of docs/performance.md');

  for (const ks of keyspaces) await client.request('DELETE', `/v2/schemas/keyspaces/${ks}`, { accept: [204, 404] }).catch(() => undefined);
  agent.destroy();
  if (!pass) process.exitCode = 1;
}

await main();
