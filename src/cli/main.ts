#!/usr/bin/env node
// The `rapflow` command's entry. It checks the Node version before anything else is loaded (a
// dependency may not even parse on an old Node), then runs the command line (cli.ts).
import { nodeSupported, nodeTooOldMessage } from './node-version.js';

if (nodeSupported(process.version)) {
  // kafkajs 2.2.4 sets timers with a negative delay on every connection, which Node 24 reports as
  // a TimeoutNegativeWarning per connection (tulios/kafkajs#1751, fixed in no release): harmless
  // (Node uses 1 ms, as the code intends), so only that warning is dropped; all others print.
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`(node:${process.pid}) ${w.name}: ${w.message}\n`);
  });
  await import('./cli.js');
} else {
  process.stderr.write(`rapflow: ${nodeTooOldMessage(process.version)}\n`);
  process.exitCode = 78;
}
