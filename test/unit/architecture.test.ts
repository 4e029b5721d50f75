// The seams the code is built around, checked on the imports themselves: each backend in one place
// (src/store/cql, src/store/stargate), the stages (src/pipeline) and the read questions (src/read)
// knowing neither, so a stage sees records and readers, never a CQL row or an HTTP call.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function importsOf(dir: string): { file: string; from: string }[] {
  return readdirSync(join('src', dir), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(join('src', dir, f), 'utf8').matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => ({ file: `${dir}/${f}`, from: m[1]! })));
}

describe('architecture', () => {
  it('src/pipeline imports no backend, no HTTP or database client', () => {
    const bad = importsOf('pipeline').filter((i) => /\/store\/|\/sink\/|cassandra-driver|undici|axios/.test(i.from));
    expect(bad).toEqual([]);
  });

  it('src/read holds the questions only: it imports no backend', () => {
    expect(importsOf('read').filter((i) => /\/store\/|\/sink\/|cassandra-driver|undici|axios/.test(i.from))).toEqual([]);
  });

  it('the CQL and Stargate backends do not reach into each other', () => {
    const cross = [...importsOf('store/cql').filter((i) => i.from.includes('/stargate/')), ...importsOf('store/stargate').filter((i) => i.from.includes('/cql/'))];
    expect(cross).toEqual([]);
  });
});
