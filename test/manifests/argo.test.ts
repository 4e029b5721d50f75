// argo/ is the chart's Argo part as plain YAML (kept in step here), and `argo lint --offline` accepts it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { argoFiles } from './argo-files.js';
import { loadFile, ROOT, run, tool } from './tools.js';

const ARGO_KINDS = ['argo/workflowtemplate.yaml', 'argo/cronworkflow.yaml'];

describe('argo/', () => {
  it('holds what the chart renders for Argo with its defaults', () => {
    const want = argoFiles();
    if (process.env['RAPFLOW_UPDATE_MANIFESTS'] === '1') {
      mkdirSync(join(ROOT, 'argo'), { recursive: true });
      for (const [file, text] of Object.entries(want)) writeFileSync(join(ROOT, 'argo', file), text);
    }
    for (const [file, text] of Object.entries(want)) {
      const path = join(ROOT, 'argo', file);
      expect(existsSync(path), `${path} missing: RAPFLOW_UPDATE_MANIFESTS=1 npx vitest run --project manifests`).toBe(true);
      expect(readFileSync(path, 'utf8'), `argo/${file} differs from the chart: regenerate it (see test/manifests/argo-files.ts)`).toBe(text);
    }
  });

  it('passes argo lint --offline', () => {
    const r = run(tool('argo'), ['lint', '--offline', '--output', 'simple', ...ARGO_KINDS]);
    expect(r.stdout.trim()).toBe('no linting errors found!');
    expect(r.code).toBe(0);
  });

  it('argo lint --offline fails on a broken template (the check can fail)', () => {
    const [template] = loadFile('argo/workflowtemplate.yaml');
    const broken = structuredClone(template!) as unknown as { spec: { templates: { name: string; dag?: { tasks: { template: string }[] } }[] } };
    broken.spec.templates.find((t) => t.dag)!.dag!.tasks[0]!.template = 'no-such-template';
    const dir = mkdtempSync(join(tmpdir(), 'rapflow-argo-'));
    writeFileSync(join(dir, 'broken.yaml'), yaml.dump(broken));
    const r = run(tool('argo'), ['lint', '--offline', '--output', 'simple', join(dir, 'broken.yaml'), 'argo/cronworkflow.yaml']);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/no-such-template/);
  });
});
