#!/usr/bin/env node
// The `rapflow` command: the composition root. Reads the environment, builds adapters, maps errors to exit codes.
import { Command } from 'commander';
import { Registry } from '../codec/registry.js';
import { loadSchemaSet } from '../codec/schemas.js';
import { loadConfig } from '../config/index.js';
import { projectPath } from '../config/paths.js';
import { exitCodeOf, RapflowError } from '../errors.js';
import { validateSources } from '../pipeline/validate.js';
import { LocalSource } from '../source/local.js';
import { registerGenerate } from './commands/generate.js';
import { registerIngest } from './commands/ingest.js';
import { registerSchema } from './commands/schema.js';
import { registerStack, stackFrom } from './commands/stack.js';
import { registerValidate } from './commands/validate.js';
import type { CliContext } from './context.js';
import { formatReports } from './format.js';

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
  program
    .command('run')
    .description('the whole pipeline on the sample data (what `npm start` runs)')
    .action(async () => {
      const t0 = Date.now();
      const reports = await stackFrom(ctx).up();
      ctx.out(formatReports(reports));
      const set = loadSchemaSet(projectPath('avro'));
      const registered = await new Registry(ctx.config.registry.url, ctx.config.kafka.topicPrefix).registerAll(set);
      ctx.out(`\nschemas registered: ${[...registered.values()].map((r) => `${r.subject} (id ${r.id})`).join(', ')}`);
      const { report } = await validateSources([new LocalSource(projectPath('data'))], set.types);
      const docs = report.files.reduce((n, f) => n + f.documents, 0);
      ctx.out(`data/ validated: ${report.files.length} files, ${docs} documents, ${report.valid ? 'all valid' : 'INVALID (run rapflow validate data/)'}`);
      ctx.out(`\nDone in ${((Date.now() - t0) / 1000).toFixed(1)} s. The next stages (split to Kafka, consume into Cassandra, verify, report) are not built yet.`);
      if (!report.valid) process.exitCode = 1;
    });
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
      process.stderr.write(`rapflow: ${err.message}\n`);
    } else {
      process.stderr.write(`rapflow: unexpected error (a bug, please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    return exitCodeOf(err);
  }
}

process.exitCode = await main(process.argv);
