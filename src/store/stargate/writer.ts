// The Stargate sink: every record's rows through REST v2 (one POST a row: Stargate has no batch
// endpoint for rows, so a "batch" is bounded concurrent upserts), and each Song, Artist and Meetup
// whole as a document through the Document API's /batch, the record's id as the document id.
import { RapflowError } from '../../errors.js';
import type { Decoded, RecordFailure, RecordSink } from '../../pipeline/consume.js';
import { byRecord, rowsOfRecords, type Row } from '../tables.js';
import { descriptionOf, schemaMissing, type StargateClient } from './client.js';
import { COLLECTIONS, type DocumentKind } from './schema.js';

export interface StargateSinkLimits {
  /** Row POSTs in flight. */
  rowConcurrency: number;
  /** Documents in one /batch request. */
  docBatch: number;
  /** /batch requests in flight. */
  docConcurrency: number;
}

/** Rows beyond 32 in flight gained little on a 2-core Stargate, and documents go fastest in batches of 100, 4 at a time (measured by the team against v1.0.91; bench/stargate runs with these). */
export const DEFAULT_STARGATE_LIMITS: StargateSinkLimits = { rowConcurrency: 32, docBatch: 100, docConcurrency: 4 };

/** What the sink did, for logs, metrics and the bench. */
export interface StargateSinkStats {
  rows: number;
  documents: number;
  /** Documents a 202 left out of its ids, or of a batch refused whole, that were written again one by one. */
  documentsRewritten: number;
}

/**
 * A 400 that names the schema is our configuration, not the record's data: a column the table lacks
 * ("Unknown field name 'bpm'.", as v1.0.91 says it), or a value the column cannot hold ("Invalid Int
 * value ..."), which for records the Avro datamodel already typed means the column has another type
 * than the datamodel's.
 */
const SCHEMA_PROBLEM = /unknown (field|column)|undefined column|column .* (does not exist|not found)|table .* (does not exist|not found)|unconfigured table|keyspace .* does not exist|invalid \w+ value/i;

type Refused = { error: RapflowError };

export class StargateSink implements RecordSink {
  readonly stats: StargateSinkStats = { rows: 0, documents: 0, documentsRewritten: 0 };

  constructor(
    private readonly client: StargateClient,
    private readonly keyspace: string,
    private readonly limits: StargateSinkLimits = DEFAULT_STARGATE_LIMITS,
  ) {}

  /**
   * Writes the rows and the document of every record. Both halves finish (or stop) before this
   * returns, so a retry never overlaps a write still in flight. A record fails when any of its rows
   * or its document is refused for its own data; anything else throws for the whole call.
   */
  async write(records: Decoded[]): Promise<RecordFailure[]> {
    const { rows, owner } = rowsOfRecords(records);
    const [rowsDone, docsDone] = await Promise.allSettled([this.writeRows(rows), this.writeDocuments(records)]);
    if (rowsDone.status === 'rejected') throw rowsDone.reason;
    if (docsDone.status === 'rejected') throw docsDone.reason;
    const failed = new Map<number, RecordFailure>();
    for (const f of [...byRecord(rowsDone.value, owner), ...docsDone.value]) if (!failed.has(f.index)) failed.set(f.index, f);
    return [...failed.values()];
  }

