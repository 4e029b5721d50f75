// Every relative link and anchor in the repository's Markdown points at something that exists.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchors, links, markdownFiles } from '../docs/markdown.js';

const root = process.cwd();
const files = markdownFiles(root);
const anchorCache = new Map<string, Set<string>>();
const anchorsOf = (file: string) => {
  if (!anchorCache.has(file)) anchorCache.set(file, anchors(readFileSync(join(root, file), 'utf8')));
  return anchorCache.get(file)!;
};

/** Why a link does not resolve, or undefined when it does. External links are not this test's business. */
function problem(from: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined;
  const [pathPart = '', hash] = target.split('#', 2);
  const path = decodeURIComponent(pathPart.split('?')[0]!);
  if (path.startsWith('/')) return 'absolute path: GitHub resolves it against the site, not the repository';
  const file = path === '' ? from : normalize(join(dirname(from), path));
  if (file.startsWith('..')) return 'points outside the repository';
  if (!existsSync(join(root, file))) return `${file} does not exist`;
  if (hash === undefined || hash === '') return undefined;
  if (!file.endsWith('.md') || statSync(join(root, file)).isDirectory()) return undefined;
  return anchorsOf(file).has(hash) ? undefined : `${file} has no heading #${hash}`;
}

describe('documentation links', () => {
  it('finds the Markdown files, README and tutorials among them', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('CONTRIBUTING.md');
    expect(files.filter((f) => f.startsWith('docs/tutorials/')).length).toBeGreaterThanOrEqual(6);
  });

  it.each(files)('%s: every relative link and anchor resolves', (file) => {
    const broken = links(readFileSync(join(root, file), 'utf8'))
      .map((l) => ({ ...l, why: problem(file, l.target) }))
      .filter((l) => l.why)
      .map((l) => `${file}:${l.line}: ${l.target}: ${l.why}`);
    expect(broken).toEqual([]);
  });
});

describe('the link checker itself', () => {
  it('reads GitHub heading ids, repeated headings and code spans the way GitHub does', () => {
    const md = '# Run it `locally`\n## Exit codes: 0, 75 and 78\n## Why? (CQL vs. Stargate)\n## Setup\n## Setup\n```\n# not a heading\n```\n';
    expect([...anchors(md)]).toEqual(['run-it-locally', 'exit-codes-0-75-and-78', 'why-cql-vs-stargate', 'setup', 'setup-1']);
  });

  it('ignores links inside code and finds them in prose, images and HTML', () => {
    const md = 'See [a](a.md#x) and ![i](img/p.png "t").\n`[no](x.md)`\n```\n[no](y.md)\n```\n<img src="docs/img/r.png">\n[ref]: <b c.md>\n';
    expect(links(md).map((l) => l.target)).toEqual(['a.md#x', 'img/p.png', 'docs/img/r.png', 'b c.md']);
  });

  it('reports a missing file and a missing heading, accepts folders and external addresses', () => {
    expect(problem('README.md', 'docs/nope.md')).toBe('docs/nope.md does not exist');
    expect(problem('README.md', 'docs/errors.md#no-such-heading')).toBe('docs/errors.md has no heading #no-such-heading');
    expect(problem('README.md', 'src/')).toBeUndefined();
    expect(problem('README.md', 'https://example.org/x.md')).toBeUndefined();
  });
});
