// Schema registry adapter (Confluent REST API; Apicurio's ccompat in the local stack): register, check, encode, decode.
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import http from 'node:http';
import axios, { type AxiosInstance } from 'axios';
import type avro from 'avsc';
import { RapflowError } from '../errors.js';
import { withRetry } from '../retry.js';
import { LOGICAL_TYPES } from './logical-types.js';
import { schemaIdOf } from './confluent.js';
import { incompatibility, parseType, subjectOf, type RecordName, type SchemaSet } from './schemas.js';

export interface Registered {
  subject: string;
  id: number;
  /** The subject's version number of this schema. */
  version: number;
}

export interface SubjectStatus {
  record: RecordName;
  subject: string;
  state: 'current' | 'differs' | 'missing';
  /** The registry's latest version, when there is one. */
  version?: number;
  id?: number;
  /** Whether ours may be registered after the latest (the registry's own BACKWARD check). */
  compatible?: boolean;
  detail: string;
}

const REQUEST_TIMEOUT_MS = 10_000;
const timeoutMiddleware = () => ({ request: (req: { enhance(extras: { timeout: number }): unknown }) => req.enhance({ timeout: REQUEST_TIMEOUT_MS }) });
const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|timeout/i;

/** Turns whatever the registry client threw into a RapflowError with a code. */
export function registryError(err: unknown, what: string, subject?: string): RapflowError {
  const e = err as { status?: number; message?: string; response?: { status?: number; data?: { message?: string } }; code?: string };
  const status = e.status ?? e.response?.status;
  const message = e.response?.data?.message ?? e.message ?? String(err);
  const context = subject === undefined ? {} : { subject };
  if (status === 409) {
    return new RapflowError('SCHEMA_INCOMPATIBLE', `${what}: the registry refuses it as incompatible with the subject's history: ${message.replace(/^Confluent_Schema_Registry - /, '')}`, {
      cause: err,
      context: { ...context, httpStatus: 409 },
    });
  }
  if ((status !== undefined && status >= 500) || NETWORK.test(message) || (e.code !== undefined && NETWORK.test(e.code))) {
    return new RapflowError('REGISTRY_UNAVAILABLE', `${what}: schema registry unavailable (${message})`, {
      cause: err,
      context: status === undefined ? context : { ...context, httpStatus: status },
    });
  }
  return new RapflowError('INTERNAL', `${what}: unexpected registry answer${status ? ` ${status}` : ''}: ${message}`, { cause: err, context });
}

export class Registry {
  private readonly client: SchemaRegistry;
  private readonly http: AxiosInstance;
  /** Ids registered or looked up in this run (the client does not cache them, kafkajs/confluent-schema-registry#42). */
  private readonly ids = new Map<string, { id: number; version: number }>();
  /** Writer-to-reader resolvers by writer schema id and reader name (null: the same schema). */
  private readonly resolvers = new Map<string, Promise<ReturnType<avro.Type['createResolver']> | null>>();
  /** The same, once resolved: what decodeIfReady reads. */
  private readonly ready = new Map<string, ReturnType<avro.Type['createResolver']> | null>();

