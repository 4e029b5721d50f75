#!/usr/bin/env node
// The `rapflow` command: the composition root. Reads the environment, builds adapters, maps errors to exit codes.
import { spawn } from 'node:child_process';
import { Command, Option } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { exitCodeOf, RapflowError } from '../errors.js';
import { Stack, endpointsFrom } from '../stack/index.js';
import { formatReports } from './format.js';

const progress = (line: string) => process.stderr.write(`${line}\n`);

function stackFrom(config: Config): Stack {
  return new Stack(endpointsFrom(config), progress, { home: config.stack.home, state: config.stack.state, env: process.env });
}

function buildProgram(config: Config): Command {
  const program = new Command('rapflow')
    .description('Rap-as-Code from MinIO through Kafka into Cassandra: the How To DoK reference pipeline')
    .showHelpAfterError();

  const stack = program.command('stack').description('the local stack: Kafka, schema registry, MinIO, Cassandra');
  stack
    .command('up')
    .description('install (cached), start on 127.0.0.1 and wait until every service answers a real request')
    .argument('[services...]', 'only these services')
    .action(async (services: string[]) => {
      const t0 = Date.now();
      const reports = await stackFrom(config).up(services);
      console.log(formatReports(reports));
      console.log(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  stack
    .command('status')
    .description('which services are up (each is sent a real request)')
    .argument('[services...]', 'only these services')
    .option('--json', 'machine-readable output')
    .action(async (services: string[], opts: { json?: boolean }) => {
      const reports = await stackFrom(config).status(services);
      console.log(opts.json ? JSON.stringify(reports, null, 2) : formatReports(reports));
      if (reports.some((r) => r.state !== 'up')) process.exitCode = 3;
    });
  stack
    .command('down')
    .description('stop the services rapflow started (and nothing else)')
    .argument('[services...]', 'only these services')
    .action(async (services: string[]) => {
      const stopped = await stackFrom(config).down(services);
      console.log(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing of ours was running');
    });
  stack
    .command('logs')
    .description("print a service's log")
    .argument('<service>')
    .addOption(new Option('-n, --lines <n>', 'lines from the end').default(50).argParser((v) => Number.parseInt(v, 10)))
    .option('-f, --follow', 'keep printing new lines')
    .action(async (service: string, opts: { lines: number; follow?: boolean }) => {
      const s = stackFrom(config);
      if (opts.follow) {
        await new Promise<void>((resolve) => {
          spawn('tail', ['-n', String(opts.lines), '-F', s.logFile(service)], { stdio: 'inherit' }).on('close', () => resolve());
        });
        return;
      }
      console.log(await s.logs(service, opts.lines));
    });

  program
    .command('run')
    .description('the whole pipeline on the sample data (what `npm start` runs)')
    .action(async () => {
      const reports = await stackFrom(config).up();
      console.log(formatReports(reports));
      console.log('\nThe local stack is up. The pipeline stages (split, consume, verify, report) are not built yet.');
    });
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    const config = loadConfig(process.env);
    await buildProgram(config).parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof RapflowError) {
      process.stderr.write(`rapflow: ${err.message}\n`);
    } else {
      process.stderr.write(`rapflow: unexpected error (a bug, please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    return exitCodeOf(err);
  }
}

process.exit(await main(process.argv));
