// Hostile-input-safe YAML reading: bytes -> documents of plain strings, maps and lists, each value with its line and column.
import jsyaml from 'js-yaml';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, Scalar, type Document, type Node } from 'yaml';

export interface YamlLimits {
  /** Largest file accepted, in bytes. */
  maxBytes: number;
  maxDocuments: number;
  /** Deepest nesting of maps and lists. */
  maxDepth: number;
  /** Values produced in a file, aliases expanded (stops alias bombs). */
  maxNodes: number;
}

export const DEFAULT_YAML_LIMITS: YamlLimits = { maxBytes: 4 * 1024 * 1024, maxDocuments: 5_000, maxDepth: 32, maxNodes: 200_000 };

/**
 * A value as rapflow reads it. Scalars stay strings whatever they look like (the YAML failsafe
 * schema), so `no`, `on`, `1e3` and `2024-01-01` are never turned into booleans, numbers or
 * dates behind the author's back; the model converts per field. Plain `~`, `null` and empty
 * values are null.
 */
export type YamlValue = null | string | YamlValue[] | { [key: string]: YamlValue };

export interface Position {
  line: number;
  column: number;
}

export interface YamlDocument {
  /** 1-based position of the document in its file. */
  index: number;
  value: YamlValue;
  /** Position of every value by its path (`spec.lyrics.0.lines.3`); `` is the document. */
  positions: Map<string, Position>;
}

export interface YamlProblem {
  document: number;
  line: number;
  column: number;
  message: string;
}

export interface YamlFile {
  documents: YamlDocument[];
  /** Problems that make the file unreadable; when not empty, documents may be partial. */
  problems: YamlProblem[];
}

const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);

/** js-yaml with the same reading as the slow path: every scalar a string, plain ~ / null / empty as null. */
// js-yaml exports its built-in types at run time; @types/js-yaml does not declare them.
const FAST_SCHEMA = jsyaml.FAILSAFE_SCHEMA.extend({ implicit: [(jsyaml as unknown as { types: { null: jsyaml.Type } }).types.null] });
/** Anchors, aliases and tags where YAML would read them (conservative: a false alarm only costs speed). */
const ANCHOR_ALIAS_OR_TAG = /(^|[\s[{,:-])[&*!][^\s,\]}]/m;

/**
 * The fast path: document values without positions, or undefined whenever the careful reader
 * must decide (anything unusual: limits, bad bytes, anchors and aliases, syntax errors, duplicate
 * keys). Positions are only needed to report problems, so callers re-read with readYaml() then.
 */
export function readYamlFast(bytes: Uint8Array, limits: YamlLimits = DEFAULT_YAML_LIMITS): YamlValue[] | undefined {
  if (bytes.byteLength > limits.maxBytes || bytes.indexOf(0) >= 0) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  if (ANCHOR_ALIAS_OR_TAG.test(text) || /^%/m.test(text) || flowTooDeep(text, limits.maxDepth)) return undefined;
  try {
    const docs = jsyaml.loadAll(text, undefined, { schema: FAST_SCHEMA, json: false }) as YamlValue[];
    if (docs.length > limits.maxDocuments || docs.some((d) => depthOf(d) > limits.maxDepth)) return undefined;
    return docs;
  } catch {
    return undefined;
  }
}

function depthOf(v: YamlValue, d = 0): number {
  if (v === null || typeof v !== 'object') return d;
  let max = d;
  for (const x of Array.isArray(v) ? v : Object.values(v)) max = Math.max(max, depthOf(x, d + 1));
  return max;
}

/**
 * UTF-32 or UTF-16, told by a byte order mark or, without one, by the NUL bytes that ASCII text
 * has in those encodings (every other byte, or three of every four, in the first 256 bytes); so
 * a UTF-16 file is named for what it is rather than reported as binary. Own code: TextDecoder
 * decodes a known encoding but does not guess one, and a detection library is more than this needs.
 */