  constructor(
    readonly url: string,
    /** Prepended to topic names, and so to subjects (`<prefix>rap.songs-value`). */
    private readonly topicPrefix = '',
  ) {
    this.client = new SchemaRegistry(
      {
        host: url,
        retry: { retries: 2, maxRetryTimeInSecs: 2 },
        // No keep-alive: a socket the registry closed between two calls once swallowed a request
        // whole (seen on a fresh Apicurio), and the client sets no timeout of its own.
        agent: new http.Agent({ keepAlive: false }),
        // A mappersmith middleware (the client's HTTP layer); typed structurally, mappersmith is not ours.
        middlewares: [timeoutMiddleware as never],
      },
      { [SchemaType.AVRO]: { logicalTypes: LOGICAL_TYPES } },
    );
    this.http = axios.create({ baseURL: url, timeout: REQUEST_TIMEOUT_MS, httpAgent: new http.Agent({ keepAlive: false }), headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' } });
  }

  /** Registers (idempotently) the schema of each record under `<topic>-value`; returns ids by record. */
  async registerAll(set: SchemaSet, records: RecordName[] = [...set.bundled.keys()]): Promise<Map<RecordName, Registered>> {
    const out = new Map<RecordName, Registered>();
    for (const name of records) {
      const schema = set.bundled.get(name);
      if (!schema) throw new RapflowError('INTERNAL', `no schema for ${name} in avro/`);
      const subject = subjectOf(name, this.topicPrefix);
      const key = `${subject}\n${JSON.stringify(schema)}`;
      let known = this.ids.get(key);
      if (known === undefined) {
        known = await withRetry(async () => {
          // Already there (the usual case, and what parallel split shards find): no write at all.
          const existing = await this.lookup(subject, schema);
          if (existing) return existing;
          try {
            await this.client.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
          } catch (err) {
            // Two processes registering a new subject at once: the loser is refused, yet the schema is there.
            const raced = await this.lookup(subject, schema).catch(() => undefined);
            if (raced) return raced;
            throw registryError(err, `registering ${name} under ${subject}`, subject);
          }
          // The register answer has no version; the lookup of the same schema does.
          const found = await this.lookup(subject, schema);
          if (!found) throw new RapflowError('REGISTRY_UNAVAILABLE', `registered ${name} under ${subject}, yet the registry does not find it`);
          return found;
        });
        this.ids.set(key, known);
      }
      out.set(name, { subject, ...known });
    }
    return out;
  }

  /** The id and version under which the subject holds exactly this schema; undefined when it does not. */
  private async lookup(subject: string, schema: object): Promise<{ id: number; version: number } | undefined> {
    try {
      const found = await this.http.post<{ id: number; version: number }>(`/subjects/${encodeURIComponent(subject)}`, { schema: JSON.stringify(schema) });
      return { id: found.data.id, version: found.data.version };
    } catch (err) {
      if ((err as { response?: { status?: number } }).response?.status === 404) return undefined;
      throw registryError(err, `looking up ${subject}`, subject);
    }
  }

  /** Answers when the registry answers (readiness). */
  async ping(): Promise<void> {
    await this.http.get('/subjects');
  }

  /** Compares avro/ with what the registry holds, subject by subject, without changing anything. */
  async check(set: SchemaSet): Promise<SubjectStatus[]> {
    const out: SubjectStatus[] = [];
    for (const [record, schema] of set.bundled) {
      const subject = subjectOf(record, this.topicPrefix);
      const local = set.types.get(record)!;
      let latest: { id: number; version: number; schema: string } | undefined;
      try {
        latest = (await this.http.get<{ id: number; version: number; schema: string }>(`/subjects/${encodeURIComponent(subject)}/versions/latest`)).data;
      } catch (err) {
        if (axios.isAxiosError(err) && err.response?.status === 404) latest = undefined;
        else throw registryError(err, `reading ${subject}`, subject);
      }
      if (!latest) {
        out.push({ record, subject, state: 'missing', compatible: true, detail: 'not registered yet: `rapflow schema register` adds it' });
        continue;
      }
      const theirs = parseType(JSON.parse(latest.schema) as Record<string, never>);
      if (theirs.equals(local)) {
        out.push({ record, subject, state: 'current', version: latest.version, id: latest.id, detail: `registered as version ${latest.version} (id ${latest.id})` });
        continue;
      }
      let compatible: boolean;
      try {
        const res = await this.http.post<{ is_compatible: boolean }>(`/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, {
          schema: JSON.stringify(schema),
        });
        compatible = res.data.is_compatible;
      } catch (err) {
        throw registryError(err, `checking ${subject}`, subject);
      }
      const why = compatible ? '' : ` Avro resolution says: ${incompatibility(local, theirs) ?? 'see the registry'}`;
      out.push({
        record,
        subject,
        state: 'differs',
        version: latest.version,
        id: latest.id,
        compatible,
        detail: compatible
          ? `avro/ is newer than version ${latest.version} and BACKWARD compatible: \`rapflow schema register\` adds it`
          : `avro/ is NOT backward compatible with version ${latest.version}.${why}`,
      });
    }
    return out;
  }

  async encode(id: number, record: unknown): Promise<Buffer> {
    try {
      return await this.client.encode(id, record);
    } catch (err) {
      if ((err as { paths?: unknown }).paths) {
        throw new RapflowError('INPUT_INVALID', `record does not fit schema ${id}: ${(err as Error).message}`, { cause: err });
      }
      throw registryError(err, `encoding with schema ${id}`);
    }
  }

  /**
   * Decodes at once, without a promise, when the writer's schema of this record's id was resolved
   * to `reader` before (by decode); undefined when not. The consumer decodes a whole batch this way
   * in one go once the first records of each writer's schema went through decode. Errors are the
   * record's own (avsc's reading errors).
   */
  decodeIfReady(buffer: Buffer, reader?: avro.Type): unknown {
    if (!reader) return undefined;
    const resolver = this.ready.get(`${schemaIdOf(buffer)}\n${reader.name ?? ''}`);
    if (resolver === undefined) return undefined;
    return resolver ? reader.fromBuffer(buffer.subarray(5), resolver) : reader.fromBuffer(buffer.subarray(5));
  }

  /**
   * Decodes with the writer's schema from the registry, resolved to `reader` (a bundled schema
   * from avro/) when given: records from older and newer producers both come out in our shape.
   * Decodes a framed value. With a reader type, the writer's schema (fetched once per id) is
   * resolved to it, and the resolver is built once per writer id and reader: the client's own
   * decode with a reader schema parses that schema and builds a resolver on every call, which
   * cost the consumer a third of its CPU (bench/e2e profile).
   */
  async decode(buffer: Buffer, reader?: avro.Type): Promise<unknown> {
    try {
      if (!reader) return await this.client.decode(buffer);
      const id = schemaIdOf(buffer);
      const key = `${id}\n${reader.name ?? ''}`;
      let resolved = this.resolvers.get(key);
      if (!resolved) {
        resolved = this.client.getSchema(id).then((writer) => {
          if (reader.equals(writer as avro.Type)) return null;
          try {
            return reader.createResolver(writer as avro.Type);
          } catch (err) {
            // The registry answered; its schema cannot be read as ours (a field ours needs that it lacks, a type that does not promote).
            throw new RapflowError('RECORD_UNDECODABLE', `the writer's schema (id ${id}) cannot be read as ${reader.name ?? 'ours'}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
          }
        });
        // A failed lookup (registry away) is not cached: the next record asks again.
        resolved.catch(() => this.resolvers.delete(key));
        this.resolvers.set(key, resolved);
      }
      const resolver = await resolved;
      this.ready.set(key, resolver);
      return resolver ? reader.fromBuffer(buffer.subarray(5), resolver) : reader.fromBuffer(buffer.subarray(5));
    } catch (err) {
      if (err instanceof RapflowError) throw err;
      throw registryError(err, 'decoding a record');
    }
  }
}

/** Offline twin of the registry rule, for CI without a registry: current avro/ against each released version. */
export function offlineBackwardProblems(current: SchemaSet, released: SchemaSet[]): string[] {
  const problems: string[] = [];
  for (const old of released) {
    for (const [name, writer] of old.types) {
      const reader: avro.Type | undefined = current.types.get(name);
      if (!reader) {
        problems.push(`${name}: removed from avro/ but released before`);
        continue;
      }
      const why = incompatibility(reader, writer);
      if (why) problems.push(`${name}: cannot read data written with a released version: ${why}`);
    }
  }
  return problems;
}
