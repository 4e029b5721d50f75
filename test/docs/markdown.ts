// Reads the repository's Markdown the way the doc tests need it: fenced blocks, relative links, heading anchors.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Fence {
  /** The info string split on spaces: language first, then words such as `norun`, `exit=1`, `file=path`. */
  lang: string;
  flags: string[];
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** The value of a `key=value` word of a fence's info string. */
export function flag(f: Fence, key: string): string | undefined {
  const w = f.flags.find((x) => x.startsWith(`${key}=`));
  return w?.slice(key.length + 1);
}

/** Every fenced block (``` or ~~~, indented at most 3 spaces), in order. */
export function fences(markdown: string): Fence[] {
  const out: Fence[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const marker = open[1]!;
    const [lang = '', ...flags] = open[2]!.trim().split(/\s+/).filter(Boolean);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]!);
      if (close && close[1]![0] === marker[0] && close[1]!.length >= marker.length) break;
      body.push(lines[j]!);
    }
    out.push({ lang, flags, body: body.join('\n'), line: i + 1 });
    i = j;
  }
  return out;
}

/** The text outside fenced blocks and inline code spans, lines kept in place (so line numbers hold). */
export function prose(markdown: string): string {
  return outsideFences(markdown)
    .split('\n')
    .map((line) => line.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, ''))
    .join('\n');
}

/** The text with fenced blocks blanked out, lines kept in place. */
function outsideFences(markdown: string): string {
  const lines = markdown.split('\n');
  let inFence: string | undefined;
  return lines
    .map((line) => {
      const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
      if (inFence) {
        if (m && m[1]![0] === inFence[0] && m[1]!.length >= inFence.length && /^ {0,3}(`{3,}|~{3,})\s*$/.test(line)) inFence = undefined;
        return '';
      }
      if (m) {
        inFence = m[1]!;
        return '';
      }
      return line;
    })
    .join('\n');
}

export interface Link {
  target: string;
  line: number;
}

/** Link and image targets: `[t](x)`, `![a](x)`, `[r]: x`, and `href`/`src` of inline HTML. */
export function links(markdown: string): Link[] {
  const out: Link[] = [];
  prose(markdown)
    .split('\n')
    .forEach((text, i) => {
      const add = (t: string) => out.push({ target: t, line: i + 1 });
      for (const m of text.matchAll(/\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) add(m[1]!.replace(/^<|>$/g, ''));
      const def = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(text);
      if (def) add(def[1]!.replace(/^<|>$/g, ''));
      for (const m of text.matchAll(/\b(?:href|src)="([^"]+)"/g)) add(m[1]!);
    });
  return out;
}

/** GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered -1, -2... */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of outsideFences(markdown).split('\n')) {
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const text = h[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(text) ?? 0;
    seen.set(text, n + 1);
    out.add(n === 0 ? text : `${text}-${n}`);
  }
  // Explicit anchors: <a id="x"></a> or <a name="x">.
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  return out;
}

const SKIP = new Set(['node_modules', '.local', '.git', 'dist', 'coverage']);

/** Every *.md file of the repository, relative to `root`, outside dependencies and build output. */
export function markdownFiles(root: string, dir = root): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...markdownFiles(root, p));
    else if (e.name.endsWith('.md')) out.push(relative(root, p));
  }
  return out.sort();
}
