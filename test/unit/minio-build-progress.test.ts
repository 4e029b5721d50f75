// The MinIO build (scripts/stack/minio.sh install, minutes of silence from `go install` on a fresh
// machine) says it is still going, with the time so far, and the supervisor passes that on as it
// comes. The real script runs; `go` is a stand-in on PATH that takes 3.5 s to "build" (a real
// build is 4 minutes of two cores; bench and CI see it).
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StackPaths } from '../../src/stack/paths.js';
import type { ServiceDef, StackEndpoints } from '../../src/stack/services.js';
import { Supervisor } from '../../src/stack/supervisor.js';

const root = mkdtempSync(join(tmpdir(), 'rapflow-minio-build-'));
const paths: StackPaths = { home: join(root, 'home'), state: join(root, 'state'), logs: join(root, 'state/logs'), run: join(root, 'state/run'), scripts: `${resolve('scripts/stack')}/` };
const version = execFileSync('bash', ['scripts/stack/minio.sh', 'version'], { encoding: 'utf8' }).trim();
const fakeBin = join(root, 'fake-bin');
mkdirSync(fakeBin);
// `go install` sleeps, then writes the binary; `go version -m` reports the module version in the binary.
writeFileSync(
  join(fakeBin, 'go'),
  `#!/usr/bin/env bash
case "$1" in
  install) sleep 3.5; printf '#!/bin/sh\\n' > "$GOBIN/minio"; chmod +x "$GOBIN/minio";;
  version) printf '%s: go1.25\\n\\tmod\\tgithub.com/minio/minio\\t${version}\\th1:x=\\n' "$3";;
  *) exit 2;;
esac
`,
);
chmodSync(join(fakeBin, 'go'), 0o755);

const minio: ServiceDef = {
  name: 'minio',
  script: 'minio.sh',
  ports: () => [],
  url: () => 'test://minio',
  probe: () => Promise.resolve('ok'),
  startTimeoutMs: 5_000,
  env: () => ({ MINIO_PROGRESS_SECONDS: '1' }),
};

describe('the MinIO build on a fresh machine', () => {
  it('prints the time so far at each interval while go builds, and the supervisor shows each line as it comes', async () => {
    const t0 = Date.now();
    const lines: { at: number; line: string }[] = [];
    const sup = new Supervisor(paths, {} as StackEndpoints, (line) => lines.push({ at: Date.now() - t0, line }), { PATH: `${fakeBin}:${process.env.PATH ?? ''}` });
    await sup.install(minio);
    const finished = Date.now() - t0;

    expect(lines[0]!.line).toMatch(/^ {2}minio: building github\.com\/minio\/minio@\S+ from source into .*: about 4 min on 2 cores/);
    const progress = lines.filter((l) => l.line.includes('still building MinIO'));
    // About one a second here (the interval is 30 s by default); a busy machine may stretch the sleeps.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const p of progress) expect(p.line).toMatch(/^ {2}minio: still building MinIO: \d s so far \(about 4 min in all on 2 cores\)$/);
    const seconds = progress.map((p) => Number(/(\d) s so far/.exec(p.line)![1]));
    expect(seconds).toEqual([...seconds].sort());
    expect(new Set(seconds).size).toBe(seconds.length);
    // Shown while the build runs, not all at its end.
    expect(progress[0]!.at).toBeLessThan(finished - 1_000);
    expect(lines.at(-1)!.line).toMatch(/^ {2}minio: installed \S+ in [34] s$/);
  });

  it('is silent the second time: the binary is there', async () => {
    const lines: string[] = [];
    const sup = new Supervisor(paths, {} as StackEndpoints, (line) => lines.push(line), { PATH: `${fakeBin}:${process.env.PATH ?? ''}` });
    await sup.install(minio);
    expect(lines).toEqual([`  minio: ${version} already installed at ${join(paths.home, 'bin/minio')}`]);
  });
});
