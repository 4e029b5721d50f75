// Every manifest rapflow ships, met by a real API server (v1.36, the local Kubernetes) with the
// operators' real CRDs (scripts/k8s/crds.sh: Strimzi's generator, K8ssandra's, cass-operator's and
// Argo's own files): a server-side dry run first, then applied for real. Schema errors, unknown
// fields (strict validation), CEL rules, and any warning the server returns are failures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helmTemplate, loadYaml, ROOT, staticFiles } from '../manifests/tools.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyCrds, kubectl, kubectlOk, warnings } from './cluster.js';

const NS = 'rapflow-api-check';

/** The chart, rendered with each sink (the consumer and db-init differ), dev MinIO on. */
const CHART_SETS: Record<string, string[]> = {
  'sink=stargate': ['--namespace', NS, '--set', 'devMinio.enabled=true'],
  'sink=cql': ['--namespace', NS, '--set', 'devMinio.enabled=true', '--set', 'cassandra.sink=cql', '--set', 'cassandra.readApi=cql'],
};

/** Applies YAML text in the test namespace; `dryRun` asks the server to check without storing. */
function apply(text: string, dryRun: boolean) {
  return kubectl(['apply', '--server-side', '--field-manager=rapflow-check', '--validate=strict', ...(dryRun ? ['--dry-run=server'] : []), '-n', NS, '-f', '-'], text);
}

let crds: string[] = [];

beforeAll(() => {
  crds = applyCrds();
  kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=120s']);
  kubectlOk(['create', 'namespace', NS]);
  // Pod Security Admission at its strictest: every pod template of the chart must meet "restricted"
  // (a violation is a warning on a Deployment, an error on a Pod; both fail here).
  kubectlOk(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
});

afterAll(() => {
  kubectl(['delete', 'namespace', NS, '--wait=false']);
});

describe('the operators\' CRDs on a real API server', () => {
  it('are all established, each from its publisher\'s package', () => {
    const names = crds.map((f) => (loadYaml(readFileSync(f, 'utf8'))[0]!.metadata.name));
    expect(names.length).toBeGreaterThanOrEqual(39);
    const items = (JSON.parse(kubectlOk(['get', 'crd', '-o', 'json'])) as { items: { metadata: { name: string }; status: { conditions?: { type: string; status: string }[] } }[] }).items;
    const established = items.filter((c) => c.status.conditions?.some((k) => k.type === 'Established' && k.status === 'True')).map((c) => c.metadata.name);
    expect(names.filter((n) => !established.includes(n))).toEqual([]);
    for (const kind of ['kafkas.kafka.strimzi.io', 'kafkausers.kafka.strimzi.io', 'k8ssandraclusters.k8ssandra.io', 'workflowtemplates.argoproj.io', 'sensors.argoproj.io']) {
      expect(names).toContain(kind);
    }
  });
});

describe.each(staticFiles())('%s', (file) => {
  const text = readFileSync(join(ROOT, file), 'utf8');

  it('passes a server-side dry run with strict field validation and no warning', () => {
    const r = apply(text, true);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r.stderr)).toEqual([]);
  });

  it('is stored as written (applied for real, every object read back)', () => {
    const r = apply(text, false);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r.stderr)).toEqual([]);
    for (const o of loadYaml(text)) {
      const got = kubectl(['get', '-n', NS, `${o.kind}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}`.replace(/\.$/, ''), o.metadata.name, '-o', 'name']);
      expect(got.code, `${o.kind}/${o.metadata.name}: ${got.stderr}`).toBe(0);
    }
  });
});

describe.each(Object.keys(CHART_SETS))('the chart rendered with %s', (set) => {
  const text = () => helmTemplate(CHART_SETS[set]);

  it('passes a server-side dry run with strict field validation and no warning', () => {
    const r = apply(text(), true);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r.stderr)).toEqual([]);
  });

  it('is stored as written (applied for real)', () => {
    const r = apply(text(), false);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r.stderr)).toEqual([]);
    expect(loadYaml(text()).length).toBeGreaterThan(10);
  });
});