export function wideEncoding(bytes: Uint8Array): string | undefined {
  const b = bytes;
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) return 'UTF-32 (little-endian, with a byte order mark)';
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff) return 'UTF-32 (big-endian, with a byte order mark)';
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return 'UTF-16 (little-endian, with a byte order mark)';
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return 'UTF-16 (big-endian, with a byte order mark)';
  const n = Math.min(b.length, 256) & ~3;
  if (n < 8) return undefined;
  const zeros = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) if (b[i] === 0) zeros[i % 4]!++;
  const quarter = n / 4;
  const mostly = (k: number) => zeros[k]! >= quarter * 0.9;
  const few = (k: number) => zeros[k]! <= quarter * 0.1;
  if (mostly(1) && mostly(2) && mostly(3) && few(0)) return 'UTF-32 (little-endian)';
  if (mostly(0) && mostly(1) && mostly(2) && few(3)) return 'UTF-32 (big-endian)';
  if (mostly(1) && mostly(3) && few(0) && few(2)) return 'UTF-16 (little-endian)';
  if (mostly(0) && mostly(2) && few(1) && few(3)) return 'UTF-16 (big-endian)';
  return undefined;
}

export const oversize = (size: number, limit: number) => `file is ${size} bytes, more than the limit of ${limit} (split it into several files)`;

/** Decodes and parses a whole file; never throws for bad input, reports it instead. */
export function readYaml(bytes: Uint8Array, limits: YamlLimits = DEFAULT_YAML_LIMITS): YamlFile {
  const fail = (message: string, line = 1, column = 1): YamlFile => ({ documents: [], problems: [{ document: 0, line, column, message }] });
  if (bytes.byteLength > limits.maxBytes) {
    return fail(oversize(bytes.byteLength, limits.maxBytes));
  }
  const wide = wideEncoding(bytes);
  if (wide) return fail(`this file is ${wide}; save it as UTF-8 (Rap-as-Code files are UTF-8 text)`);
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    const { line, column } = positionOfByte(bytes, nul);
    return fail('binary content (a NUL byte): Rap-as-Code files are UTF-8 text', line, column);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const { line, column } = positionOfByte(bytes, at);
    return fail(`not valid UTF-8 (byte 0x${bytes[at]?.toString(16).padStart(2, '0')} at offset ${at}): save the file as UTF-8`, line, column);
  }
  const tooDeep = flowTooDeep(text, limits.maxDepth);
  if (tooDeep) return fail(`nested deeper than ${limits.maxDepth} levels`, tooDeep.line, tooDeep.column);
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { schema: 'failsafe', uniqueKeys: true, lineCounter, prettyErrors: false, strict: true });
  const parsed = Array.isArray(docs) ? docs : [];
  const problems: YamlProblem[] = [];
  if (parsed.length > limits.maxDocuments) {
    return fail(`file has ${parsed.length} documents, more than the limit of ${limits.maxDocuments}`);
  }
  const budget = { nodes: limits.maxNodes };
  const documents: YamlDocument[] = [];
  parsed.forEach((doc: Document.Parsed, i) => {
    const index = i + 1;
    for (const e of [...doc.errors, ...doc.warnings.filter((w) => w.code !== 'TAG_RESOLVE_FAILED')]) {
      const pos = lineCounter.linePos(e.pos[0]);
      const key = e.code === 'DUPLICATE_KEY' ? /^\s*([^:\n]+?)\s*:/.exec(text.slice(e.pos[0], e.pos[0] + 200))?.[1] : undefined;
      problems.push({ document: index, line: pos.line, column: pos.col, message: yamlMessage(e.code, e.message, key) });
    }
    if (doc.errors.length > 0) return;
    const positions = new Map<string, Position>();
    try {
      const value = convert(doc.contents, '', 0, { doc, lineCounter, positions, budget, limits, anchors: new Set() });
      documents.push({ index, value, positions });
    } catch (err) {
      if (!(err instanceof LimitError)) throw err;
      problems.push({ document: index, line: err.position.line, column: err.position.column, message: err.message });
    }
  });
  return { documents, problems };
}

class LimitError extends Error {
  constructor(
    message: string,
    readonly position: Position,
  ) {
    super(message);
  }
}

