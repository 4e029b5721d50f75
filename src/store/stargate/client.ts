// Stargate's HTTP APIs (what K8ssandra puts in front of Cassandra), as rapflow's client: a token
// from the auth API, renewed once on 401; 429, 5xx and lost connections retried with backoff; other
// answers handed back or classified. No HTTP library's error object leaves this file, so no header
// (the token) can reach a log.
//
// undici (Node's own HTTP client, as a package) rather than axios, which the registry client uses:
// REST writes one HTTP request per row, and against a real Stargate axios cost 0.45-0.79 ms of CPU a
// request where undici cost 0.17-0.29 (1,134 against 1,875 rows/s at 32 in flight, same run).
import { Pool } from 'undici';
import { RapflowError } from '../../errors.js';
import { withRetry, type RetryPolicy } from '../../retry.js';

export interface StargateSettings {
  /** REST and Document API, e.g. http://<cluster>-<dc>-stargate-service:8082 */
  restUrl: string;
  /** Auth API, e.g. http://<cluster>-<dc>-stargate-service:8081 */
  authUrl: string;
  username: string;
  password: string;
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** Sockets kept open to Stargate: at least the requests the caller has in flight. */
  maxSockets?: number;
  /** Called when a 401 made the client get a new token (an expired or revoked one). */
  onRenew?: (what: string) => void;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const RETRY: RetryPolicy = { attempts: 5, initialDelayMs: 200, maxDelayMs: 3_000 };

/**
 * How long a schema change may take to answer. Stargate answers a schema change only once the
 * ring agrees on the new schema, and waits up to 180 s for that (900 checks 200 ms apart,
 * `stargate.persistence.schema.agreement.wait.retries`). Measured on the local stack: a column
 * dropped through the schema API answered after 0.8, 23.7 and 61.4 s. Cut off at the data
 * requests' 10 s, the change went on in Stargate and the retry was refused ("column not found").
 */
export const SCHEMA_CHANGE_TIMEOUT_MS = 200_000;

/** A request that changes schema: keyspaces, tables, columns and indexes, or a new collection (a table). */
export function isSchemaChange(method: Method, path: string): boolean {
  return method !== 'GET' && (path.startsWith('/v2/schemas/') || /^\/v2\/namespaces\/[^/]+\/collections$/.test(path));
}

export interface Failure {
  status?: number;
  code?: string;
  description?: string;
}

export interface Answer<T> {
  status: number;
  data: T;
}

/** A request that got no answer: the connection's error code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT...), never the request. */
function failureOf(err: unknown): Failure {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? { code } : { description: err instanceof Error ? err.message : String(err) };
}

/** Stargate's error body is `{"description","code"}`; a 414 from Jetty is HTML, which we do not repeat. */
export function descriptionOf(data: unknown): string | undefined {
  const d = (data as { description?: unknown } | undefined)?.description;
  return typeof d === 'string' ? d.slice(0, 300) : undefined;
}

/** What an HTTP failure means for us; the message carries status and Stargate's description, never headers. */
export function stargateError(f: Failure, what: string): RapflowError {
  const detail = [f.status ? `HTTP ${f.status}` : f.code, f.description].filter(Boolean).join(': ');
  const context = f.status ? { service: 'stargate', httpStatus: f.status } : { service: 'stargate' };
  if (f.status === 401 || f.status === 403) return new RapflowError('SINK_AUTH_FAILED', `${what}: Stargate refused the credentials (${detail})`, { context });
  if (f.status === undefined || f.status === 429 || f.status >= 500) return new RapflowError('SINK_UNAVAILABLE', `${what}: Stargate unavailable (${detail})`, { context });
  return new RapflowError('INTERNAL', `${what}: Stargate answered ${detail}`, { context });
}

/**
 * A 404 from a rows or collection endpoint: a missing row is a 200 with no data there, so this is
 * a keyspace, table or collection Stargate does not know (wrong name, `db init` not run, or schema
 * made over CQL that Stargate sees only after about a minute).
 */
export function schemaMissing(what: string, description: string | undefined, keyspace: string): RapflowError {
  return new RapflowError(
    'CONFIG_INVALID',
    `${what}: Stargate does not know this keyspace, table or collection${description ? ` (${description})` : ''}. ` +
      `Check CASSANDRA_KEYSPACE (${keyspace}) and run \`rapflow db init\`; schema created over CQL reaches Stargate only after about a minute.`,
    { context: { service: 'stargate', httpStatus: 404 } },
  );
}


export class StargateClient {
  // Keep-alive pools, one per origin: a REST write is one small request per row, and a new
  // connection for each would cost Stargate's Jetty and both kernels more than the write.
  private readonly rest: Pool;
  private readonly auth: Pool;
  private readonly restPath: string;
  private readonly authPath: string;
  private token: Promise<string> | undefined;
  /** Tokens obtained, the first included: a renewal after a 401 shows as 2. */
  logins = 0;

