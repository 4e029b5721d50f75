// `rapflow schema check | register`: avro/ against the registry (or, offline, against avro/history).
import type { Command } from 'commander';
import { offlineBackwardProblems, Registry } from '../../codec/registry.js';
import { loadReleases, loadSchemaSet } from '../../codec/schemas.js';
import { projectPath } from '../../config/paths.js';
import type { CliContext } from '../context.js';

export function registerSchema(program: Command, ctx: CliContext): void {
  const schema = program.command('schema').description('the Avro datamodel in avro/ and the schema registry');
  schema
    .command('check')
    .description('compare avro/ with the registry (or with the released versions in avro/history with --offline); exit 1 on any difference')
    .option('--offline', 'no registry: check that avro/ reads data written with every released version')
    .option('--json', 'machine-readable output')
    .action(async (opts: { offline?: boolean; json?: boolean }) => {
      const current = loadSchemaSet(projectPath('avro'));
      if (opts.offline) {
        const releases = loadReleases(projectPath('avro/history'));
        const problems = offlineBackwardProblems(current, releases.map((r) => r.set));
        if (opts.json) ctx.out(JSON.stringify({ releases: releases.map((r) => r.version), problems }, null, 2));
        else ctx.out(problems.length ? problems.join('\n') : `avro/ is backward compatible with releases ${releases.map((r) => `v${r.version}`).join(', ')}`);
        if (problems.length) process.exitCode = 1;
        return;
      }
      const statuses = await new Registry(ctx.config.registry.url, ctx.config.kafka.topicPrefix).check(current);
      if (opts.json) ctx.out(JSON.stringify(statuses, null, 2));
      else {
        const width = Math.max(...statuses.map((s) => s.subject.length));
        for (const s of statuses) ctx.out(`${s.subject.padEnd(width)}  ${s.state.padEnd(7)}  ${s.detail}`);
      }
      if (statuses.some((s) => s.state !== 'current')) process.exitCode = 1;
    });
  schema
    .command('register')
    .description('register every schema of avro/ under <topic>-value (idempotent; refused when not backward compatible)')
    .action(async () => {
      const registered = await new Registry(ctx.config.registry.url, ctx.config.kafka.topicPrefix).registerAll(loadSchemaSet(projectPath('avro')));
      const width = Math.max(...[...registered.values()].map((r) => r.subject.length));
      for (const [name, r] of registered) ctx.out(`${r.subject.padEnd(width)}  id ${r.id} (${name})`);
    });
}
