// `rapflow stack up | down | status | logs`.
import { spawn } from 'node:child_process';
import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { Stack, endpointsFrom } from '../../stack/index.js';
import type { CliContext } from '../context.js';
import { formatReports } from '../format.js';
import { wholeNumber } from '../options.js';

/** The stack of the configured topology, or of `--nodes` (which then stands for RAPFLOW_NODES). */
export function stackFrom(ctx: CliContext, nodes?: string): Stack {
  const config = nodes === undefined ? ctx.config : loadConfig({ ...ctx.env, RAPFLOW_NODES: nodes });
  return new Stack(endpointsFrom(config), ctx.err, { home: config.stack.home, state: config.stack.state, env: ctx.env, nodes: config.stack.nodes });
}

const nodesOption = () => new Option('--nodes <n>', 'the single node (1) or the three-node cluster (3); default: RAPFLOW_NODES, else 1').choices(['1', '3']);

export function registerStack(program: Command, ctx: CliContext): void {
  const stack = program.command('stack').description('the local stack: Kafka, schema registry, MinIO, Cassandra, and Stargate when a coordinator is installed (STARGATE_HOME)');
  stack
    .command('up')
    .description('install (cached), start on loopback addresses and wait until every service answers a real request')
    .argument('[services...]', 'only these services')
    .addOption(nodesOption())
    .action(async (services: string[], opts: { nodes?: string }) => {
      const t0 = Date.now();
      const reports = await stackFrom(ctx, opts.nodes).up(services);
      ctx.out(formatReports(reports));
      ctx.out(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      if (opts.nodes === '3' && ctx.config.stack.nodes !== 3) ctx.out('the cluster is up: set RAPFLOW_NODES=3 for every rapflow command that should use it (brokers, contact point and replication follow)');
    });
  stack
    .command('status')
    .description('which services are up (each is sent a real request); exit 3 when one is not')
    .argument('[services...]', 'only these services')
    .option('--json', 'machine-readable output')
    .addOption(nodesOption())
    .action(async (services: string[], opts: { json?: boolean; nodes?: string }) => {
      const reports = await stackFrom(ctx, opts.nodes).status(services);
      ctx.out(opts.json ? JSON.stringify(reports, null, 2) : formatReports(reports));
      // An optional service that is not installed (Stargate) is not a failure: the stack runs without it.
      if (reports.some((r) => r.state !== 'up' && r.state !== 'not installed')) process.exitCode = 3;
    });
  stack
    .command('down')
    .description('stop the services rapflow started (and nothing else), of either topology')
    .argument('[services...]', 'only these services')
    .action(async (services: string[]) => {
      const stopped = await stackFrom(ctx).down(services);
      ctx.out(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing of ours was running');
    });
  stack
    .command('logs')
    .description("print a service's log")
    .argument('<service>')
    .addOption(new Option('-n, --lines <n>', 'lines from the end').default(50).argParser((v) => wholeNumber(v, '--lines', 1)))
    .option('-f, --follow', 'keep printing new lines')
    .addOption(nodesOption())
    .action(async (service: string, opts: { lines: number; follow?: boolean; nodes?: string }) => {
      const s = stackFrom(ctx, opts.nodes);
      if (opts.follow) {
        await new Promise<void>((resolve) => {
          spawn('tail', ['-n', String(opts.lines), '-F', s.logFile(service)], { stdio: 'inherit' }).on('close', () => resolve());
        });
        return;
      }
      ctx.out(await s.logs(service, opts.lines));
    });
}
