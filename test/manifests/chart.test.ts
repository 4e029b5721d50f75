// The Helm chart: lint, its values schema, and what the templates must render (template assertions).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { CONSUMER_NODE_OPTIONS } from '../../src/transport/flow.js';
import { CHART, find, helmTemplate, KUBE_VERSION, renderChart, run, tool, VALUE_SETS, type K8sObject } from './tools.js';

type Any = any;
const spec = (o: K8sObject) => o.spec as Any;
const podOf = (o: K8sObject) => spec(o).template.spec;
const envOf = (c: Any, name: string) => (c.env as Any[]).find((e) => e.name === name);

describe('helm/rapflow', () => {
  it.each(Object.keys(VALUE_SETS))('passes helm lint --strict with %s values', (set) => {
    const r = run(tool('helm'), ['lint', '--strict', CHART, '--kube-version', KUBE_VERSION, ...VALUE_SETS[set]!]);
    expect(r.stdout + r.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(r.code).toBe(0);
  });

  it('values.schema.json closes every object and refuses unknown keys and `latest`', () => {
    const walk = (s: Any, path: string): string[] =>
      s && typeof s === 'object'
        ? [
            ...(s.type === 'object' && s.properties && s.additionalProperties !== false ? [path] : []),
            ...Object.entries(s.properties ?? {}).flatMap(([k, v]) => walk(v, `${path}.${k}`)),
          ]
        : [];
    expect(walk(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')), '')).toEqual([]);
    for (const bad of [['--set', 'consumer.replica=2'], ['--set', 'image.tag=latest'], ['--set', 'kafka.saslMechanism=plain'], ['--set', 'cassandra.contactPoint=nohost']]) {
      const r = run(tool('helm'), ['template', 'rapflow', CHART, ...bad]);
      expect(r.code, bad.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    }
  });

  it('runs the consumer with probes on its health endpoints, resources, and a locked-down container', () => {
    const d = find(renderChart(), 'Deployment', 'rapflow-consumer');
    const pod = podOf(d);
    const c = pod.containers[0];
    expect(c.args).toEqual(['consume']);
    // V8's heap bounded as measured (CONSUMER_NODE_OPTIONS, the benchmarks' consumers run with it).
    expect(envOf(c, 'NODE_OPTIONS')?.value).toBe(CONSUMER_NODE_OPTIONS);
    expect(envOf(c, 'HTTP_HOST').value).toBe('0.0.0.0');
    expect(Number(envOf(c, 'HTTP_PORT').value)).toBe(c.ports[0].containerPort);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.resources.requests.cpu).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(c.envFrom[0].configMapRef.name).toBe('rapflow-config');
  });

  it('rolls the consumer when its configuration changes (checksum/config)', () => {
    const checksum = (args: string[]) => find(renderChart(args), 'Deployment', 'rapflow-consumer').spec!['template'] as Any;
    const a = checksum([]).metadata.annotations['checksum/config'] as string;
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(['--set', 'logLevel=debug']).metadata.annotations['checksum/config']).not.toBe(a);
    expect(checksum(['--set', 'consumer.replicas=3']).metadata.annotations['checksum/config']).toBe(a);
  });

  it('selects the consumer pods from its Service, PodDisruptionBudget and NetworkPolicy', () => {
    const objects = renderChart();
    const labels = spec(find(objects, 'Deployment', 'rapflow-consumer')).template.metadata.labels;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(spec(find(objects, 'Service', 'rapflow-consumer')).selector)).toBe(true);
    expect(selects(spec(find(objects, 'PodDisruptionBudget', 'rapflow-consumer')).selector.matchLabels)).toBe(true);
    expect(spec(find(objects, 'PodDisruptionBudget', 'rapflow-consumer')).minAvailable).toBe(1);
    const policy = spec(find(objects, 'NetworkPolicy', 'rapflow-consumer'));
    expect(selects(policy.podSelector.matchLabels)).toBe(true);
    expect(policy.egress.flatMap((e: Any) => e.ports.map((p: Any) => p.port))).toEqual(expect.arrayContaining([53, 9093, 8080, 9042]));
  });

  it('writes through Stargate by default (SINK, and its ports in the egress policy), with CQL a value away', () => {
    const ports = (args: string[]) => spec(find(renderChart(args), 'NetworkPolicy', 'rapflow-consumer')).egress.flatMap((e: Any) => e.ports.map((p: Any) => p.port)) as number[];
    expect(find(renderChart(), 'ConfigMap', 'rapflow-config').data!.SINK).toBe('stargate');
    expect(ports([])).toEqual(expect.arrayContaining([8081, 8082]));
    expect(find(renderChart(['--set', 'cassandra.sink=cql']), 'ConfigMap', 'rapflow-config').data!.SINK).toBe('cql');
    expect(ports(['--set', 'cassandra.sink=cql'])).not.toContain(8082);
  });

  it('renders the optional parts only when asked', () => {
    const kinds = (args: string[]) => renderChart(args).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds([])).not.toContain('ServiceMonitor/rapflow-consumer');
    expect(kinds([])).not.toContain('Deployment/rapflow-minio');
    expect(kinds(VALUE_SETS['everything']!)).toEqual(expect.arrayContaining(['ServiceMonitor/rapflow-consumer', 'Deployment/rapflow-minio', 'Secret/rapflow-s3']));
    const minimal = renderChart(VALUE_SETS['minimal']);
    expect(minimal.map((o) => o.kind)).not.toEqual(expect.arrayContaining(['WorkflowTemplate']));
    expect(minimal.filter((o) => /^argoproj\.io/.test(o.apiVersion) || o.metadata.name.includes('registry') || o.kind === 'NetworkPolicy')).toEqual([]);
    const config = find(minimal, 'ConfigMap', 'rapflow-config').data!;
    expect(config['REGISTRY_URL']).toBe('http://registry.example:8080/apis/ccompat/v7');
    expect(config['KAFKA_TLS']).toBe('false');
    expect(config['KAFKA_TLS_CA_FILE']).toBeUndefined();
    const c = podOf(find(minimal, 'Deployment', 'rapflow-consumer')).containers[0];
    expect(envOf(c, 'KAFKA_SASL_USERNAME')).toBeUndefined();
  });

  it('pins every image by a tag other than latest, and uses no namespace of its own', () => {
    for (const set of Object.values(VALUE_SETS)) {
      const text = helmTemplate(set);
      const images = [...text.matchAll(/^\s*image: (\S+)$/gm)].map((m) => m[1]!);
      expect(images.length).toBeGreaterThan(0);
      for (const image of images) expect(image, image).toMatch(/:[\w.-]+$/);
      for (const image of images) expect(image).not.toMatch(/:latest$/);
      expect(renderChart(set).filter((o) => (o.metadata as Any).namespace)).toEqual([]);
    }
  });

  it('WorkflowTemplate: discover -> split shards over the list artifact -> verify -> report, retrying only exit 75', () => {
    const wt = spec(find(renderChart(), 'WorkflowTemplate', 'rap-ingest'));
    const byName = new Map<string, Any>(wt.templates.map((t: Any) => [t.name, t]));
    const dag = byName.get(wt.entrypoint).dag.tasks as Any[];
    const task = (n: string) => dag.find((t) => t.name === n);
    expect(dag.map((t) => t.name)).toEqual(['settle', 'discover', 'split', 'verify', 'report', 'verdict']);
    // A run started by an upload waits for its window to close before it lists the inbox (no pod);
    // one run at a time, however started.
    expect(task('settle').when).toBe('{{workflow.parameters.settle-seconds}} > 0');
    expect(byName.get('settle').suspend.duration).toBe('{{workflow.parameters.settle-seconds}}');
    expect(task('discover').depends).toBe('settle');
    expect(wt.synchronization).toEqual({ mutexes: [{ name: 'rap-ingest' }] });
    // The report also after differences, and the run still fails then.
    expect(task('report').depends).toBe('verify.Succeeded || verify.Failed');
    expect(task('verdict').when).toBe("'{{tasks.verify.status}}' != 'Succeeded'");
    expect(task('split').withSequence.count).toBe('{{workflow.parameters.shards}}');
    expect(task('split').arguments.artifacts[0].from).toBe('{{tasks.discover.outputs.artifacts.list}}');
    expect(byName.get('split').container.args).toEqual(['split', '--from-list', '/work/list.json', '--shard', '{{inputs.parameters.shard}}/{{workflow.parameters.shards}}', '--manifest', '/work/manifest.json']);
    expect(byName.get('discover').container.args).toEqual(['discover', '--out', '/work/list.json', '--max', '{{workflow.parameters.max-files}}']);
    // Manifests: one object per shard under the run's prefix, read back whole by verify and report.
    const key = byName.get('split').outputs.artifacts[0].s3.key as string;
    for (const step of ['verify', 'report']) expect(key.startsWith(`${byName.get(step).inputs.artifacts[0].s3.key}/`), step).toBe(true);
    expect(byName.get('verify').container.args.slice(0, 3)).toEqual(['verify', '--manifest', byName.get('verify').inputs.artifacts[0].path]);
    expect(byName.get('report').container.args).toEqual(['report', '--manifest', byName.get('report').inputs.artifacts[0].path, '--out', byName.get('report').outputs.artifacts[0].path]);
    for (const name of ['discover', 'split', 'verify', 'report']) {
      const t = byName.get(name);
      expect(t.retryStrategy.expression, name).toBe('asInt(lastRetry.exitCode) == 75');
      expect(t.retryStrategy.backoff.factor, name).toBe(2);
      expect(envOf(t.container, 'RUN_ID').value, name).toBe('{{workflow.uid}}');
    }
    expect(byName.get(wt.onExit)).toBeDefined();
    expect(byName.get(wt.onExit).retryStrategy).toBeUndefined();
    for (const t of byName.values()) if (t.outputs?.artifacts) for (const a of t.outputs.artifacts) expect(a.archive, `${t.name}.${a.name}`).toEqual({ none: {} });
  });

  it.each(Object.keys(VALUE_SETS))('gives every rapflow container (%s values) an environment rapflow accepts', (set) => {
    const objects = renderChart(VALUE_SETS[set]);
    const config = find(objects, 'ConfigMap', 'rapflow-config').data!;
    const pods = objects.flatMap((o): [string, Any][] => {
      if (o.kind === 'Deployment' || o.kind === 'Job') return podOf(o).containers.map((c: Any) => [`${o.metadata.name}/${c.name}`, c]);
      if (o.kind === 'WorkflowTemplate') return spec(o).templates.filter((t: Any) => t.container?.envFrom).map((t: Any) => [`${o.metadata.name}/${t.name}`, t.container]);
      return [];
    });
    const rapflow = pods.filter(([, c]) => (c.envFrom ?? []).some((e: Any) => e.configMapRef?.name === 'rapflow-config'));
    expect(rapflow.length).toBeGreaterThanOrEqual(set === 'minimal' ? 2 : 6);
    for (const [where, c] of rapflow) {
      // Secrets become placeholders of a valid shape; Argo expressions a valid RUN_ID.
      const env = Object.fromEntries((c.env as Any[]).map((e) => [e.name, e.valueFrom ? 'secret-from-kubernetes' : String(e.value).replace(/\{\{[^}]+\}\}/g, 'x')]));
      expect(() => loadConfig({ ...config, ...env }), where).not.toThrow();
    }
  });
});