  /** Every row, `rowConcurrency` POSTs at a time; refused rows by index. The first transient error stops new requests and is thrown once all in flight ended. */
  async writeRows(rows: Row[]): Promise<RecordFailure[]> {
    const failures: RecordFailure[] = [];
    let next = 0;
    let stop: Error | undefined;
    const worker = async () => {
      while (stop === undefined && next < rows.length) {
        const i = next++;
        try {
          const refused = await this.postRow(rows[i]!);
          if (refused) failures.push({ index: i, error: refused.error });
          else this.stats.rows++;
        } catch (err) {
          stop ??= err as Error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.limits.rowConcurrency, rows.length) }, worker));
    if (stop !== undefined) throw stop;
    return failures;
  }

  private async postRow(row: Row): Promise<Refused | undefined> {
    const path = `/v2/keyspaces/${this.keyspace}/${row.table}`;
    const res = await this.client.request('POST', path, { body: row.values, accept: [201, 400, 404] });
    if (res.status === 201) return undefined;
    return this.refusal(res.status, descriptionOf(res.data), `POST ${path}`, row.table);
  }

  /** A 400 about the record's data makes it poison; a 400 about the schema, or a 404, stops the consumer. */
  private refusal(status: number, description: string | undefined, what: string, target: string): Refused {
    if (status === 404) throw schemaMissing(what, description, this.keyspace);
    if (description && SCHEMA_PROBLEM.test(description)) {
      throw new RapflowError('CONFIG_INVALID', `${what}: ${target} does not match the datamodel (${description}); run \`rapflow db init\` with SINK=stargate`, {
        context: { service: 'stargate', httpStatus: status },
      });
    }
    return { error: new RapflowError('RECORD_UNDECODABLE', `${target}: Stargate refused it (HTTP ${status}${description ? `: ${description}` : ''})`, { context: { service: 'stargate', httpStatus: status } }) };
  }

  /** The documents of every Song, Artist and Meetup record, by record index. */
  async writeDocuments(records: Decoded[]): Promise<RecordFailure[]> {
    // One request per chunk of one collection. A batch with the same id twice is refused whole,
    // so only the last record of an id is sent (the newest, as Kafka ordered them) and its outcome
    // stands for the others.
    const last = new Map<string, { kind: DocumentKind; id: string; index: number; same: number[] }>();
    records.forEach((r, index) => {
      if (!(r.name in COLLECTIONS)) return;
      const kind = r.name as DocumentKind;
      const id = String(r.record.id);
      const key = `${kind}\u0000${id}`;
      const before = last.get(key);
      last.set(key, { kind, id, index, same: before ? [...before.same, before.index] : [] });
    });
    const chunks: { kind: DocumentKind; docs: { id: string; index: number; same: number[] }[] }[] = [];
    const open = new Map<DocumentKind, (typeof chunks)[number]>();
    for (const d of last.values()) {
      let c = open.get(d.kind);
      if (!c || c.docs.length >= this.limits.docBatch) {
        c = { kind: d.kind, docs: [] };
        open.set(d.kind, c);
        chunks.push(c);
      }
      c.docs.push(d);
    }
    const failures: RecordFailure[] = [];
    let next = 0;
    let stop: Error | undefined;
    const worker = async () => {
      while (stop === undefined && next < chunks.length) {
        const c = chunks[next++]!;
        try {
          for (const [i, error] of await this.postBatch(c.kind, c.docs.map((d) => ({ id: d.id, body: records[d.index]!.record })))) {
            const d = c.docs[i]!;
            for (const index of [d.index, ...d.same]) failures.push({ index, error });
          }
        } catch (err) {
          stop ??= err as Error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.limits.docConcurrency, chunks.length) }, worker));
    if (stop !== undefined) throw stop;
    return failures;
  }

  /**
   * One /batch of documents. A 202 lists the ids written: a document it leaves out failed on the
   * server (Stargate only logs it), so exactly those are written again one by one. A 400 refuses
   * the whole request for one document: each is then written on its own, which finds it.
   */
  private async postBatch(kind: DocumentKind, docs: { id: string; body: unknown }[]): Promise<[number, RapflowError][]> {
    const path = `/v2/namespaces/${this.keyspace}/collections/${COLLECTIONS[kind]}/batch`;
    const res = await this.client.request<{ documentIds?: string[] }>('POST', path, { params: { 'id-path': 'id' }, body: docs.map((d) => d.body), accept: [202, 400, 404] });
    let again: number[];
    if (res.status === 202) {
      const written = new Set(res.data.documentIds ?? []);
      again = docs.flatMap((d, i) => (written.has(d.id) ? [] : [i]));
    } else if (res.status === 400) {
      again = docs.map((_, i) => i);
    } else {
      throw schemaMissing(`POST ${path}`, descriptionOf(res.data), this.keyspace);
    }
    this.stats.documents += docs.length - again.length;
    const refused: [number, RapflowError][] = [];
    for (const i of again) {
      const r = await this.putDocument(kind, docs[i]!.id, docs[i]!.body);
      if (r) refused.push([i, r.error]);
      else {
        this.stats.documents++;
        this.stats.documentsRewritten++;
      }
    }
    return refused;
  }

  private async putDocument(kind: DocumentKind, id: string, body: unknown): Promise<Refused | undefined> {
    const path = `/v2/namespaces/${this.keyspace}/collections/${COLLECTIONS[kind]}/${encodeURIComponent(id)}`;
    const res = await this.client.request('PUT', path, { body, accept: [200, 400, 404] });
    if (res.status === 200) return undefined;
    return this.refusal(res.status, descriptionOf(res.data), `PUT ${path}`, `${COLLECTIONS[kind]} document ${id}`);
  }
}
