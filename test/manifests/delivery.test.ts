// The delivery files: GitHub workflows (actionlint, with shellcheck on their scripts), Dependabot,
// and the Dockerfile (hadolint, and what the image must hold to run the manifests' commands).
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { find, loadFile, ROOT, run, tool } from './tools.js';

type Any = any;

/** shellcheck as scripts/shellcheck.sh installs it (npm run lint runs that script first). */
function shellcheck(): string {
  const version = /^version=(\S+)$/m.exec(readFileSync(join(ROOT, 'scripts/shellcheck.sh'), 'utf8'))?.[1];
  const bin = join(process.env['RAPFLOW_HOME'] ?? join(homedir(), '.cache/rapflow'), `tools/shellcheck-${version}/bin/shellcheck`);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`bash scripts/shellcheck.sh\``);
  return bin;
}

const workflows = () =>
  readdirSync(join(ROOT, '.github/workflows'))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join('.github/workflows', f));

/** The Dockerfile's stages: each FROM with the instructions under it. */
function stages(text: string): { from: string; name?: string; lines: string[] }[] {
  const args = Object.fromEntries([...text.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
  const out: { from: string; name?: string; lines: string[] }[] = [];
  for (const line of text.split('\n').filter((l) => l.trim() && !l.startsWith('#'))) {
    const from = /^FROM (\S+)(?: AS (\S+))?$/.exec(line);
    if (from) out.push({ from: from[1]!.replace(/\$\{(\w+)\}/g, (_, a: string) => args[a] ?? ''), ...(from[2] ? { name: from[2] } : {}), lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

describe('GitHub workflows', () => {
  it('pass actionlint, shellcheck included', () => {
    const r = run(tool('actionlint'), ['-shellcheck', shellcheck(), ...workflows()]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('actionlint fails on a broken workflow (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rapflow-actionlint-'));
    const bad = { on: { push: {} }, jobs: { x: { 'runs-on': 'ubuntu-24.04', steps: [{ run: 'echo $UNQUOTED_${{ github.event.head_commit.message }}' }, { uses: 'actions/checkout' }] } } };
    writeFileSync(join(dir, 'bad.yml'), yaml.dump(bad));
    const r = run(tool('actionlint'), ['-shellcheck', shellcheck(), join(dir, 'bad.yml')]);
    expect(r.code).not.toBe(0);
  });

  it('pin every action by a version tag', () => {
    for (const f of workflows()) {
      const uses = [...readFileSync(join(ROOT, f), 'utf8').matchAll(/uses: (\S+)/g)].map((m) => m[1]!);
      for (const u of uses) expect(u, `${f}: ${u}`).toMatch(/^[\w.-]+\/[\w./-]+@v?\d+(\.\d+)*$/);
    }
  });

  it('release: multi-arch push to ghcr.io with SBOM, keyless signature and a scan', () => {
    const text = readFileSync(join(ROOT, '.github/workflows/release.yml'), 'utf8');
    const wf = yaml.load(text) as Any;
    expect(wf.on.push.tags).toEqual(['v*']);
    const steps = wf.jobs.image.steps as Any[];
    const build = steps.find((s) => String(s.uses).startsWith('docker/build-push-action'));
    expect(build.with).toMatchObject({ platforms: 'linux/amd64,linux/arm64', push: true, sbom: true });
    expect(steps.find((s) => s.id === 'image').run).toMatch(/ghcr\.io\//);
    expect(wf.jobs.image.permissions).toMatchObject({ packages: 'write', 'id-token': 'write' });
    expect(steps.some((s) => /cosign sign --yes/.test(String(s.run)))).toBe(true);
    expect(steps.some((s) => String(s.uses).startsWith('aquasecurity/trivy-action'))).toBe(true);
  });

  it('Dependabot updates npm, actions and docker, grouped', () => {
    const d = yaml.load(readFileSync(join(ROOT, '.github/dependabot.yml'), 'utf8')) as Any;
    expect(d.version).toBe(2);
    expect(d.updates.map((u: Any) => u['package-ecosystem']).sort()).toEqual(['docker', 'github-actions', 'npm']);
    for (const u of d.updates) expect(Object.keys(u.groups ?? {}).length, u['package-ecosystem']).toBeGreaterThan(0);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const all = stages(text);
  const final = all.at(-1)!;

  it('passes hadolint', () => {
    const r = run(tool('hadolint'), ['Dockerfile']);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('hadolint fails on a poor Dockerfile (the check can fail)', () => {
    const r = run(tool('hadolint'), ['-'], 'FROM node:latest\nRUN apt-get update && apt-get install -y curl\n');
    expect(r.code).not.toBe(0);
  });

  it('builds on Node 24 and runs distroless Node 24 as a non-root user, with no stage on `latest`', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const s of all) expect(s.from, s.name).toMatch(/:(?!latest$)[\w.-]+$/);
    expect(all.slice(0, -1).every((s) => /^node:24[.-]/.test(s.from))).toBe(true);
    expect(final.from).toMatch(/^gcr\.io\/distroless\/nodejs24-/);
    const user = /^USER (\S+)$/m.exec(final.lines.join('\n'))?.[1];
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
    // No RUN in the final stage: there is no shell to run it with.
    expect(final.lines.filter((l) => l.startsWith('RUN'))).toEqual([]);
  });

  it('gives the final stage production dependencies only', () => {
    const modules = /^COPY --from=(\S+) \S*node_modules/m.exec(final.lines.join('\n'))?.[1];
    const deps = all.find((s) => s.name === modules);
    expect(deps?.lines.join('\n')).toMatch(/npm ci [^\n]*--omit=dev/);
  });

  it('has rapflow as entrypoint, the command the workflow steps run', () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(final.lines.join('\n'))![1]!) as string[];
    expect(entrypoint[1]).toBe(`/app/${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { rapflow: string } }).bin.rapflow}`);
    const wt = find(loadFile('argo/workflowtemplate.yaml'), 'WorkflowTemplate', 'rap-ingest');
    const steps = ((wt.spec as Any).templates as Any[]).filter((t) => t.container?.args?.[0] && !String(t.container.args[0]).includes('('));
    expect(steps.length).toBeGreaterThanOrEqual(4);
    for (const t of steps) expect(t.container.command, t.name).toEqual(entrypoint);
  });

  it('copies every folder the code reads at run time, and the build context lets them through', () => {
    const read = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith('.ts')) for (const m of readFileSync(join(ROOT, dir, e.name), 'utf8').matchAll(/projectPath\('([^'/]+)/g)) read.add(m[1]!);
      }
    };
    walk('src');
    expect(read.size).toBeGreaterThan(0);
    const copied = final.lines.map((l) => /^COPY (?!--from)(\S+) /.exec(l)?.[1]).filter(Boolean);
    for (const dir of read) expect(copied, dir).toContain(dir);
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    expect(ignore).toMatch(/^\*$/m);
    for (const path of ['package.json', 'package-lock.json', 'src/', ...[...read].map((d) => `${d}/`)]) expect(ignore, path).toContain(`!${path}`);
  });
});
