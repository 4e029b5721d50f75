// What every command gets from the composition root.
import type { Config } from '../config/index.js';

export interface CliContext {
  config: Readonly<Config>;
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
}
