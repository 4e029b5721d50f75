// Starts services in waves (each once the services it names in `after` answer) and reports each
// one's start time, pid and memory: shared by the local stack and the local Kubernetes.
import { readdirSync, readFileSync } from 'node:fs';
import { RapflowError } from '../errors.js';
import type { ServiceDef, StackEndpoints } from './services.js';
import type { Progress, Supervisor } from './supervisor.js';

export interface ServiceReport {
  name: string;
  url: string;
  /** `not installed`: an optional service (Stargate) that is not there; the rest runs without it. */
  state: 'up' | 'down' | 'not answering' | 'not installed';
  pid?: number;
  /** Seconds from spawn to the first successful probe (up only, when we started it). */
  startSeconds?: number;
  /** Resident memory of the service's processes (its pid and every descendant), in MB. */
  rssMb?: number;
  detail: string;
}

export async function startInWaves(supervisor: Supervisor, endpoints: StackEndpoints, progress: Progress, services: ServiceDef[]): Promise<ServiceReport[]> {
  const reports: ServiceReport[] = [];
  const done = new Set<string>();
  for (let wave = services; wave.length > 0; ) {
    const ready = wave.filter((s) => !s.after?.some((a) => services.some((o) => o.name === a) && !done.has(a)));
    if (ready.length === 0) throw new RapflowError('INTERNAL', `services wait for each other: ${wave.map((s) => s.name).join(', ')}`);
    reports.push(...(await startAndWait(supervisor, endpoints, progress, ready)));
    for (const s of ready) done.add(s.name);
    wave = wave.filter((s) => !ready.includes(s));
  }
  return reports;
}

async function startAndWait(supervisor: Supervisor, endpoints: StackEndpoints, progress: Progress, services: ServiceDef[]): Promise<ServiceReport[]> {
  const started = new Map<string, number>();
  for (const svc of services) {
    if (await supervisor.start(svc)) {
      started.set(svc.name, Date.now());
      progress(`${svc.name}: started (log ${supervisor.logFile(svc)})`);
    } else {
      progress(`${svc.name}: already running`);
    }
  }
  const results = await Promise.allSettled(
    services.map(async (svc): Promise<ServiceReport> => {
      const detail = await supervisor.waitReady(svc);
      const t0 = started.get(svc.name);
      const pid = supervisor.runningPid(svc);
      const report: ServiceReport = { name: svc.name, url: svc.url(endpoints), state: 'up', pid, ...rssOf(pid), detail };
      if (t0 !== undefined) report.startSeconds = (Date.now() - t0) / 1000;
      progress(`${svc.name}: up${t0 !== undefined ? ` in ${report.startSeconds!.toFixed(1)} s` : ''} (${detail})`);
      return report;
    }),
  );
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    const reasons = failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n\n');
    const first = failures[0]!.reason as unknown;
    throw first instanceof RapflowError && failures.length === 1 ? first : new RapflowError('STACK_START_FAILED', reasons, { cause: first });
  }
  return results.map((r) => (r as PromiseFulfilledResult<ServiceReport>).value);
}

/** A service's report: down, or probed with a real request (and its memory when it answers). */
export function statusOf(supervisor: Supervisor, endpoints: StackEndpoints, svc: ServiceDef): Promise<ServiceReport> {
  const pid = supervisor.runningPid(svc);
  const url = svc.url(endpoints);
  if (pid === undefined) return Promise.resolve({ name: svc.name, url, state: 'down', detail: 'not started by rapflow' });
  return svc.probe(endpoints).then(
    (detail): ServiceReport => ({ name: svc.name, url, state: 'up', pid, detail, ...rssOf(pid) }),
    (err: unknown): ServiceReport => ({ name: svc.name, url, pid, state: 'not answering', detail: err instanceof Error ? err.message : String(err) }),
  );
}

/** VmRSS of a process and all its descendants (Linux /proc), as { rssMb }; {} when unknown. */
export function rssOf(pid: number | undefined): { rssMb?: number } {
  if (pid === undefined) return {};
  let kb = 0;
  const seen = new Set<number>();
  const visit = (p: number) => {
    if (seen.has(p)) return;
    seen.add(p);
    try {
      kb += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
      for (const task of readdirSync(`/proc/${p}/task`)) {
        for (const child of readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) visit(Number(child));
      }
    } catch {
      // gone, or not Linux
    }
  };
  visit(pid);
  return kb > 0 ? { rssMb: kb / 1024 } : {};
}
