#!/usr/bin/env node
// The `rapflow` command's entry. It checks the Node version before anything else is loaded (a
// dependency may not even parse on an old Node), then runs the command line (cli.ts).
import { nodeSupported, nodeTooOldMessage } from './node-version.js';

if (nodeSupported(process.version)) {
  const { dropKafkajsTimerWarnings } = await import('../runtime/warnings.js');
  dropKafkajsTimerWarnings();
  await import('./cli.js');
} else {
  process.stderr.write(`rapflow: ${nodeTooOldMessage(process.version)}\n`);
  process.exitCode = 78;
}
