// The tutorials are tested: their `sh` blocks run against the local stack, in order, in a scratch copy of the
// project, and what the tutorial says a command prints is checked against what it printed.
// The block convention is documented in CONTRIBUTING.md ("Documentation that runs").
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fences, flag, type Fence } from '../docs/markdown.js';
import { dropBucket, dropKeyspace, dropTopics, uniqueName } from './stack.js';

const TUTORIALS = 'docs/tutorials';
/** Run in this order: each starts where the one before left the reader. */
const RUN = ['local.md', 'write-a-rap.md', 'schema-evolution.md', 'operate.md'];
/** Need a Kubernetes cluster, Docker or a GitHub repository: every command block is `sh norun`. */
const SHOWN_ONLY = ['kubernetes.md', 'release.md'];
/** Where the tutorials say the reader's clone is; the scratch copy's path is shown as this. */
const CLONE = '/home/you/rapflow';

const id = uniqueName('docs').slice(5);
const names = { prefix: `dtp${id}.`, bucket: `dtb-${id}`, keyspace: `dtk_${id}`, group: `dtg-${id}` };
const project = mkdtempSync(join(tmpdir(), 'rapflow-docs-'));

/**
 * Commands a tutorial shows that the test runs differently: `npm start` is build + run, and the build is done;
 * `npx rapflow` is the built command on the Node the test runs on (npx would only find that same
 * file, a second slower); an address in the default inbox bucket is one in the test's own bucket.
 */
const SUBSTITUTE: [RegExp, string][] = [
  [/^npm start$/gm, 'node dist/cli/main.js run'],
  [/\bnpx rapflow\b/g, 'node dist/cli/main.js'],
  [/s3:\/\/rap-inbox\//g, `s3://${names.bucket}/`],
];

/** Values that differ from run to run, in the tutorial and in the output alike. */
function normalise(line: string): string {
  return line
    .replace(/\d{8}T\d{6}-[0-9a-f]{8}/g, '<run>')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>')
    .replace(/\b[0-9a-f]{32}\b/g, '<etag>')
    .replace(/\b(id|offset|pid) \d+/g, '$1 <n>')
    .replace(/\b\d+(\.\d+)? ?(ms|s)\b/g, '<n> s')
    .replace(/^index [0-9a-f]+\.\.[0-9a-f]+.*$/, 'index <hash>')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Output with the test's isolated names and scratch path put back to what a reader sees. */
function asReaderSees(text: string): string {
  return text
    .replaceAll(project, CLONE)
    .replaceAll(names.prefix, '')
    .replaceAll(names.bucket, 'rap-inbox')
    .replaceAll(names.keyspace, 'rapflow')
    .replaceAll(names.group, 'rapflow-consume');
}

/** A line of the tutorial's output as a pattern: `…` stands for anything. */
function pattern(expected: string): RegExp {
  const parts = normalise(expected).split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`);
}

/**
 * Every line of `expected` must appear in stdout or stderr, in order within each stream (the terminal
 * interleaves them; the tutorial shows them as a reader sees them). Returns the lines not found.
 */
export function missingLines(expected: string, out: { stdout: string; stderr: string }): string[] {
  const streams = [out.stdout, out.stderr].map((s) => asReaderSees(s).split('\n').map(normalise));
  const cursor = [0, 0];
  const missing: string[] = [];
  for (const line of expected.split('\n')) {
    if (normalise(line) === '' || normalise(line) === '…') continue;
    const re = pattern(line);
    let found = false;
    for (const s of [0, 1]) {
      const at = streams[s]!.findIndex((l, i) => i >= cursor[s]! && re.test(l));
      if (at >= 0) {
        cursor[s] = at + 1;
        found = true;
        break;
      }
    }
    if (!found) missing.push(line);
  }
  return missing;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

let env: Record<string, string> = {};

function sh(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn('bash', ['-c', `set -eo pipefail\n${script}`], { cwd: project, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', rej);
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

const read = (file: string) => fences(readFileSync(join(TUTORIALS, file), 'utf8'));
const isCommand = (f: Fence) => ['sh', 'bash', 'shell', 'console'].includes(f.lang);

describe('tutorials follow the block convention', () => {
  it('every tutorial is either run by this test or shown only', () => {
    expect(readdirSync(TUTORIALS).filter((f) => f.endsWith('.md')).sort()).toEqual([...RUN, ...SHOWN_ONLY].sort());
  });

  it.each([...RUN, ...SHOWN_ONLY])('%s: command blocks are `sh` (run here) or `sh norun`, output blocks follow a command', (file) => {
    const blocks = read(file);
    const wrong = blocks.filter((f) => isCommand(f) && (f.lang !== 'sh' || f.flags.some((w) => w !== 'norun' && !/^exit=\d+$/.test(w))));
    expect(wrong.map((f) => `${file}:${f.line}: \`\`\`${f.lang} ${f.flags.join(' ')}`)).toEqual([]);
    const orphans = blocks.filter((f, i) => f.lang === 'text' && !(i > 0 && blocks[i - 1]!.lang === 'sh'));
    expect(orphans.map((f) => `${file}:${f.line}`)).toEqual([]);
    const run = blocks.filter((f) => f.lang === 'sh' && !f.flags.includes('norun'));
    if (SHOWN_ONLY.includes(file)) {
      expect(run.map((f) => f.line)).toEqual([]);
      expect(blocks.filter((f) => f.lang === 'sh').length).toBeGreaterThan(0);
    } else {
      expect(run.length).toBeGreaterThan(0);
      // Every tutorial that runs shows the reader what to expect, and the test checks it.
      expect(blocks.filter((f, i) => f.lang === 'text' && !blocks[i - 1]!.flags.includes('norun')).length).toBeGreaterThan(0);
    }
  });

  it('the output matcher allows for volatile values, and only for them', () => {
    const out = { stdout: `run 20261125T051028-7586bb42\ntime:    stack 0.6 s, split 3.7 s\nreport:  ${project}/.local/run/report/report.html\n`, stderr: 'note: x\n' };
    expect(missingLines('run 20261125T000000-00000000\ntime: stack 1.0 s, split 12 s\nreport: /home/you/rapflow/.local/run/report/report.html\nnote: x', out)).toEqual([]);
    expect(missingLines('time: stack 1.0 s, …\nrun 20261125T000000-00000000', out)).toEqual(['run 20261125T000000-00000000']);
    expect(missingLines('tables: 10 artists', out)).toEqual(['tables: 10 artists']);
  });
});

