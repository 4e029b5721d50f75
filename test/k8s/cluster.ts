// The local Kubernetes the k8s suites run against (`rapflow k8s up`), and kubectl on it.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../manifests/tools.js';

export interface Kubectl {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl with the cluster's admin credentials (scripts/stack/k8s.sh knows the pinned binary). */
export function kubectl(args: string[], input?: string, timeoutMs = 180_000): Kubectl {
  const r = spawnSync('bash', [join(ROOT, 'scripts/stack/k8s.sh'), 'kubectl', ...args], { input, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** kubectl that must succeed; its output. */
export function kubectlOk(args: string[], input?: string, timeoutMs?: number): string {
  const r = kubectl(args, input, timeoutMs);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}:\n${r.stderr || r.stdout}`);
  return r.stdout;
}

/** The lines of kubectl's stderr that are API-server warnings ("Warning: ..."). */
export const warnings = (stderr: string) => stderr.split('\n').filter((l) => /^Warning:/.test(l));

/** The `rapflow` command, as the suites run it (the built CLI on this Node). */
export function rapflow(args: string[], env: Record<string, string> = {}, timeoutMs = 600_000): Kubectl {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let crdsApplied = false;

/** The operators' CRDs (scripts/k8s/crds.sh), applied server-side and established; once per process. */
export function applyCrds(): string[] {
  const r = spawnSync('bash', [join(ROOT, 'scripts/k8s/crds.sh'), 'install'], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`scripts/k8s/crds.sh install failed:\n${r.stderr}`);
  const files = spawnSync('bash', [join(ROOT, 'scripts/k8s/crds.sh'), 'list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  if (!crdsApplied) {
    // Large CRDs (Argo's Workflow, K8ssandraCluster: 2.5 MB each) only fit a server-side apply.
    kubectlOk(['apply', '--server-side', '--force-conflicts', ...files.flatMap((f) => ['-f', f])]);
    kubectlOk(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=120s']);
    crdsApplied = true;
  }
  return files;
}
