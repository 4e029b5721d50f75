// The `rapflow` command's commands, built on a context (main.ts gives the real one; tests their own).
import { Command } from 'commander';
import { registerBackfill } from './commands/backfill.js';
import { registerConsume } from './commands/consume.js';
import { registerDlq } from './commands/dlq.js';
import { registerGenerate } from './commands/generate.js';
import { registerIngest } from './commands/ingest.js';
import { registerSchema } from './commands/schema.js';
import { registerK8s } from './commands/k8s.js';
import { registerStack } from './commands/stack.js';
import { registerQuery } from './commands/query.js';
import { registerReport } from './commands/report.js';
import { registerRun } from './commands/run.js';
import { registerValidate } from './commands/validate.js';
import { registerVerify } from './commands/verify.js';
import type { CliContext } from './context.js';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('rapflow')
    .description('Rap-as-Code from MinIO through Kafka into Cassandra: the How To DoK reference pipeline')
    .showHelpAfterError()
    .exitOverride();
  registerStack(program, ctx);
  registerK8s(program, ctx);
  registerValidate(program, ctx);
  registerSchema(program, ctx);
  registerGenerate(program, ctx);
  registerIngest(program, ctx);
  registerConsume(program, ctx);
  registerVerify(program, ctx);
  registerDlq(program, ctx);
  registerBackfill(program, ctx);
  registerQuery(program, ctx);
  registerReport(program, ctx);
  registerRun(program, ctx);
  return program;
}
