// The supervisor against real child processes (a small shell service), no network services needed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RapflowError } from '../../src/errors.js';
import type { StackPaths } from '../../src/stack/paths.js';
import type { ServiceDef, StackEndpoints } from '../../src/stack/services.js';
import { processAlive, Supervisor } from '../../src/stack/supervisor.js';

const root = mkdtempSync(join(tmpdir(), 'rapflow-supervisor-'));
const paths: StackPaths = { home: join(root, 'home'), state: join(root, 'state'), logs: join(root, 'state/logs'), run: join(root, 'state/run'), scripts: join(root, 'scripts/') };
mkdirSync(paths.scripts, { recursive: true });
writeFileSync(
  join(paths.scripts, 'sleeper.sh'),
  `set -eu
case "$1" in
  install) echo "sleeper: nothing to install";;
  run) echo "sleeper: starting"; exec python3 -c 'import sys, time; time.sleep(300)' "$RAPFLOW_HOME/sleeper";;
esac
`,
);
writeFileSync(join(paths.scripts, 'crasher.sh'), `case "$1" in install) exit 0;; run) echo "java.net.BindException: Address already in use"; exit 1;; esac\n`);
writeFileSync(join(paths.scripts, 'broken-install.sh'), `case "$1" in install) echo "mvn: could not resolve org.example:missing:1.0" >&2; exit 1;; esac\n`);

const endpoints = {} as StackEndpoints;
const service = (name: string, script: string, ports: number[] = [], answers = true): ServiceDef => ({
  name,
  script,
  ports: () => ports,
  url: () => `test://${name}`,
  probe: () => (answers ? Promise.resolve('ok') : Promise.reject(new Error('connection refused'))),
  startTimeoutMs: 5_000,
  env: () => ({}),
});

describe('Supervisor with real processes', () => {
  const lines: string[] = [];
  const sup = () => new Supervisor(paths, endpoints, (l) => lines.push(l), { PATH: process.env.PATH });
  const foreign: ChildProcess[] = [];
  let server: Server | undefined;
  afterAll(() => {
    for (const c of foreign) c.kill('SIGKILL');
    server?.close();
  });

  it('installs with progress, starts detached, knows the process as its own, and stops it', async () => {
    const s = sup();
    const svc = service('sleeper', 'sleeper.sh');
    await s.install(svc);
    expect(lines).toContain('  sleeper: nothing to install');
    expect(await s.start(svc)).toBe(true);
    expect(await s.start(svc)).toBe(false); // already running: not started twice
    const pid = s.runningPid(svc)!;
    expect(await s.waitReady(svc)).toBe('ok');
    expect(await s.stop(svc, 5_000)).toBe(true);
    expect(processAlive(pid)).toBe(false);
  });

  it('never stops a process it did not start, even when a pid file names it', async () => {
    const s = sup();
    const svc = service('sleeper', 'sleeper.sh');
    const other = spawn('sleep', ['300']);
    foreign.push(other);
    writeFileSync(join(paths.run, 'sleeper.pid'), JSON.stringify({ pid: other.pid, startedAt: new Date().toISOString(), service: 'sleeper' }));
    expect(s.runningPid(svc)).toBeUndefined();
    expect(await s.stop(svc)).toBe(false);
    expect(processAlive(other.pid!)).toBe(true);
  });

  it('refuses to start on a port another process holds', async () => {
    server = createServer();
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const err = await sup().start(service('sleeper', 'sleeper.sh', [port])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RapflowError);
    expect((err as RapflowError).code).toBe('STACK_PORT_BUSY');
    expect((err as RapflowError).message).toContain(`127.0.0.1:${port}`);
  });

  it('names the service, its log file and the likely cause when a start fails', async () => {
    const s = sup();
    const svc = service('crasher', 'crasher.sh', [], false);
    await s.start(svc);
    const err = (await s.waitReady(svc).catch((e: unknown) => e)) as RapflowError;
    expect(err.code).toBe('STACK_START_FAILED');
    expect(err.message).toMatch(/^crasher: the process exited\. Log: .*crasher\.log/);
    expect(err.message).toContain('Likely cause: a port it needs is taken by another process');
  });

  it('reports a failed install with its output', async () => {
    const err = (await sup().install(service('broken', 'broken-install.sh')).catch((e: unknown) => e)) as RapflowError;
    expect(err.code).toBe('STACK_INSTALL_FAILED');
    expect(err.message).toContain('could not resolve org.example:missing:1.0');
  });
});
