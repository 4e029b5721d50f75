// argo/ holds the Argo parts of the chart rendered with its defaults, for `kubectl apply` without
// Helm. They are generated, never edited: RAPFLOW_UPDATE_MANIFESTS=1 npx vitest run --project manifests
import { helmTemplate } from './tools.js';

interface Target {
  file: string;
  header: string;
}

const NEEDS = 'Needs: Argo Workflows (and Argo Events for events.yaml) in the cluster, strimzi/, k8ssandra/,\n# the Secret rapflow-s3 (keys accessKey, secretKey, eventsToken) and the chart\'s registry, or helm/rapflow instead.';

/** Chart template -> file in argo/, with the comment that opens it. */
const TARGETS: Record<string, Target> = {
  'argo-workflowtemplate.yaml': {
    file: 'workflowtemplate.yaml',
    header: 'WorkflowTemplate rap-ingest: discover -> split (shards over one list artifact) -> verify -> report,\n# retrying only exit code 75, with an onExit summary.',
  },
  'argo-cronworkflow.yaml': { file: 'cronworkflow.yaml', header: 'CronWorkflow rap-ingest: runs the template every 15 minutes, never two at once.' },
  'argo-rbac.yaml': { file: 'rbac.yaml', header: 'ServiceAccount rapflow-workflow: the workflow pods may report their results, nothing else.' },
  'argo-artifact-repository.yaml': { file: 'artifact-repository.yaml', header: 'Artifact repository of rap-ingest: the rap-artifacts bucket of MinIO.' },
  'argo-events.yaml': { file: 'events.yaml', header: 'Argo Events: EventBus, EventSource for MinIO\'s bucket notifications of rap-inbox (a webhook), and a\n# Sensor that submits rap-ingest (one run per window of uploads), with the Sensor\'s ServiceAccount.' },
  'configmap.yaml': { file: 'config.yaml', header: 'ConfigMap rapflow-config: the settings every workflow step loads (no secrets).' },
};

/** The files argo/ must hold, by name. */
export function argoFiles(): Record<string, string> {
  const out: Record<string, string[]> = {};
  for (const doc of helmTemplate().split(/^---\n/m)) {
    const source = /^# Source: rapflow\/templates\/(\S+)\n/.exec(doc);
    const target = source && TARGETS[source[1]!];
    if (!target) continue;
    const body = doc
      .slice(source[0].length)
      // Helm's own bookkeeping labels mean nothing to kubectl users.
      .replace(/^\s+helm\.sh\/chart: .*\n/m, '')
      .replace(/^\s+app\.kubernetes\.io\/managed-by: .*\n/m, '');
    (out[target.file] ??= []).push(body.trimEnd());
  }
  return Object.fromEntries(
    Object.values(TARGETS).map(({ file, header }) => [
      file,
      `# ${header}\n# ${NEEDS}\n# Apply: kubectl apply -n rapflow -f argo/${file}\n# Generated from helm/rapflow (defaults) by test/manifests/argo-files.ts: edit the chart, not this file.\n${(out[file] ?? []).join('\n---\n')}\n`,
    ]),
  );
}
