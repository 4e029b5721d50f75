// What the local Kubernetes does to the host while it runs: nothing of it listens beyond loopback
// and its own bridge, and pods cannot leave the machine (the FORWARD rule `k8s up` adds). That
// `k8s down` undoes every change is checked by .ci/run's last steps and docs/local-stack.md.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rapflow } from './cluster.js';

const BRIDGE_IP = '10.244.0.1';

/** The pids of the cluster's services and all their descendants. */
function clusterPids(): Set<number> {
  const services = JSON.parse(rapflow(['k8s', 'status', '--json']).stdout) as { name: string; pid?: number }[];
  const pids = new Set<number>();
  const visit = (pid: number) => {
    if (pids.has(pid)) return;
    pids.add(pid);
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) visit(Number(child));
    }
  };
  for (const s of services) if (s.pid !== undefined) visit(s.pid);
  return pids;
}

describe('the local Kubernetes on the host', () => {
  it('listens only on loopback and on its own bridge', () => {
    const pids = clusterPids();
    expect(pids.size).toBeGreaterThan(9);
    const sockets = execFileSync('ss', ['-ltnupH'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const cols = line.trim().split(/\s+/);
        const owners = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
        return { local: cols[4]!, owners };
      })
      .filter((s) => s.owners.some((p) => pids.has(p)));
    expect(sockets.length).toBeGreaterThan(10);
    const host = (local: string) => local.slice(0, local.lastIndexOf(':')).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    const beyond = sockets.filter((s) => !(host(s.local).startsWith('127.') || host(s.local) === '::1' || host(s.local) === BRIDGE_IP));
    expect(beyond.map((s) => s.local)).toEqual([]);
  });

  it('drops whatever pods send out of any interface but the bridge', () => {
    const rules = execFileSync('iptables', ['-S', 'FORWARD'], { encoding: 'utf8' });
    expect(rules).toMatch(/-A FORWARD -s 10\.244\.0\.0\/24 ! -o cni0 .*-j DROP/);
  });
});