interface ConvertState {
  doc: Document.Parsed;
  lineCounter: LineCounter;
  positions: Map<string, Position>;
  budget: { nodes: number };
  limits: YamlLimits;
  anchors: Set<Node>;
}

function convert(node: unknown, path: string, depth: number, st: ConvertState): YamlValue {
  const position = positionOf(node, st.lineCounter);
  if (!st.positions.has(path)) st.positions.set(path, position);
  if (--st.budget.nodes < 0) {
    throw new LimitError(`more than ${st.limits.maxNodes} values once aliases are expanded (an alias bomb?)`, position);
  }
  if (depth > st.limits.maxDepth) throw new LimitError(`nested deeper than ${st.limits.maxDepth} levels`, position);
  if (node === null || node === undefined) return null;
  if (isAlias(node)) {
    const target = node.resolve(st.doc);
    if (!target) throw new LimitError(`alias *${node.source} refers to no anchor`, position);
    if (st.anchors.has(target)) throw new LimitError(`alias *${node.source} refers to itself`, position);
    st.anchors.add(target);
    try {
      return convert(target, path, depth, st);
    } finally {
      st.anchors.delete(target);
    }
  }
  if (isScalar(node)) {
    const v = node.value;
    // The failsafe schema yields strings only; an empty node has no value at all.
    const s = typeof v === 'string' ? v : '';
    return node.type === Scalar.PLAIN && NULLS.has(s) ? null : s;
  }
  if (isSeq(node)) {
    return node.items.map((item, i) => convert(item, join(path, String(i)), depth + 1, st));
  }
  if (isMap(node)) {
    const out: { [key: string]: YamlValue } = {};
    for (const pair of node.items) {
      const key = convert(pair.key, path, depth + 1, st);
      if (typeof key !== 'string') throw new LimitError('map keys must be plain strings', positionOf(pair.key, st.lineCounter));
      st.positions.set(join(path, key), positionOf(pair.key, st.lineCounter));
      out[key] = convert(pair.value, join(path, key), depth + 1, st);
    }
    return out;
  }
  throw new LimitError('unsupported YAML node', position);
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function positionOf(node: unknown, lc: LineCounter): Position {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  const { line, col } = lc.linePos(range?.[0] ?? 0);
  return { line, column: col };
}

function yamlMessage(code: string, message: string, key?: string): string {
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  if (code === 'DUPLICATE_KEY') return key ? `duplicate key "${key}": a key may appear once per map` : `duplicate key: ${first}`;
  if (code === 'ALIAS_PROPS' || code === 'BAD_ALIAS') return `bad alias: ${first}`;
  return `YAML syntax: ${first}`;
}

/**
 * First place where `[` / `{` nesting goes deeper than `max`, found with a linear scan before the
 * parser sees the text (the parser is recursive: thousands of brackets exhaust its stack).
 */
function flowTooDeep(text: string, max: number): Position | undefined {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      lineStart = i + 1;
    } else if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      // A quote opens a scalar only where one can start; inside plain words (don't) it is text.
      const prev = text[i - 1];
      if (prev === undefined || /[\s[{,:]/.test(prev)) quote = c;
    } else if (c === '#' && (i === lineStart || /\s/.test(text[i - 1]!))) {
      const eol = text.indexOf('\n', i);
      i = (eol < 0 ? text.length : eol) - 1;
    } else if (c === '[' || c === '{') {
      if (++depth > max) return { line, column: i - lineStart + 1 };
    } else if ((c === ']' || c === '}') && depth > 0) {
      depth--;
    }
  }
  return undefined;
}

/** Line and column (1-based, in characters) of a byte offset, for files we could not decode. */
function positionOfByte(bytes: Uint8Array, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Offset of the first byte that starts a malformed UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > bytes.length) return i;
    for (let k = 1; k < len; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    // Overlong, surrogate and out-of-range forms are caught by the fatal decoder; point at the sequence.
    if (len > 1) {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(i, i + len));
      } catch {
        return i;
      }
    }
    i += len;
  }
  return bytes.length - 1;
}