describe('tutorials run against the local stack', () => {
  beforeAll(async () => {
    env = {
      KAFKA_TOPIC_PREFIX: names.prefix,
      S3_INBOX_BUCKET: names.bucket,
      CASSANDRA_KEYSPACE: names.keyspace,
      KAFKA_CONSUMER_GROUP: names.group,
      KAFKA_FOLLOW_GROUP: `${names.group}-follow`,
      HTTP_PORT: String(await freePort()),
    };
    // A scratch project: the tutorials edit avro/, write files and run `git diff`, never in this checkout.
    for (const part of ['dist', 'avro', 'data', 'scripts', 'package.json']) cpSync(part, join(project, part), { recursive: true });
    symlinkSync(resolve('node_modules'), join(project, 'node_modules'));
    writeFileSync(join(project, '.gitignore'), 'node_modules\ndist\n.local\n');
    for (const args of [['init', '-q'], ['add', '-A'], ['-c', 'user.name=docs', '-c', 'user.email=docs@localhost', 'commit', '-qm', 'fresh clone']]) {
      expect(spawnSync('git', args, { cwd: project }).status).toBe(0);
    }
  });

  afterAll(async () => {
    await dropTopics(names.prefix);
    await dropKeyspace(names.keyspace);
    await dropBucket(names.bucket);
    rmSync(project, { recursive: true, force: true });
  });

  it.each(RUN)('%s', async (file) => {
    const blocks = read(file);
    let ran = 0;
    let checked = 0;
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i]!;
      const target = flag(b, 'file');
      if (target) {
        // "Save this as <path>": the block is the file's content.
        mkdirSync(dirname(join(project, target)), { recursive: true });
        writeFileSync(join(project, target), `${b.body}\n`);
        continue;
      }
      if (b.lang !== 'sh' || b.flags.includes('norun')) continue;
      const script = SUBSTITUTE.reduce((s, [re, by]) => s.replace(re, by), b.body);
      const r = await sh(script);
      ran++;
      const where = `${file}:${b.line}\n$ ${script}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      expect(r.code, where).toBe(Number(flag(b, 'exit') ?? 0));
      const next = blocks[i + 1];
      if (next?.lang === 'text') {
        expect(missingLines(next.body, r), `lines the tutorial shows that the command did not print\n${where}`).toEqual([]);
        checked++;
      }
    }
    expect(ran).toBeGreaterThan(0);
    expect(checked).toBeGreaterThan(0);
  });
});
