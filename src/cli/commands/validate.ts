// `rapflow validate <path|dir|s3://bucket/prefix>...`: every problem of every file, exit 1 if any.
import type { Command } from 'commander';
import { loadSchemaSet } from '../../codec/schemas.js';
import { projectPath } from '../../config/paths.js';
import { formatProblem } from '../../model/validate.js';
import { validateSources } from '../../pipeline/validate.js';
import { LocalSource } from '../../source/local.js';
import { S3Source, s3Client } from '../../source/s3.js';
import type { ObjectSource } from '../../source/types.js';
import type { CliContext } from '../context.js';
import { count } from '../format.js';

export function sourcesFor(targets: string[], ctx: CliContext): ObjectSource[] {
  return targets.map((t) => (t.startsWith('s3://') ? new S3Source(s3Client(ctx.config.s3), t) : new LocalSource(t)));
}

export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check Rap-as-Code files against the Avro model and the format rules; exit 1 when anything is invalid')
    .argument('<targets...>', 'files, folders or s3://bucket/prefix')
    .option('--json', 'machine-readable report')
    .action(async (targets: string[], opts: { json?: boolean }) => {
      const { types } = loadSchemaSet(projectPath('avro'));
      const { report } = await validateSources(sourcesFor(targets, ctx), types);
      if (opts.json) {
        ctx.out(JSON.stringify(report, null, 2));
      } else {
        for (const f of report.files) for (const p of f.problems) ctx.out(formatProblem(p));
        for (const n of report.notes) ctx.out(`note: ${n}`);
        const invalid = report.files.filter((f) => !f.valid).length;
        const docs = report.files.reduce((n, f) => n + f.documents, 0);
        const problems = report.files.reduce((n, f) => n + f.problems.length, 0);
        ctx.out(
          report.valid
            ? `${count(report.files.length, 'file')}, ${count(docs, 'document')}: all valid`
            : `${count(report.files.length, 'file')}, ${count(docs, 'valid document')}: ${count(invalid, 'invalid file')}, ${count(problems, 'problem')}`,
        );
      }
      if (!report.valid) process.exitCode = 1;
    });
}
