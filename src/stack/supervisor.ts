// Installs, starts, probes and stops the local stack's processes; knows only its own pid files.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { RapflowError } from '../errors.js';
import type { StackPaths } from './paths.js';
import { NOT_INSTALLED, type ServiceDef, type StackEndpoints } from './services.js';

export interface PidRecord {
  pid: number;
  startedAt: string;
  service: string;
}

export type Progress = (line: string) => void;

/** Something to wait on for a few milliseconds, synchronously. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

export class Supervisor {
  constructor(
    private readonly paths: StackPaths,
    private readonly endpoints: StackEndpoints,
    private readonly progress: Progress,
    /** Environment the scripts inherit (PATH, JAVA_HOME...); the CLI passes its own. */
    private readonly baseEnv: Record<string, string | undefined>,
  ) {
    mkdirSync(paths.logs, { recursive: true });
    mkdirSync(paths.run, { recursive: true });
  }

  logFile(svc: ServiceDef): string {
    return join(this.paths.logs, `${svc.name}.log`);
  }

  private pidFile(svc: ServiceDef): string {
    return join(this.paths.run, `${svc.name}.pid`);
  }

  private scriptEnv(svc: ServiceDef): NodeJS.ProcessEnv {
    return { ...this.baseEnv, RAPFLOW_HOME: this.paths.home, RAPFLOW_STATE: this.paths.state, ...svc.env(this.endpoints) };
  }

  /**
   * Runs the service's idempotent install step; its progress lines go to our progress output.
   * An optional service that is not installed resolves with what its script said about getting it.
   */
  async install(svc: ServiceDef, quiet = false): Promise<string | undefined> {
    const script = join(this.paths.scripts, svc.script);
    const tail: string[] = [];
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn('bash', [script, 'install'], { env: this.scriptEnv(svc), stdio: ['ignore', 'pipe', 'pipe'] });
      const onData = (buf: Buffer) => {
        for (const line of buf.toString().split('\n')) {
          if (!line.trim()) continue;
          tail.push(line);
          if (tail.length > 30) tail.shift();
          if (!quiet) this.progress(`  ${line}`);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', reject);
      child.on('close', (c) => resolve(c ?? 1));
    });
    if (code === NOT_INSTALLED && svc.optional) return tail.map((l) => l.replace(/^\S+: /, '')).join('\n');
    if (code !== 0) {
      throw new RapflowError('STACK_INSTALL_FAILED', `${svc.name}: install failed (exit ${code}):\n${tail.join('\n')}`, {
        context: { service: svc.name },
      });
    }
    return undefined;
  }

  readPid(svc: ServiceDef): PidRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.pidFile(svc), 'utf8')) as PidRecord;
    } catch {
      return undefined;
    }
  }

  /**
   * Alive and started by us: its command line is our run script (before it execs) or points into
   * our cache directory (after), so a recycled pid of an unrelated process is never ours.
   */
  isOurs(pid: number): boolean {
    // A process in the middle of execve (our run scripts `exec` the service) shows an empty
    // command line for a moment: look again rather than call a live service foreign.
    for (let attempt = 0; attempt < 20; attempt++) {
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return false;
      }
      if (cmdline !== '') return cmdline.includes(this.paths.home) || cmdline.includes(this.paths.scripts);
      if (!processAlive(pid)) return false;
      Atomics.wait(PAUSE, 0, 0, 10);
    }
    return false;
  }

  runningPid(svc: ServiceDef): number | undefined {
    const rec = this.readPid(svc);
    return rec && this.isOurs(rec.pid) ? rec.pid : undefined;
  }

  /** Starts the service detached unless ours is already running. Returns false if it was running. */
  async start(svc: ServiceDef): Promise<boolean> {
    if (this.runningPid(svc) !== undefined) return false;
    const host = svc.host?.(this.endpoints) ?? '127.0.0.1';
    for (const port of svc.ports(this.endpoints)) {
      if (await portAnswers(port, host)) {
        throw new RapflowError(
          'STACK_PORT_BUSY',
          `${svc.name}: port ${host}:${port} is already taken by a process rapflow did not start; stop it or set another port`,
          { context: { service: svc.name, port } },
        );
      }
    }
    const log = this.logFile(svc);
    const fd = openSync(log, 'a');
    writeFileSync(fd, `\n=== rapflow stack: starting ${svc.name} at ${new Date().toISOString()} ===\n`);
    const child = spawn('bash', [join(this.paths.scripts, svc.script), 'run'], {
      env: this.scriptEnv(svc),
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    closeSync(fd);
    if (child.pid === undefined) {
      throw new RapflowError('STACK_START_FAILED', `${svc.name}: could not spawn its run script`, { context: { service: svc.name, logFile: log } });
    }
    child.unref();
    const rec: PidRecord = { pid: child.pid, startedAt: new Date().toISOString(), service: svc.name };
    writeFileSync(this.pidFile(svc), JSON.stringify(rec));
    return true;
  }

  /** Probes until the service answers a real request, the process dies, or the deadline passes. */
  async waitReady(svc: ServiceDef, timeoutMs = svc.startTimeoutMs): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    const started = this.readPid(svc);
    for (;;) {
      // The process we just spawned: judged by its pid alone (the command-line check that keeps
      // `down` away from other processes once failed here for a live broker, cause unknown).
      if (started === undefined || !processAlive(started.pid)) {
        throw await this.startFailure(svc, 'the process exited');
      }
      try {
        return await svc.probe(this.endpoints);
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) {
        const reason = lastError instanceof Error ? lastError.message : String(lastError);
        throw await this.startFailure(svc, `no answer within ${Math.round(timeoutMs / 1000)} s (last probe: ${reason})`);
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  private async startFailure(svc: ServiceDef, what: string): Promise<RapflowError> {
    const log = this.logFile(svc);
    const text = existsSync(log) ? await readFile(log, 'utf8') : '';
    const lastRun = text.slice(text.lastIndexOf('=== rapflow stack: starting'));
    const cause = likelyCause(lastRun);
    const tail = lastRun.split('\n').slice(-15).join('\n');
    return new RapflowError(
      'STACK_START_FAILED',
      `${svc.name}: ${what}. Log: ${log}${cause ? `\nLikely cause: ${cause}` : ''}\nLast lines:\n${tail}`,
      { context: { service: svc.name, logFile: log } },
    );
  }

  /** Stops our process group: SIGTERM, then SIGKILL after the grace period. */
  async stop(svc: ServiceDef, graceMs = 30_000): Promise<boolean> {
    const pid = this.runningPid(svc);
    rmSync(this.pidFile(svc), { force: true });
    if (pid === undefined) return false;
    signalGroup(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && processAlive(pid)) await new Promise((r) => setTimeout(r, 250));
    if (processAlive(pid)) signalGroup(pid, 'SIGKILL');
    return true;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    // ESRCH: the group is already gone, which is what we wanted.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Alive and not a zombie (a zombie has exited; only its parent has not collected it yet). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portAnswers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (v: boolean) => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const CAUSES: [RegExp, string][] = [
  [/Address already in use|BindException|address already in use/i, 'a port it needs is taken by another process'],
  [/UnsupportedClassVersionError|has been compiled by a more recent version/, 'the Java runtime is too old for this jar'],
  // Not the bare word: the JVM flags every start logs (-XX:+HeapDumpOnOutOfMemoryError) contain it.
  [/java\.lang\.OutOfMemoryError|Cannot allocate memory/, 'not enough memory for its heap'],
  [/INCOMPATIBLE_SCHEMA/, 'it holds the schema of another ring: its data folder belongs to the other topology, or remove it and start again'],
  [/No such file or directory|ClassNotFoundException|NoClassDefFoundError/, 'an incomplete install: remove its folder under the cache and run `rapflow stack up` again'],
  [/Permission denied/, 'a file or folder it needs is not writable'],
  [/Invalid cluster.id|INCONSISTENT_CLUSTER_ID|Cluster ID.*doesn't match/i, 'the data folder was formatted for another cluster: `rapflow stack down --purge`'],
];

export function likelyCause(log: string): string | undefined {
  return CAUSES.find(([re]) => re.test(log))?.[1];
}
