// Which Node rapflow runs on: the CLI's check (src/cli/node-version.ts) and the set-up scripts'
// (scripts/node-runtime.mjs) agree with each other and with package.json's engines.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeSupported, nodeTooOldMessage } from '../../src/cli/node-version.js';
// @ts-expect-error: a plain .mjs script without type declarations
import * as runtime from '../../scripts/node-runtime.mjs';

const { supported, canBootstrap, tooOldSentence, BOOTSTRAP_NODE, linkProjectNode } = runtime as {
  linkProjectNode: (bin: string, link: string) => void;
  supported: (v: string) => boolean;
  canBootstrap: (v: string) => boolean;
  tooOldSentence: (v: string) => string;
  BOOTSTRAP_NODE: string;
};
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };

describe('the Node versions rapflow runs on', () => {
  it.each([
    ['v16.20.2', false],
    ['v20.20.2', false],
    ['v22.12.0', false],
    ['v22.21.9', false],
    ['v22.22.0', true],
    ['v23.11.0', false],
    ['v24.5.9', false],
    ['v24.6.0', true],
    ['v24.21.0', true],
    ['v26.1.0', true],
  ])('%s: %s', (version, ok) => {
    expect(nodeSupported(version)).toBe(ok);
    expect(supported(version)).toBe(ok);
  });

  it('say the same as package.json engines, and bootstrap a Node they accept', () => {
    expect(pkg.engines.node).toBe('>=22.22.0 <23 || >=24.6.0');
    expect(supported(BOOTSTRAP_NODE)).toBe(true);
    expect(BOOTSTRAP_NODE).toMatch(/^24\./);
  });

  it('fetch Node 24 for a Node that can run npm, and tell an older one, in one sentence, what to install', () => {
    expect(canBootstrap('v20.20.2')).toBe(true);
    expect(canBootstrap('v18.17.0')).toBe(true);
    expect(canBootstrap('v16.20.2')).toBe(false);
    const sentence = tooOldSentence('v16.20.2');
    expect(sentence).toMatch(/^rapflow needs Node\.js 24 LTS .* Node v16\.20\.2, .*install Node 24 from https:\/\/nodejs\.org\/\S+ .*\.$/);
    expect(sentence.split(/\.\s/).length).toBe(1);
    expect(nodeTooOldMessage('v20.20.2')).toContain('Node v20.20.2');
  });
});

// The link is what makes `node` in every npm script the project's Node. The second script of a
// run (npm test's pretest after .ci/run's set-up) runs on the linked Node itself, which is
// supported, and must not take away the link that put it first on PATH (a CI run did, and every
// test after it ran on the machine's Node 20).
describe('node_modules/.bin/node', () => {
  const vitestNode = realpathSync(process.execPath);
  const fresh = () => join(mkdtempSync(join(tmpdir(), 'rapflow-link-')), 'node');
  it('is kept when the Node running the set-up is the one it points at', () => {
    const link = fresh();
    symlinkSync(vitestNode, link);
    linkProjectNode(vitestNode, link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(realpathSync(link)).toBe(vitestNode);
  });
  it.runIf(supported(process.version))('is removed when it points elsewhere and the running Node is supported', () => {
    const link = fresh();
    const other = join(link, '..', 'old-node');
    writeFileSync(other, '');
    symlinkSync(other, link);
    linkProjectNode(process.execPath, link);
    expect(() => lstatSync(link)).toThrow(/ENOENT/);
  });
  it('points at the fetched Node when the running one is too old', () => {
    const link = fresh();
    const fetched = join(link, '..', 'node-24');
    writeFileSync(fetched, '');
    linkProjectNode(fetched, link);
    expect(readlinkSync(link)).toBe(fetched);
  });
});

// A real old Node, where the machine has one (ours have Node 20 as /usr/bin/node).
const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
  const v = spawnSync(p, ['--version'], { encoding: 'utf8' });
  return v.status === 0 && !nodeSupported(v.stdout.trim());
});
describe.runIf(oldNode)(`the rapflow command on an old Node (${oldNode ?? 'none on this machine'})`, () => {
  it('refuses with the one sentence and exit 78 before loading anything', () => {
    const r = spawnSync(oldNode!, ['dist/cli/main.js', 'stack', 'status'], { encoding: 'utf8' });
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/^rapflow: this is Node v\d+\.\d+\.\d+, and rapflow needs Node 24 LTS/);
    expect(r.stdout).toBe('');
  });
});
