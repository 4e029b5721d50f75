// `rapflow validate <path|dir|s3://bucket/prefix>...`: every problem of every file, exit 1 if any.
import type { Command } from 'commander';
import { loadSchemaSet } from '../../codec/schemas.js';
import { projectPath } from '../../config/paths.js';
import { formatProblem } from '../../model/validate.js';
import { validateSources, validationCounts } from '../../pipeline/validate.js';
import { LocalSource } from '../../source/local.js';
import { S3Source, s3Client } from '../../source/s3.js';
import type { ObjectSource } from '../../source/types.js';
import type { CliContext } from '../context.js';
import { count } from '../format.js';

export function sourcesFor(targets: string[], ctx: CliContext): ObjectSource[] {
  return targets.map((t) => (t.startsWith('s3://') ? new S3Source(s3Client(ctx.config.s3), t) : new LocalSource(t)));
}

/** The last line of `validate`: files and documents, then the invalid files (what split quarantines), then the files with references outside the set. */
export function validationSummary(n: ReturnType<typeof validationCounts>): string {
  const refs = n.withReferences > 0 ? `; ${count(n.withReferences, 'file')} with references outside these files (not invalid: split accepts them)` : '';
  return n.invalid === 0
    ? `${count(n.files, 'file')}, ${count(n.documents, 'document')}: all valid${refs}`
    : `${count(n.files, 'file')}, ${count(n.documents, 'valid document')}: ${count(n.invalid, 'invalid file')}, ${count(n.problems, 'problem')}${refs}`;
}

/** What `run` says of its validation: `13 validated (0 invalid)`, with the files that name artists or songs outside the folder when there are any. */
export function filesLine(n: ReturnType<typeof validationCounts>): string {
  return `${n.files} validated (${n.invalid} invalid${n.withReferences > 0 ? `, ${n.withReferences} with references outside these files` : ''})`;
}

export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check Rap-as-Code files against the Avro model and the format rules; exit 1 when a file is invalid (split would quarantine it); references to artists or songs outside the files are listed, not invalid')
    .argument('<targets...>', 'files, folders or s3://bucket/prefix')
    .option('--json', 'machine-readable report')
    .action(async (targets: string[], opts: { json?: boolean }) => {
      const { types } = loadSchemaSet(projectPath('avro'));
      const { report } = await validateSources(sourcesFor(targets, ctx), types);
      if (opts.json) {
        ctx.out(JSON.stringify(report, null, 2));
      } else {
        for (const f of report.files) for (const p of f.problems) ctx.out(formatProblem(p));
        for (const f of report.files) for (const p of f.references) ctx.out(`reference: ${formatProblem(p)}`);
        for (const n of report.notes) ctx.out(`note: ${n}`);
        ctx.out(validationSummary(validationCounts(report)));
      }
      if (!report.valid) process.exitCode = 1;
    });
}
