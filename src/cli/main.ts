#!/usr/bin/env node
// The `rapflow` command: the composition root. Reads the environment, builds adapters, maps errors to exit codes.
import { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { exitCodeOf, RapflowError } from '../errors.js';
import { registerConsume } from './commands/consume.js';
import { registerGenerate } from './commands/generate.js';
import { registerIngest } from './commands/ingest.js';
import { registerSchema } from './commands/schema.js';
import { registerStack } from './commands/stack.js';
import { registerQuery } from './commands/query.js';
import { registerReport } from './commands/report.js';
import { registerRun } from './commands/run.js';
import { registerValidate } from './commands/validate.js';
import { registerVerify } from './commands/verify.js';
import type { CliContext } from './context.js';

function buildProgram(ctx: CliContext): Command {
  const program = new Command('rapflow')
    .description('Rap-as-Code from MinIO through Kafka into Cassandra: the How To DoK reference pipeline')
    .showHelpAfterError()
    .exitOverride();
  registerStack(program, ctx);
  registerValidate(program, ctx);
  registerSchema(program, ctx);
  registerGenerate(program, ctx);
  registerIngest(program, ctx);
  registerConsume(program, ctx);
  registerVerify(program, ctx);
  registerQuery(program, ctx);
  registerReport(program, ctx);
  registerRun(program, ctx);
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    const ctx: CliContext = {
      config: loadConfig(process.env),
      env: process.env,
      out: (text) => process.stdout.write(`${text}\n`),
      err: (text) => process.stderr.write(`${text}\n`),
    };
    await buildProgram(ctx).parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const commanderExit = (err as { exitCode?: number; code?: string }).code?.startsWith('commander.');
    if (commanderExit) return (err as { exitCode: number }).exitCode === 0 ? 0 : 78;
    if (err instanceof RapflowError) {
      process.stderr.write(`rapflow: ${err.code}: ${err.message}\n`);
    } else {
      process.stderr.write(`rapflow: unexpected error (a bug, please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    return exitCodeOf(err);
  }
}

process.exitCode = await main(process.argv);
