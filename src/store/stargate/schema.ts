// rapflow's schema through Stargate's own schema APIs: the keyspace and tables (REST v2), and the
// Document API collections in the same keyspace (a namespace is a keyspace). Schema made this way is
// seen by Stargate at once; made over CQL, Stargate sees it only after about a minute.
import { RapflowError } from '../../errors.js';
import { columnFit, retypeRefused, TABLE_DEFS, type TableDef } from '../tables.js';
import type { StargateClient } from './client.js';

/** The records written whole as documents, and their collections. */
export const COLLECTIONS = { Song: 'song_docs', Artist: 'artist_docs', Meetup: 'meetup_docs' } as const;
export type DocumentKind = keyof typeof COLLECTIONS;

/**
 * A table in the shape of `POST /v2/schemas/keyspaces/{ks}/tables`. `typeDefinition` is the CQL
 * type string, so lists go as `frozen<list<text>>`, which Stargate's REST schema API takes as CQL
 * would (not run here: this machine has no Stargate coordinator; test/unit checks the body).
 */
export function stargateTable(t: TableDef) {
  return {
    name: t.name,
    ifNotExists: true,
    columnDefinitions: t.columns.map(([name, typeDefinition]) => ({ name, typeDefinition, static: false })),
    primaryKey: { partitionKey: t.partitionKey, ...(t.clustering.length ? { clusteringKey: t.clustering.map(([c]) => c) } : {}) },
    ...(t.clustering.length ? { tableOptions: { clusteringExpression: t.clustering.map(([column, order]) => ({ column, order })) } } : {}),
  };
}

export interface SchemaOutcome {
  keyspaceCreated: boolean;
  tablesCreated: string[];
  /** `table.column` of each column added to an existing table (a new optional field). */
  columnsAdded: string[];
  collectionsCreated: string[];
}

/** Creates what is missing of the keyspace, tables and collections (idempotent). */
export async function ensureStargateSchema(client: StargateClient, keyspace: string, replicas: number, tables: readonly TableDef[] = TABLE_DEFS): Promise<SchemaOutcome> {
  const out: SchemaOutcome = { keyspaceCreated: false, tablesCreated: [], columnsAdded: [], collectionsCreated: [] };
  const ks = await client.request('GET', `/v2/schemas/keyspaces/${keyspace}`, { accept: [200, 404] });
  if (ks.status === 404) {
    await client.request('POST', '/v2/schemas/keyspaces', { body: { name: keyspace, replicas }, accept: [201] });
    out.keyspaceCreated = true;
  }
  const existing = new Set(await tableNames(client, keyspace));
  for (const t of tables) {
    if (existing.has(t.name)) {
      out.columnsAdded.push(...(await addMissingColumns(client, keyspace, t)));
      continue;
    }
    await client.request('POST', `/v2/schemas/keyspaces/${keyspace}/tables`, { body: stargateTable(t), accept: [201] });
    out.tablesCreated.push(t.name);
  }
  for (const name of Object.values(COLLECTIONS)) {
    if (existing.has(name)) continue;
    // 409: made meanwhile by another process, which is what we wanted.
    const res = await client.request('POST', `/v2/namespaces/${keyspace}/collections`, { body: { name }, accept: [201, 409] });
    if (res.status === 201) out.collectionsCreated.push(name);
  }
  return out;
}

/** The columns the datamodel has and the table lacks, added through the schema API; never a drop or retype. */
async function addMissingColumns(client: StargateClient, keyspace: string, t: TableDef): Promise<string[]> {
  const res = await client.get<{ data?: { columnDefinitions?: { name: string; typeDefinition: string }[] } }>(`/v2/schemas/keyspaces/${keyspace}/tables/${t.name}`);
  const have = new Map((res.data?.columnDefinitions ?? []).map((c) => [c.name, c.typeDefinition.toLowerCase()]));
  const added: string[] = [];
  for (const [name, typeDefinition] of t.columns) {
    const found = have.get(name);
    if (found === undefined) {
      await client.request('POST', `/v2/schemas/keyspaces/${keyspace}/tables/${t.name}/columns`, { body: { name, typeDefinition, static: false }, accept: [201] });
      added.push(`${t.name}.${name}`);
    } else if (columnFit(found, typeDefinition) === 'other') {
      throw retypeRefused(keyspace, t.name, name, found, typeDefinition);
    }
  }
  return added;
}

async function tableNames(client: StargateClient, keyspace: string): Promise<string[] | undefined> {
  const res = await client.request<{ data?: { name: string }[] } | { name: string }[]>('GET', `/v2/schemas/keyspaces/${keyspace}/tables`, { accept: [200, 404] });
  if (res.status === 404) return undefined;
  const list = Array.isArray(res.data) ? res.data : (res.data.data ?? []);
  return list.map((t) => t.name);
}

/**
 * Waits, bounded, until Stargate sees every table and collection the sink writes: schema made over
 * CQL (or by another coordinator) reaches it only after about a minute. Then CONFIG_INVALID naming
 * what is still missing.
 */
export async function waitForStargateSchema(
  client: StargateClient,
  keyspace: string,
  timeoutMs: number,
  onWait: (missing: string[]) => void = () => {},
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<void> {
  const wanted = [...TABLE_DEFS.map((t) => t.name), ...Object.values(COLLECTIONS)];
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; ; round++) {
    const have = new Set((await tableNames(client, keyspace)) ?? []);
    const missing = wanted.filter((n) => !have.has(n));
    if (missing.length === 0) return;
    if (Date.now() >= deadline) {
      throw new RapflowError(
        'CONFIG_INVALID',
        `Stargate does not see ${have.size === 0 ? `keyspace ${keyspace}` : `${missing.join(', ')} in keyspace ${keyspace}`} after ${Math.round(timeoutMs / 1000)} s: ` +
          'run `SINK=stargate rapflow db init` (it creates them through Stargate), or check CASSANDRA_KEYSPACE',
        { context: { service: 'stargate' } },
      );
    }
    if (round === 0) onWait(missing);
    await sleep(2_000);
  }
}
