// The container commands of the Kubernetes manifests, run as processes against the local stack:
// the args and environment come from the rendered chart (db-init Job, consumer Deployment, the
// rap-ingest WorkflowTemplate's steps); only endpoints, credentials and names are pointed at the
// local stack. They run from a copy of the image's file layout, assembled as the Dockerfile's final
// stage does (its COPY lines, production dependencies only), with the image's entrypoint.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { find, renderChart, ROOT, type K8sObject } from '../manifests/tools.js';
import { rapflow, runProcess, type CliResult } from './cli.js';
import { config, dropBucket, dropIsolated, isolatedEnv, testStack, uniqueName } from './stack.js';

const viaStargate = (await testStack().status(['stargate']))[0]?.state === 'up';

type Any = any;

const work = mkdtempSync(join(tmpdir(), 'rapflow-k8s-'));
const isolated = isolatedEnv('k8s');
const runId = randomUUID();

/** What replaces the cluster's endpoints, credentials and shared names: the local stack, and names of this test. */
const LOCAL: Record<string, string> = {
  KAFKA_BROKERS: config.kafka.brokers.join(','),
  REGISTRY_URL: config.registry.url,
  S3_ENDPOINT: config.s3.endpoint,
  S3_ACCESS_KEY: config.s3.accessKey,
  S3_SECRET_KEY: config.s3.secretKey,
  CASSANDRA_CONTACT_POINT: config.cassandra.contactPoint,
  CASSANDRA_DATACENTER: config.cassandra.datacenter,
  CASSANDRA_USERNAME: config.cassandra.username,
  CASSANDRA_PASSWORD: config.cassandra.password,
  // The chart's keyspace has three copies (K8ssandra's three nodes); the local node can hold one.
  CASSANDRA_REPLICATION_FACTOR: String(config.cassandra.replicationFactor),
  // The local broker is plaintext without SASL; the cluster's TLS and SCRAM are checked offline.
  KAFKA_TLS: 'false',
  // The chart writes and reads through K8ssandra's Stargate: here through the local stack's
  // coordinator when it has one, else over CQL (the rest of the chart's commands are the same).
  SINK: viaStargate ? 'stargate' : 'cql',
  READ_API: viaStargate ? 'stargate' : 'cql',
  STARGATE_URL: config.read.stargateUrl,
  STARGATE_AUTH_URL: config.read.stargateAuthUrl,
  ...isolated,
  S3_ARTIFACTS_BUCKET: uniqueName('k8s-art'),
};
/** Cluster-only settings with no local counterpart. */
const DROP = ['KAFKA_TLS_CA_FILE', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'];

const chart = renderChart();
const configMap = find(chart, 'ConfigMap', 'rapflow-config').data!;

/** A container's environment as Kubernetes would give it, then pointed at the local stack. */
function envOf(container: Any, extra: Record<string, string> = {}): Record<string, string> {
  expect(container.envFrom.map((e: Any) => e.configMapRef.name)).toEqual(['rapflow-config']);
  const env: Record<string, string> = { ...configMap };
  for (const e of container.env as Any[]) env[e.name] = e.valueFrom ? '<secret>' : String(e.value).replaceAll('{{workflow.uid}}', runId);
  // Every endpoint and credential replaced is one the manifest sets (KAFKA_TLS=true, secrets, ...).
  for (const k of ['KAFKA_BROKERS', 'REGISTRY_URL', 'S3_ENDPOINT', 'S3_SECRET_KEY', 'CASSANDRA_CONTACT_POINT', 'CASSANDRA_PASSWORD', 'KAFKA_TLS', 'SINK', 'READ_API', 'STARGATE_URL', 'STARGATE_AUTH_URL']) expect(env, k).toHaveProperty(k);
  for (const k of DROP) delete env[k];
  const out = { ...env, ...LOCAL, ...extra };
  expect(Object.values(out).filter((v) => v.includes('{{') || v === '<secret>')).toEqual([]);
  return out;
}

/** Argo's placeholders in args, and its /work volume mapped to a folder of this test. */
function argsOf(container: Any, dir: string, params: Record<string, string>): string[] {
  return (container.args as string[]).map((a) => a.replace(/\{\{(?:workflow|inputs)\.parameters\.([\w-]+)\}\}/g, (_, p: string) => params[p] ?? `<unknown ${p}>`).replace(/^\/work\//, `${dir}/`));
}

/** The image's files, laid out as the Dockerfile's final stage copies them. */
function imageLayout(): { entrypoint: string[]; workdir: string } {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const app = join(work, 'app');
  mkdirSync(app, { recursive: true });
  for (const [, src] of final.matchAll(/^COPY (?!--from)(\S+) \S+$/gm)) cpSync(join(ROOT, src!), join(app, src!), { recursive: true });
  expect(final).toMatch(/^COPY --from=build \/src\/dist \.\/dist$/m);
  cpSync(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
  // The deps stage: production dependencies only, as locked.
  for (const f of ['package-lock.json', '.npmrc']) copyFileSync(join(ROOT, f), join(app, f));
  const npm = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, encoding: 'utf8' });
  expect(npm.status, npm.stderr).toBe(0);
  expect(existsSync(join(app, 'node_modules/vitest'))).toBe(false);
  const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(final)![1]!) as string[];
  // /nodejs/bin/node -> this node; /app -> the layout.
  expect(final).toMatch(/^WORKDIR \/app$/m);
  return { entrypoint: [process.execPath, ...entrypoint.slice(1).map((p) => p.replace(/^\/app\//, `${app}/`))], workdir: app };
}

let image: ReturnType<typeof imageLayout>;

/**
 * A container's process environment beside its own variables: the root filesystem is read-only
 * and only the mounted volumes are writable, so HOME and the temporary folder lead nowhere (a
 * command that wrote there would fail here as in the pod); the consumer has an emptyDir on /tmp.
 */
const baseEnv = (tmp = '/nonexistent/tmp') => ({ PATH: process.env['PATH'] ?? '', HOME: '/nonexistent/home', TMPDIR: tmp });

/** Runs the image's entrypoint with `args` and exactly `env`, like a container. */
const container = (args: string[], env: Record<string, string>): Promise<CliResult> =>
  runProcess(image.entrypoint[0]!, [...image.entrypoint.slice(1), ...args], { cwd: image.workdir, env: { ...baseEnv(), ...env } });

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function waitFor(url: string, seconds: number): Promise<Response> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const r = await fetch(url).catch(() => undefined);
    if (r?.ok) return r;
    if (Date.now() > until) throw new Error(`${url} not ready after ${seconds} s (last status ${r?.status})`);
    await new Promise((ok) => setTimeout(ok, 500));
  }
}

const template = find(chart, 'WorkflowTemplate', 'rap-ingest');
const steps = new Map<string, Any>((template.spec as Any).templates.map((t: Any) => [t.name, t]));
const params = Object.fromEntries(((template.spec as Any).arguments.parameters as Any[]).map((p) => [p.name, String(p.value)]));
const podContainer = (o: K8sObject) => (o.spec as Any).template.spec.containers[0];

describe('the manifests\' container commands, as processes on the local stack', () => {
  let consumer: ChildProcess | undefined;
  let consumerExit: Promise<number | null> | undefined;
  const uploads = join(work, 'uploads');

  beforeAll(() => {
    image = imageLayout();
    // A few sample files in the inbox, as a user would drop them (`rapflow upload`, a local helper here).
    mkdirSync(uploads);
    for (const f of ['artists.yaml', 'meetups.yaml', 'songs-mc-quorum.yaml']) copyFileSync(join(ROOT, 'data', f), join(uploads, f));
  });

  afterAll(async () => {
    if (consumer && consumer.exitCode === null) consumer.kill('SIGKILL');
    await dropIsolated(isolated);
    await dropBucket(LOCAL['S3_ARTIFACTS_BUCKET']!);
    rmSync(work, { recursive: true, force: true });
  });

  it('db-init Job: creates the keyspace and tables', async () => {
    const job = find(chart, 'Job', 'rapflow-db-init');
    const c = podContainer(job);
    const r = await container(c.args, envOf(c));
    expect(r.code, r.stderr).toBe(0);
    // What Strimzi's KafkaTopics and a user's upload do on a cluster (not container commands of ours).
    for (const args of [['topics', 'create'], ['upload', uploads]]) {
      const s = await rapflow(args, { ...LOCAL });
      expect(s.code, s.stderr).toBe(0);
    }
  });

  it('consumer Deployment: starts, is ready on /readyz, serves /healthz and /metrics', async () => {
    const d = find(chart, 'Deployment', 'rapflow-consumer');
    const c = podContainer(d);
    const port = await freePort();
    // Loopback here (the pod listens on 0.0.0.0 so the kubelet reaches it).
    expect(c.env.find((e: Any) => e.name === 'HTTP_HOST').value).toBe('0.0.0.0');
    const env = envOf(c, { HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) });
    const child = spawn(image.entrypoint[0]!, [...image.entrypoint.slice(1), ...(c.args as string[])], { cwd: image.workdir, env: { ...baseEnv(tmpdir()), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    consumer = child;
    consumerExit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}${c.readinessProbe.httpGet.path}`, 90).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${stderr}`);
    });
    expect((await fetch(`${base}${c.livenessProbe.httpGet.path}`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^# HELP /m);
  });

  it('rap-ingest: discover, split in shards, verify and report, each with its step\'s args and env', async () => {
    // discover
    const discover = steps.get('discover').container;
    const d = await container(argsOf(discover, work, params), envOf(discover));
    expect(d.code, d.stderr).toBe(0);
    const listPath = steps.get('discover').outputs.artifacts[0].path.replace(/^\/work\//, `${work}/`);
    expect(JSON.parse(readFileSync(listPath, 'utf8'))).toHaveLength(3);

    // split: one process per shard, at once, each with the list as its input artifact.
    const split = steps.get('split');
    const shards = Number(params['shards']);
    expect(shards).toBeGreaterThan(1);
    const manifests = join(work, 'manifests');
    mkdirSync(manifests);
    const results = await Promise.all(
      Array.from({ length: shards }, async (_, k) => {
        const dir = join(work, `shard-${k}`);
        mkdirSync(dir);
        copyFileSync(listPath, split.inputs.artifacts[0].path.replace(/^\/work\//, `${dir}/`));
        const r = await container(argsOf(split.container, dir, { ...params, shard: String(k) }), envOf(split.container));
        expect(r.code, `shard ${k}: ${r.stderr}`).toBe(0);
        // The output artifact, under the run's key prefix that verify and report read whole.
        const key = (split.outputs.artifacts[0].s3.key as string).replace('{{inputs.parameters.shard}}', String(k));
        copyFileSync(split.outputs.artifacts[0].path.replace(/^\/work\//, `${dir}/`), join(manifests, key.split('/').at(-1)!));
        return r;
      }),
    );
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const produced = readdirSync(manifests).map((f) => JSON.parse(readFileSync(join(manifests, f), 'utf8')) as { runId: string; files: { status: string }[] });
    expect(produced.flatMap((m) => m.files.map((f) => f.status)).sort()).toEqual(['split', 'split', 'split']);
    expect(new Set(produced.map((m) => m.runId))).toEqual(new Set([runId]));

    // verify and report read the manifests as one folder (Argo's directory input artifact).
    const verify = steps.get('verify');
    expect(verify.inputs.artifacts[0].path).toBe('/work/manifests');
    const v = await container(argsOf(verify.container, work, params), envOf(verify.container));
    expect(v.code, v.stderr + v.stdout).toBe(0);
    expect(v.stdout).toMatch(/verified 3 files/);

    const report = steps.get('report');
    const r = await container(argsOf(report.container, work, params), envOf(report.container));
    expect(r.code, r.stderr).toBe(0);
    const out = report.outputs.artifacts[0].path.replace(/^\/work\//, `${work}/`);
    expect(readdirSync(out).sort()).toEqual(expect.arrayContaining(['report.html', 'report.json']));
  });

  it('consumer Deployment: SIGTERM (a pod stopping) ends it cleanly', async () => {
    expect(consumer).toBeDefined();
    consumer!.kill('SIGTERM');
    expect(await consumerExit).toBe(0);
  });
});
