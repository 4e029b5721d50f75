// Child processes for the benchmarks: rapflow commands run as in production, with their peak RSS
// sampled from /proc and a V8 CPU profile each, summarised by where the time went.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONSUMER_NODE_OPTIONS } from '../src/transport/flow.js';

export interface ProcResult {
  code: number;
  seconds: number;
  peakRssMb: number;
  output: string;
  /** JSON log lines the process wrote (pino), parsed. */
  logs: Record<string, unknown>[];
  /** Where its V8 CPU profiles are, when it was profiled. */
  profileDir?: string;
  /** CPU seconds (user + system, all threads) it used, sampled every 100 ms. */
  cpuSeconds: number;
  startedAt: number;
}

export interface Running {
  pid: number;
  result: Promise<ProcResult>;
  /** Resolves when a log line has this `msg`. */
  logged: (msg: string) => Promise<void>;
}

/** User + system CPU seconds of a process so far (fields 14 and 15 of /proc/PID/stat, in clock ticks of 1/100 s). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of a process now, in MB. */
export const rssMb = (pid: number): number => Math.round(rssKb(pid) / 1024);

const rssKb = (pid: number): number => {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
};

/**
 * Runs a rapflow command as a child process. With `profileDir` it writes V8 CPU profiles there;
 * without, it runs as in production (the profiler costs a few percent, so timed runs go without).
 */
export function runRapflow(args: string[], env: Record<string, string>, profileDir?: string): Running {
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const startedAt = Date.now();
  // A consumer runs with the heap the chart's Deployment gives it (CONSUMER_NODE_OPTIONS), unless the caller says otherwise.
  const heap = args[0] === 'consume' ? { NODE_OPTIONS: CONSUMER_NODE_OPTIONS } : {};
  // RAPFLOW_BENCH_DIST: another build of rapflow (an earlier commit's dist/) for a before-and-after in one run.
  const main = env.RAPFLOW_BENCH_DIST ? join(env.RAPFLOW_BENCH_DIST, 'cli/main.js') : 'dist/cli/main.js';
  const child = spawn('node', [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), main, ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...heap, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let peak = 0;
  const waiters: { msg: string; resolve: () => void }[] = [];
  const onData = (b: Buffer) => {
    output += b.toString();
    for (const w of [...waiters]) {
      if (!output.includes(`"msg":"${w.msg}"`)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let cpu = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssKb(child.pid!));
    cpu = processCpuSeconds(child.pid!) || cpu;
  }, 100);
  const result = new Promise<ProcResult>((resolve) =>
    child.on('close', (code) => {
      clearInterval(sampler);
      const logs = output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        });
      resolve({ code: code ?? -1, seconds: (Date.now() - startedAt) / 1000, peakRssMb: peak / 1024, output, logs, profileDir, cpuSeconds: cpu, startedAt });
    }),
  );
  return {
    pid: child.pid!,
    result,
    logged: (msg) => new Promise<void>((resolve) => (output.includes(`"msg":"${msg}"`) ? resolve() : waiters.push({ msg, resolve }))),
  };
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; hitCount?: number }[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a process's CPU time went: share per area (ours, each library, Node, GC), and the hottest functions. */
export function profileSummary(dir: string): { areas: [string, number][]; top: [string, number][]; seconds: number } {
  const areaOf = (url: string, fn: string): string => {
    if (fn === '(idle)') return 'idle (waiting on I/O)';
    if (fn === '(garbage collector)') return 'garbage collection';
    if (fn === '(program)') return 'V8 and native code';
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (m) return m[1]!;
    if (url.includes('/dist/')) return 'rapflow';
    if (url.startsWith('node:') || url === '') return 'Node.js runtime';
    return 'other';
  };
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  // One file per thread (the split's encoder runs on a worker thread): they add up.
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const us = p.timeDeltas[i] ?? 0;
      const n = byId.get(id);
      if (!n) return;
      total += us;
      const area = areaOf(n.callFrame.url, n.callFrame.functionName);
      areas.set(area, (areas.get(area) ?? 0) + us);
      if (area.startsWith('idle')) return;
      const name = `${n.callFrame.functionName || '(anonymous)'} (${n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^file:\/\//, '') || 'native'})`;
      fns.set(name, (fns.get(name) ?? 0) + us);
    });
  }
  const busy = total - (areas.get('idle (waiting on I/O)') ?? 0);
  const share = (m: Map<string, number>, base: number) => [...m].map(([k, v]) => [k, base ? v / base : 0] as [string, number]).sort((a, b) => b[1] - a[1]);
  return { areas: share(areas, total).slice(0, 8), top: share(fns, busy).slice(0, 8), seconds: total / 1e6 };
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
