// The Avro datamodel from avro/: loading, bundling for the registry, compatibility and path-level validation.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { LOGICAL_TYPES } from './logical-types.js';

export const NAMESPACE = 'io.dok.rap';

/** Which record goes to which topic; the registry subject is `<topic>-value` (TopicNameStrategy). */
export const TOPIC_OF = {
  Song: 'rap.songs',
  LyricLine: 'rap.lyrics',
  Artist: 'rap.artists',
  Meetup: 'rap.meetups',
  DeadLetter: 'rap.dlq',
} as const;

export type RecordName = keyof typeof TOPIC_OF;
export const RECORD_NAMES = Object.keys(TOPIC_OF) as RecordName[];

/** Topic of a record; a prefix lets tests and tenants share one cluster. */
export const topicOf = (name: RecordName, prefix = '') => `${prefix}${TOPIC_OF[name]}`;
export const subjectOf = (name: RecordName, prefix = '') => `${topicOf(name, prefix)}-value`;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface SchemaSet {
  /** Self-contained JSON per top-level record, named types inlined: what the registry gets. */
  bundled: Map<RecordName, Record<string, Json>>;
  /** avsc types parsed from the bundled JSON with rapflow's logical types. */
  types: Map<RecordName, avro.Type>;
}

/** Reads every `*.avsc` of `dir` (named types may be referenced across files by full name). */
export function loadSchemaDir(dir: string, suffix = '.avsc'): Map<string, Record<string, Json>> {
  const defs = new Map<string, Record<string, Json>>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(suffix)).sort()) {
    const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, Json>;
    defs.set(fullName(json), json);
  }
  return defs;
}

function fullName(def: Record<string, Json>): string {
  const name = typeof def.name === 'string' ? def.name : '';
  const namespace = typeof def.namespace === 'string' ? def.namespace : NAMESPACE;
  return name.includes('.') ? name : `${namespace}.${name}`;
}

/**
 * Inlines named types defined in other files at their first use, so each top-level schema stands
 * alone (the registry then needs no schema references, which Apicurio's ccompat API handles
 * differently from Confluent's).
 */
export function bundle(root: Record<string, Json>, defs: Map<string, Record<string, Json>>): Record<string, Json> {
  const seen = new Set<string>([fullName(root)]);
  const walk = (node: Json): Json => {
    if (typeof node === 'string') {
      const name = node.includes('.') ? node : `${NAMESPACE}.${node}`;
      const def = defs.get(name);
      if (def && !seen.has(name)) {
        seen.add(name);
        return walk(def);
      }
      return node;
    }
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') {
      if (typeof node.name === 'string' && (node.type === 'record' || node.type === 'enum' || node.type === 'fixed')) {
        seen.add(fullName(node));
      }
      const out: Record<string, Json> = {};
      for (const [k, v] of Object.entries(node)) out[k] = k === 'type' || k === 'items' || k === 'values' || k === 'fields' ? walk(v) : v;
      return out;
    }
    return node;
  };
  return walk(root) as Record<string, Json>;
}

export function parseType(schema: Record<string, Json>): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { logicalTypes: LOGICAL_TYPES });
}

export function loadSchemaSet(dir: string, suffix = '.avsc'): SchemaSet {
  return schemaSetOf(loadSchemaDir(dir, suffix));
}

function schemaSetOf(defs: Map<string, Record<string, Json>>): SchemaSet {
  const bundled = new Map<RecordName, Record<string, Json>>();
  const types = new Map<RecordName, avro.Type>();
  for (const name of RECORD_NAMES) {
    const def = defs.get(`${NAMESPACE}.${name}`);
    if (!def) continue;
    const b = bundle(def, defs);
    bundled.set(name, b);
    types.set(name, parseType(b));
  }
  return { bundled, types };
}

/**
 * Why `reader` cannot read data written with `writer`, or undefined when it can
 * (Avro schema resolution, the rule the registry's BACKWARD check applies).
 */
export function incompatibility(reader: avro.Type, writer: avro.Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export interface ValueProblem {
  /** Dotted path of the bad value, e.g. `sections.2.kind`. */
  path: string;
  /** What the schema expected there. */
  expected: string;
  value: unknown;
}

/** Every value of `record` the schema rejects, with its path; empty when valid. */
export function valueProblems(type: avro.Type, record: unknown): ValueProblem[] {
  const problems: ValueProblem[] = [];
  type.isValid(record, {
    errorHook: (path: string[], value: unknown, t: avro.Type) => {
      problems.push({ path: path.join('.'), expected: describeType(t), value });
    },
  });
  return problems;
}

function describeType(t: avro.Type): string {
  const name = t.typeName;
  if (name === 'logical:date') return 'a date YYYY-MM-DD';
  if (name === 'logical:uuid') return 'a UUID';
  if (name === 'enum') return `one of ${(t as avro.types.EnumType).symbols.join(', ')}`;
  if (name === 'union:unwrapped' || name === 'union:wrapped') return (t as avro.types.UnwrappedUnionType).types.map(describeType).join(' or ');
  if (name === 'record') return `a ${t.name ?? 'record'}`;
  if (name === 'array') return 'a list';
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`;
}

/**
 * The released versions kept in avro/history/ as `<Name>.v<N>.avsc`: one SchemaSet per release
 * N, each record at its newest version not after N (a release only adds files for what changed).
 */
export function loadReleases(historyDir: string): { version: number; set: SchemaSet }[] {
  const files = readdirSync(historyDir).filter((f) => /\.v\d+\.avsc$/.test(f));
  const versions = [...new Set(files.map((f) => Number(/\.v(\d+)\.avsc$/.exec(f)![1])))].sort((a, b) => a - b);
  return versions.map((version) => {
    const defs = new Map<string, Record<string, Json>>();
    for (const v of versions.filter((x) => x <= version)) {
      for (const [name, def] of loadSchemaDir(historyDir, `.v${v}.avsc`)) defs.set(name, def);
    }
    return { version, set: schemaSetOf(defs) };
  });
}
