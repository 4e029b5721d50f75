// The manifest checks' tools (built by scripts/k8s/tools.sh), the chart's rendering, and YAML loading.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { buildSchemas, KUBECONFORM_LOCATION } from './schemas.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CHART = join(ROOT, 'helm/rapflow');
/** The Kubernetes version the chart is rendered and checked for. */
export const KUBE_VERSION = '1.33.0';
/**
 * The operators' CRD schemas (Strimzi, K8ssandra, Argo Workflows and Events), which this repository
 * does not carry: a folder named by RAPFLOW_K8S_SCHEMAS (our CI passes its team's copy). Without
 * one, the checks of custom resources do not run and say so; every other check runs.
 */
const schemasSetting = process.env['RAPFLOW_K8S_SCHEMAS'];
export const CRD_SCHEMAS: string | undefined = schemasSetting && existsSync(resolve(ROOT, schemasSetting)) ? resolve(ROOT, schemasSetting) : undefined;
/** Why the custom resources cannot be checked, when they cannot. */
export const CRD_SCHEMAS_MISSING: string | undefined = CRD_SCHEMAS
  ? undefined
  : schemasSetting
    ? `RAPFLOW_K8S_SCHEMAS=${schemasSetting} is not a folder`
    : 'RAPFLOW_K8S_SCHEMAS is not set (a folder of the operators\' CRD schemas: Strimzi 1.2.0, K8ssandra operator v1.32.5, Argo Workflows v4.1.2, Argo Events v1.9.11)';

/** API groups whose schemas come with Kubernetes itself, or are kept in this repository (hand-kept-schemas). */
const BUILT_IN = /^(v1|apps\/v1|batch\/v1|policy\/v1|networking\.k8s\.io\/v1|rbac\.authorization\.k8s\.io\/v1|autoscaling\/v2|monitoring\.coreos\.com\/v1)$/;

/** Whether `o` can be checked without the operators' CRD schemas. */
export const builtIn = (o: K8sObject) => BUILT_IN.test(o.apiVersion);

/** Schemas of kinds whose CRD is not among the operators' schemas (see each file's description). */
const HAND_KEPT = join(import.meta.dirname, 'hand-kept-schemas');

const TOOLS = join(process.env['RAPFLOW_HOME'] ?? join(homedir(), '.cache/rapflow'), 'tools/k8s');

/** Path of a tool; fails (never skips) with the command that installs it. */
export function tool(name: 'helm' | 'kubeconform' | 'argo' | 'actionlint' | 'hadolint'): string {
  const bin = join(TOOLS, 'bin', name);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`bash scripts/k8s/tools.sh install\` (.ci/run does)`);
  return bin;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(bin: string, args: string[], input?: string): Run {
  const r = spawnSync(bin, args, { cwd: ROOT, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HOME: process.env['HOME'] ?? homedir() } });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
} & Record<string, unknown>;

export function loadYaml(text: string): K8sObject[] {
  return (yaml.loadAll(text) as (K8sObject | null)[]).filter((d): d is K8sObject => d !== null && typeof d === 'object');
}

export const loadFile = (path: string) => loadYaml(readFileSync(join(ROOT, path), 'utf8'));

/** The static manifests kubectl applies: strimzi/, k8ssandra/, argo/. */
export function staticFiles(): string[] {
  return ['strimzi', 'k8ssandra', 'argo'].flatMap((d) =>
    readdirSync(join(ROOT, d))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => `${d}/${f}`),
  );
}

/** Every value set the tests render the chart with: defaults, and everything optional switched on or off. */
export const VALUE_SETS: Record<string, string[]> = {
  defaults: [],
  everything: ['--set', 'devMinio.enabled=true', '--set', 'consumer.serviceMonitor.enabled=true'],
  minimal: ['--set', 'workflow.enabled=false', '--set', 'events.enabled=false', '--set', 'networkPolicy.enabled=false', '--set', 'registry.deploy=false', '--set', 'registry.url=http://registry.example:8080/apis/ccompat/v7', '--set', 'kafka.tls=false', '--set', 'kafka.saslMechanism='],
};

const rendered = new Map<string, string>();

/** `helm template rapflow helm/rapflow` with extra args (memoised: helm takes a second or so). */
export function helmTemplate(args: string[] = []): string {
  const key = args.join('\0');
  const hit = rendered.get(key);
  if (hit !== undefined) return hit;
  const r = run(tool('helm'), ['template', 'rapflow', CHART, '--kube-version', KUBE_VERSION, ...args]);
  if (r.code !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
  rendered.set(key, r.stdout);
  return r.stdout;
}

export const renderChart = (args: string[] = []) => loadYaml(helmTemplate(args));

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

let schemaDir: string | undefined;

/** The strict schemas of the core kinds (Kubernetes' OpenAPI) and of the operators' CRDs. */
export function schemas(): string {
  const openapi = join(TOOLS, 'kubernetes-openapi.json');
  if (!existsSync(openapi)) throw new Error(`${openapi} is missing: run \`bash scripts/k8s/tools.sh install\``);
  schemaDir ??= buildSchemas(openapi, CRD_SCHEMAS, join(TOOLS, 'schemas'));
  return schemaDir;
}

export interface Verdict {
  filename: string;
  kind: string;
  name: string;
  version: string;
  status: 'statusValid' | 'statusInvalid' | 'statusError' | 'statusSkipped' | 'statusEmpty';
  msg: string;
}

/** kubeconform, strict, against our schemas only (nothing downloaded); YAML on stdin or files. */
export function kubeconform(files: string[], stdin?: string, extra: string[] = []): { code: number; resources: Verdict[]; stderr: string } {
  const args = ['-strict', '-summary', '-verbose', '-output', 'json', '-kubernetes-version', KUBE_VERSION, '-schema-location', join(schemas(), KUBECONFORM_LOCATION), '-schema-location', join(HAND_KEPT, KUBECONFORM_LOCATION), ...extra, ...(stdin === undefined ? files : ['-'])];
  const r = run(tool('kubeconform'), args, stdin);
  const out = JSON.parse(r.stdout || '{"resources":[]}') as { resources: Verdict[] | null };
  return { code: r.code, resources: out.resources ?? [], stderr: r.stderr };
}
