// `rapflow k8s up | status | down | logs`: the local single-node Kubernetes, on the stack's supervisor.
import { spawn } from 'node:child_process';
import { Option, type Command } from 'commander';
import { endpointsFrom } from '../../stack/index.js';
import { LocalKubernetes } from '../../stack/k8s.js';
import type { CliContext } from '../context.js';
import { formatReports } from '../format.js';
import { wholeNumber } from '../options.js';

function cluster(ctx: CliContext): LocalKubernetes {
  return new LocalKubernetes(endpointsFrom(ctx.config), ctx.err, { home: ctx.config.stack.home, state: ctx.config.stack.state, env: ctx.env });
}

export function registerK8s(program: Command, ctx: CliContext): void {
  const k8s = program
    .command('k8s')
    .description('a local single-node Kubernetes (v1.36, built once from Debian packages and the Go module proxy; needs root): loopback and its own bridge only');
  k8s
    .command('up')
    .description('build (cached), prepare the host, start every component and wait until a pod runs')
    .action(async () => {
      const t0 = Date.now();
      const { reports, podSeconds, readySeconds } = await cluster(ctx).up();
      ctx.out(formatReports(reports));
      ctx.out(`k8s up: a pod ran ${readySeconds.toFixed(1)} s after the first component started (the pod itself: ${podSeconds.toFixed(1)} s); ${((Date.now() - t0) / 1000).toFixed(1)} s in all`);
    });
  k8s
    .command('present')
    .description("present what the Strimzi and K8ssandra operators would create (they cannot run here): the local stack's Kafka (TLS, SCRAM users with ACLs), Cassandra and Stargate behind their Service and Secret names")
    .option('-n, --namespace <ns>', 'the namespace the chart is installed in', 'rapflow')
    .action(async (opts: { namespace: string }) => {
      const names = await cluster(ctx).present(opts.namespace);
      ctx.out(`presented in namespace ${opts.namespace}: ${names.join(', ')}`);
    });
  k8s
    .command('status')
    .description('which components answer (each is sent a real request), with their memory; exit 3 when one does not')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const reports = await cluster(ctx).status();
      ctx.out(opts.json ? JSON.stringify(reports, null, 2) : formatReports(reports));
      if (reports.some((r) => r.state !== 'up')) process.exitCode = 3;
    });
  k8s
    .command('down')
    .description("stop the cluster's components and pods, and undo every change made to the host")
    .action(async () => {
      const stopped = await cluster(ctx).down();
      ctx.out(stopped.length ? `stopped: ${stopped.join(', ')}; host restored` : 'nothing of ours was running; host restored');
    });
  k8s
    .command('logs')
    .description("print a component's log (etcd, apiserver, kubelet, ...)")
    .argument('<component>')
    .addOption(new Option('-n, --lines <n>', 'lines from the end').default(50).argParser((v) => wholeNumber(v, '--lines', 1)))
    .option('-f, --follow', 'keep printing new lines')
    .action(async (name: string, opts: { lines: number; follow?: boolean }) => {
      const file = cluster(ctx).logFile(name);
      await new Promise<void>((resolve) => {
        spawn('tail', ['-n', String(opts.lines), ...(opts.follow ? ['-F'] : []), file], { stdio: 'inherit' }).on('close', () => resolve());
      });
    });
}
