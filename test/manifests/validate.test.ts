// Every manifest, static and rendered, checked strictly (unknown fields are errors) by kubeconform
// against the core Kubernetes schemas and the operators' CRD schemas.
import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { builtIn, CRD_SCHEMAS_MISSING, helmTemplate, kubeconform, loadFile, loadYaml, staticFiles, VALUE_SETS, type K8sObject } from './tools.js';

const withCrds = CRD_SCHEMAS_MISSING === undefined;
if (!withCrds) {
  process.stderr.write(
    `\n*** test/manifests/validate.test.ts: the custom resources (Strimzi, K8ssandra, Argo) were NOT checked: ${CRD_SCHEMAS_MISSING}.\n` +
      '*** The core Kubernetes objects and the hand-kept schemas were checked. Point RAPFLOW_K8S_SCHEMAS at the schemas to check the rest.\n\n',
  );
}

const summary = (r: ReturnType<typeof kubeconform>) => r.resources.filter((x) => x.status !== 'statusValid').map((x) => `${x.filename}: ${x.kind}/${x.name}: ${x.status} ${x.msg}`);

describe('strict schema validation', () => {
  it.runIf(withCrds)('accepts every static manifest in strimzi/, k8ssandra/ and argo/', () => {
    const files = staticFiles();
    const expected = files.reduce((n, f) => n + loadFile(f).length, 0);
    const r = kubeconform(files);
    expect(summary(r)).toEqual([]);
    expect(r.resources.filter((x) => x.status === 'statusValid')).toHaveLength(expected);
    expect(r.code).toBe(0);
  });

  it.each(Object.keys(VALUE_SETS))(`accepts every object the chart renders with %s values${withCrds ? '' : ' (built-in kinds only: no CRD schemas)'}`, (set) => {
    const objects = loadYaml(helmTemplate(VALUE_SETS[set])).filter((o) => withCrds || builtIn(o));
    const r = kubeconform([], objects.map((o) => yaml.dump(o)).join('---\n'));
    expect(summary(r)).toEqual([]);
    expect(r.resources.filter((x) => x.status === 'statusValid')).toHaveLength(objects.length);
  });

  // The checks above are only worth something if they can fail: one unknown or mistyped field
  // in each family of schemas (core, Strimzi, K8ssandra, Argo Workflows, Argo Events, hand-kept).
  const broken: [string, (objects: K8sObject[]) => K8sObject, 'crd'?][] = [
    ['a Deployment container', (o) => withField(o, 'Deployment', 'spec.template.spec.containers.0.livenessProbe.httpGet.paht', '/healthz')],
    ['a NetworkPolicy', (o) => withField(o, 'NetworkPolicy', 'spec.podSelector.matchLabel', {})],
    ['a quantity', (o) => withField(o, 'Deployment', 'spec.template.spec.containers.0.resources.limits.memory', { big: true })],
    ['a KafkaTopic', (o) => withField(o, 'KafkaTopic', 'spec.partition', 3), 'crd'],
    ['a KafkaUser ACL', (o) => withField(o, 'KafkaUser', 'spec.authorization.acls.0.operations', ['Wrte']), 'crd'],
    ['a K8ssandraCluster', (o) => withField(o, 'K8ssandraCluster', 'spec.cassandra.datacenters.0.sise', 1), 'crd'],
    ['CRD metadata', (o) => withField(o, 'KafkaTopic', 'metadata.label', {}), 'crd'],
    ['a WorkflowTemplate step', (o) => withField(o, 'WorkflowTemplate', `spec.templates.${retriedStep(o)}.retryStrategy.expresion`, 'true'), 'crd'],
    ['an EventSource', (o) => withField(o, 'EventSource', 'spec.webhook.inbox.authSecret.nam', 'x'), 'crd'],
    ['a Sensor', (o) => withField(o, 'Sensor', 'spec.triggers.0.template.argoWorkflow.operaton', 'submit'), 'crd'],
    ['a ServiceMonitor', (o) => withField(o, 'ServiceMonitor', 'spec.endpoints.0.prot', 'http')],
  ];
  it.each(broken.filter(([, , needs]) => withCrds || needs !== 'crd'))('rejects an unknown or mistyped field in %s', (_, breakIt) => {
    const objects = [...loadYaml(helmTemplate(VALUE_SETS['everything'])), ...staticFiles().flatMap(loadFile)];
    const bad = breakIt(objects);
    const r = kubeconform([], yaml.dump(bad));
    expect(r.resources).toHaveLength(1);
    expect(r.resources[0]!.status).toBe('statusInvalid');
  });
});

/** Index of the WorkflowTemplate's first template with a retryStrategy (its steps move as the workflow grows). */
function retriedStep(objects: K8sObject[]): number {
  const wt = objects.find((x) => x.kind === 'WorkflowTemplate') as { spec?: { templates?: { retryStrategy?: unknown }[] } } | undefined;
  const i = wt?.spec?.templates?.findIndex((t) => t.retryStrategy !== undefined) ?? -1;
  if (i < 0) throw new Error('no WorkflowTemplate step with a retryStrategy to break');
  return i;
}

/** A copy of the first `kind` in `objects` with `value` set at the dotted `path` (numbers index arrays). */
function withField(objects: K8sObject[], kind: string, path: string, value: unknown): K8sObject {
  const o = objects.find((x) => x.kind === kind);
  if (!o) throw new Error(`no ${kind} to break`);
  const copy = structuredClone(o);
  const keys = path.split('.');
  let at: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) {
    const next = at[k];
    if (!next || typeof next !== 'object') throw new Error(`${kind}: nothing at ${k} of ${path}`);
    at = next as Record<string, unknown>;
  }
  at[keys.at(-1)!] = value;
  return copy;
}
