// The `rapflow` command (started by main.ts): the composition root. Reads the environment, builds adapters, maps errors to exit codes.
import { likelyTypos, loadConfig } from '../config/index.js';
import { exitCodeOf, RapflowError } from '../errors.js';
import type { CliContext } from './context.js';
import { buildProgram } from './program.js';

async function main(argv: string[]): Promise<number> {
  try {
    for (const { name, meant } of likelyTypos(process.env)) {
      process.stderr.write(`rapflow: warning: ${name} is not a setting rapflow reads, so its default is in force; did you mean ${meant}?\n`);
    }
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
