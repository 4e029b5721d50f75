// Before `npm start` and `npm test` (and in .ci/run): a Node that rapflow supports (fetched from
// the npm registry when this one is too old, see node-runtime.mjs), then `npm ci` when
// node_modules is missing or older than package-lock.json (always with --ci), so that the README's
// two commands work from a fresh clone with no other set-up step.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, delimiter } from 'node:path';
import { linkProjectNode, nodeForProject } from './node-runtime.mjs';

const node = nodeForProject();
const lock = 'package-lock.json';
const installed = 'node_modules/.package-lock.json';
const stale = process.argv.includes('--ci') || !existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs;
if (stale) {
  process.stderr.write('rapflow: installing npm dependencies (npm ci)...\n');
  // npm itself runs on the project's Node, so engine checks and install scripts see that one.
  const env = { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` };
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
linkProjectNode(node);