  constructor(readonly s: StargateSettings) {
    const timeout = s.timeoutMs ?? 10_000;
    const pool = (url: string) => new Pool(new URL(url).origin, { connections: s.maxSockets ?? 64, headersTimeout: timeout, bodyTimeout: timeout, connectTimeout: timeout });
    this.rest = pool(s.restUrl);
    this.auth = pool(s.authUrl);
    this.restPath = new URL(s.restUrl).pathname.replace(/\/$/, '');
    this.authPath = new URL(s.authUrl).pathname.replace(/\/$/, '');
  }

  /** One HTTP exchange: its status and its body, parsed when it is JSON (an empty body is ''). */
  private async exchange(pool: Pool, method: Method, path: string, headers: Record<string, string>, body?: unknown, timeoutMs?: number): Promise<Answer<unknown>> {
    const res = await pool.request({
      method,
      path,
      ...(timeoutMs === undefined ? {} : { headersTimeout: timeoutMs, bodyTimeout: timeoutMs }),
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    let data: unknown = text;
    if (text !== '' && String(res.headers['content-type'] ?? '').includes('json')) {
      try {
        data = JSON.parse(text) as unknown;
      } catch {
        data = text;
      }
    }
    return { status: res.statusCode, data };
  }

  private async login(): Promise<string> {
    let res;
    try {
      res = await this.exchange(this.auth, 'POST', `${this.authPath}/v1/auth`, {}, { username: this.s.username, password: this.s.password });
    } catch (err) {
      throw stargateError(failureOf(err), 'authenticating');
    }
    const token = (res.data as { authToken?: unknown } | undefined)?.authToken;
    if (res.status === 201 && typeof token === 'string') {
      this.logins++;
      return token;
    }
    throw stargateError({ status: res.status, description: descriptionOf(res.data) }, `authenticating as ${this.s.username}`);
  }

  private async currentToken(): Promise<{ token: Promise<string>; value: string }> {
    this.token ??= this.login();
    const token = this.token;
    const value = await token.catch((err: unknown) => {
      if (this.token === token) this.token = undefined; // a failed login is not cached
      throw err;
    });
    return { token, value };
  }

  /**
   * One request with the token. Answers whose status is in `accept` are returned; a 401 renews the
   * token once; 429, 5xx and lost connections are retried with backoff (then SINK_UNAVAILABLE);
   * anything else throws, classified.
   */
  async request<T>(method: Method, path: string, opts: { params?: Record<string, string>; body?: unknown; accept: number[] }): Promise<Answer<T>> {
    const what = `${method} ${path}`;
    const timeoutMs = isSchemaChange(method, path) ? Math.max(SCHEMA_CHANGE_TIMEOUT_MS, this.s.timeoutMs ?? 0) : undefined;
    return withRetry(async () => {
      for (let renewed = false; ; renewed = true) {
        const { token, value } = await this.currentToken();
        const query = opts.params ? `?${new URLSearchParams(opts.params).toString()}` : '';
        let res;
        try {
          res = await this.exchange(this.rest, method, `${this.restPath}${path}${query}`, { 'x-cassandra-token': value }, opts.body, timeoutMs);
        } catch (err) {
          throw stargateError(failureOf(err), what);
        }
        if (opts.accept.includes(res.status)) return { status: res.status, data: res.data as T };
        if (res.status === 401 && !renewed) {
          // Tokens expire after a while unused (1800 s by default) or are revoked: get a new one, once.
          if (this.token === token) {
            this.token = undefined;
            this.s.onRenew?.(what);
          }
          continue;
        }
        throw stargateError({ status: res.status, description: descriptionOf(res.data) }, what);
      }
    }, this.s.retry ?? RETRY);
  }

  /** A GET that must answer 200. */
  async get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    return (await this.request<T>('GET', path, { params, accept: [200] })).data;
  }

  /** Lets go of the connections (a process that is done with Stargate). */
  async close(): Promise<void> {
    await Promise.allSettled([this.rest.close(), this.auth.close()]);
  }
}
