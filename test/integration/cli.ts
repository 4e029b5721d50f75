// Runs the built `rapflow` command as a process, the way users and the container do.
import { spawn } from 'node:child_process';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function rapflow(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runProcess('node', ['dist/cli/main.js', ...args], { env: { ...process.env, ...env } });
}

/** Runs `command` to its end with exactly `options.env`, collecting its output. */
export function runProcess(command: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
