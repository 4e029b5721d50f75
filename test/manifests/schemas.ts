// Turns the Kubernetes OpenAPI document and the operators' CRDs into strict per-kind JSON schemas
// laid out the way kubeconform looks them up: <dir>/<group>/<kind>_<version>.json (KUBECONFORM_LOCATION).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';

type Schema = Record<string, unknown>;
type Definitions = Record<string, Schema>;

/** kubeconform's -schema-location template for a folder written by buildSchemas. */
export const KUBECONFORM_LOCATION = '{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json';

const COMBINATORS = ['allOf', 'anyOf', 'oneOf', 'not'];
const REF_PREFIX = '#/definitions/';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/**
 * Closes every object that lists its properties (unknown fields become errors, as the API server's
 * strict field validation makes them), unless the schema says it keeps unknown fields. Branches of
 * allOf/anyOf/oneOf/not only add constraints to their parent, so they are left open.
 */
export function strictify(node: unknown, inCombinator = false): unknown {
  if (Array.isArray(node)) return node.map((n) => strictify(n, inCombinator));
  if (!node || typeof node !== 'object') return node;
  const s = node as Schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v as Schema).map(([p, sub]) => [p, strictify(sub)]));
    } else if (COMBINATORS.includes(k)) {
      out[k] = strictify(v, true);
    } else if (k === 'items' || k === 'additionalProperties') {
      out[k] = strictify(v);
    } else {
      out[k] = v;
    }
  }
  // OpenAPI's int-or-string and nullable in JSON Schema terms.
  if (s['format'] === 'int-or-string' || s['x-kubernetes-int-or-string'] === true) {
    delete out['type'];
    delete out['format'];
    if (!out['anyOf']) out['anyOf'] = [{ type: 'integer' }, { type: 'string' }];
  }
  if (s['nullable'] === true && typeof out['type'] === 'string') out['type'] = [out['type'], 'null'];
  const listsProperties = out['properties'] !== undefined;
  if (listsProperties && !inCombinator && out['additionalProperties'] === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true) {
    out['additionalProperties'] = false;
  }
  return out;
}

/** Every definition `root` refers to, directly or not. */
function reachable(root: string, defs: Definitions): Definitions {
  const seen: Definitions = {};
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node as Schema)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(REF_PREFIX)) {
        const name = v.slice(REF_PREFIX.length);
        if (!seen[name]) {
          const def = defs[name];
          if (!def) throw new Error(`schema: dangling $ref ${v}`);
          seen[name] = def;
          visit(def);
        }
      } else visit(v);
    }
  };
  visit({ $ref: REF_PREFIX + root });
  return seen;
}

const strictDefinitions = (defs: Definitions): Definitions => Object.fromEntries(Object.entries(defs).map(([k, v]) => [k, strictify(v) as Schema]));

/** A standalone schema for one definition: a $ref to it beside the definitions it needs. */
function standalone(root: string, defs: Definitions): Schema {
  return { $ref: REF_PREFIX + root, definitions: strictDefinitions(reachable(root, defs)) };
}

/** Quantities are strings in OpenAPI, yet `cpu: 1` is as valid as `cpu: "1"`. */
function withNumericQuantity(defs: Definitions): Definitions {
  const q = defs[QUANTITY];
  return q ? { ...defs, [QUANTITY]: { description: q['description'], anyOf: [{ type: 'string' }, { type: 'number' }] } } : defs;
}

/** kubeconform's {{.Group}} is the part of apiVersion before "/", so "v1" for the core group. */
function write(dir: string, group: string, kind: string, version: string, schema: Schema): void {
  const folder = join(dir, group || version);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, `${kind.toLowerCase()}_${version}.json`), JSON.stringify(schema));
}

/** Core kinds from Kubernetes' swagger.json (every definition with x-kubernetes-group-version-kind). */
function writeCore(swaggerFile: string, dir: string): Definitions {
  const defs = withNumericQuantity((JSON.parse(readFileSync(swaggerFile, 'utf8')) as { definitions: Definitions }).definitions);
  for (const [name, def] of Object.entries(defs)) {
    const gvks = def['x-kubernetes-group-version-kind'] as { group: string; kind: string; version: string }[] | undefined;
    // Only kinds people write: the List and options types carry the same extension.
    if (!gvks || gvks.length !== 1 || !def['properties'] || !(def['properties'] as Schema)['metadata']) continue;
    const { group, kind, version } = gvks[0]!;
    write(dir, group, kind, version, standalone(name, defs));
  }
  return defs;
}

interface Crd {
  spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean; schema?: { openAPIV3Schema: Schema } }[] };
}

/** CRD kinds: each served version's openAPIV3Schema, with metadata checked as the core ObjectMeta. */
function writeCrd(file: string, dir: string, core: Definitions): void {
  for (const doc of yaml.loadAll(readFileSync(file, 'utf8')) as Crd[]) {
    for (const v of doc.spec.versions.filter((x) => x.served && x.schema)) {
      const schema = structuredClone(v.schema!.openAPIV3Schema);
      const props = (schema['properties'] ??= {}) as Schema;
      props['metadata'] = { $ref: REF_PREFIX + OBJECT_META };
      const defs = reachable(OBJECT_META, core);
      write(dir, doc.spec.group, doc.spec.names.kind, v.name, { ...(strictify(schema) as Schema), definitions: strictDefinitions(defs) });
    }
  }
}

/** Argo Events publishes a JSON Schema document (its CRDs carry none): EventBus, EventSource and Sensor from it. */
function writeArgoEvents(file: string, dir: string): void {
  const defs = withNumericQuantity((JSON.parse(readFileSync(file, 'utf8')) as { definitions: Definitions }).definitions);
  for (const kind of ['EventBus', 'EventSource', 'Sensor']) write(dir, 'argoproj.io', kind, 'v1alpha1', standalone(`io.argoproj.events.v1alpha1.${kind}`, defs));
}

/**
 * Writes (once per content of the inputs) the strict schemas of the core kinds and of every CRD
 * under `crdRoot` (none without one); returns the folder. Cached under `cacheRoot`, keyed by a hash of the inputs
 * and of this file, so a changed CRD or converter is picked up.
 */
export function buildSchemas(swaggerFile: string, crdRoot: string | undefined, cacheRoot: string): string {
  const crdFiles = crdRoot
    ? readdirSync(crdRoot, { recursive: true, encoding: 'utf8' })
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .sort()
        .map((f) => join(crdRoot, f))
    : [];
  const hash = createHash('sha256');
  for (const f of [swaggerFile, ...crdFiles, new URL(import.meta.url).pathname]) hash.update(readFileSync(f));
  const dir = join(cacheRoot, hash.digest('hex').slice(0, 16));
  if (existsSync(join(dir, '.complete'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const core = writeCore(swaggerFile, tmp);
  for (const f of crdFiles) {
    if (f.endsWith('.json')) writeArgoEvents(f, tmp);
    else writeCrd(f, tmp, core);
  }
  writeFileSync(join(tmp, '.complete'), '');
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}
