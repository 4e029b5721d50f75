// `rapflow stack up | down | status | logs`.
import { spawn } from 'node:child_process';
import { Option, type Command } from 'commander';
import { Stack, endpointsFrom } from '../../stack/index.js';
import type { CliContext } from '../context.js';
import { formatReports } from '../format.js';
import { wholeNumber } from '../options.js';

export function stackFrom(ctx: CliContext): Stack {
  return new Stack(endpointsFrom(ctx.config), ctx.err, { home: ctx.config.stack.home, state: ctx.config.stack.state, env: ctx.env });
}

export function registerStack(program: Command, ctx: CliContext): void {
  const stack = program.command('stack').description('the local stack: Kafka, schema registry, MinIO, Cassandra, and Stargate when a coordinator is installed (STARGATE_HOME)');
  stack
    .command('up')
    .description('install (cached), start on 127.0.0.1 and wait until every service answers a real request')
    .argument('[services...]', 'only these services')
    .action(async (services: string[]) => {
      const t0 = Date.now();
      const reports = await stackFrom(ctx).up(services);
      ctx.out(formatReports(reports));
      ctx.out(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  stack
    .command('status')
    .description('which services are up (each is sent a real request); exit 3 when one is not')
    .argument('[services...]', 'only these services')
    .option('--json', 'machine-readable output')
    .action(async (services: string[], opts: { json?: boolean }) => {
      const reports = await stackFrom(ctx).status(services);
      ctx.out(opts.json ? JSON.stringify(reports, null, 2) : formatReports(reports));
      // An optional service that is not installed (Stargate) is not a failure: the stack runs without it.
      if (reports.some((r) => r.state !== 'up' && r.state !== 'not installed')) process.exitCode = 3;
    });
  stack
    .command('down')
    .description('stop the services rapflow started (and nothing else)')
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
    .action(async (service: string, opts: { lines: number; follow?: boolean }) => {
      const s = stackFrom(ctx);
      if (opts.follow) {
        await new Promise<void>((resolve) => {
          spawn('tail', ['-n', String(opts.lines), '-F', s.logFile(service)], { stdio: 'inherit' }).on('close', () => resolve());
        });
        return;
      }
      ctx.out(await s.logs(service, opts.lines));
    });
}
