// Which Node rapflow runs on, and how a fresh clone gets one (used by ensure-deps.mjs and .ci/run).
//
// rapflow supports Node 24 LTS and newer, and 22 from 22.22 (what @platformatic/kafka declares).
// When the Node that runs npm is older (our machines have Node 20), the README's commands still
// work: Node 24 comes from the npm registry (the `node` package, which pulls in the binary for this
// platform), is cached under $RAPFLOW_HOME/node/<version>, and is linked as node_modules/.bin/node,
// which npm puts first on PATH for every script. Hand-written because no library does this step:
// version managers (nvm, volta, fnm) are installed by the user, not by a project.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The Node that a too-old one is replaced with (package.json config.bootstrapNode). */
export const BOOTSTRAP_NODE = pkg.config.bootstrapNode;

/** "v24.6.0" or "24.6.0" to [24, 6, 0]. */
function parts(version) {
  return version.replace(/^v/, '').split('.').map((p) => Number.parseInt(p, 10) || 0);
}

function atLeast(version, min) {
  const [a, b, c] = parts(version);
  const [x, y, z] = parts(min);
  return a !== x ? a > x : b !== y ? b > y : c >= z;
}

/** True when rapflow runs on this Node as it is (kept in step with package.json engines). */
export function supported(version) {
  const [major] = parts(version);
  return major === 22 ? atLeast(version, '22.22.0') : major >= 24 && atLeast(version, '24.6.0');
}

/** True when this Node's npm can still fetch a newer Node (npm 10 needs Node 18.17). */
export function canBootstrap(version) {
  return atLeast(version, '18.17.0');
}

/** The one sentence a user with a Node too old for everything gets. */
export function tooOldSentence(version) {
  return `rapflow needs Node.js 24 LTS (or 22.22 and later) and this is Node ${version}, too old even to fetch it: install Node 24 from https://nodejs.org/en/download (or run \`nvm install 24\`), then run the command again.`;
}

const cacheRoot = () => process.env.RAPFLOW_HOME ?? join(homedir(), '.cache', 'rapflow');

/** The cached Node binary of `version`, installed from the npm registry when missing. */
function cachedNode(version) {
  const dir = join(cacheRoot(), 'node', version);
  const bin = join(dir, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(bin) && spawnSync(bin, ['--version']).stdout?.toString().trim() === `v${version}`) return bin;
  process.stderr.write(`rapflow: Node ${process.version} is older than rapflow supports; fetching Node ${version} from the npm registry into ${dir} (once)...\n`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', `node@${version}`], { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(bin)) {
    throw new Error(`could not install Node ${version} from the npm registry (npm exit ${r.status}); install Node 24 from https://nodejs.org/en/download and run the command again`);
  }
  return bin;
}

/**
 * The Node binary the project's scripts should run on: this one when it is supported, otherwise the
 * bootstrap Node (fetched once). Exits with the one sentence when this Node cannot even fetch it.
 */
export function nodeForProject() {
  if (supported(process.version)) return process.execPath;
  if (!canBootstrap(process.version)) {
    process.stderr.write(`rapflow: ${tooOldSentence(process.version)}\n`);
    process.exit(1);
  }
  return cachedNode(BOOTSTRAP_NODE);
}

/** Makes `node` in npm scripts (node_modules/.bin comes first on their PATH) the given binary. */
export function linkProjectNode(bin, link = join(root, 'node_modules', '.bin', 'node')) {
  // Already in place: this is how every npm script after the first one runs (the linked Node is
  // first on PATH, so it runs this file too and must keep the link that put it there).
  if (isLink(link) && sameFile(link, bin)) return;
  if (bin === process.execPath && supported(process.version)) {
    // The machine's own Node is fine: a link left from an older one would shadow it.
    if (isLink(link)) rmSync(link);
    return;
  }
  mkdirSync(dirname(link), { recursive: true });
  if (isLink(link)) rmSync(link);
  symlinkSync(bin, link);
}

function sameFile(a, b) {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function isLink(path) {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
