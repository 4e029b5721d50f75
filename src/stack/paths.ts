// Where the local stack keeps its downloads, data, logs and pid files.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StackPaths {
  /** Download and build cache, shared by every clone on this machine (RAPFLOW_HOME). */
  home: string;
  /** Data, logs and pid files of the running services (RAPFLOW_STATE). */
  state: string;
  logs: string;
  run: string;
  /** The install/run scripts shipped with the project. */
  scripts: string;
}

export function stackPaths(home?: string, state?: string): StackPaths {
  const h = home ?? join(homedir(), '.cache', 'rapflow');
  const s = state ?? join(h, 'state');
  return {
    home: h,
    state: s,
    logs: join(s, 'logs'),
    run: join(s, 'run'),
    // src/stack and dist/stack both sit two levels below the project root.
    scripts: fileURLToPath(new URL('../../scripts/stack/', import.meta.url)),
  };
}
