// Stargate's HTTP APIs (what K8ssandra puts in front of Cassandra), as rapflow's client: a token
// from the auth API, renewed once on 401; 429, 5xx and lost connections retried with backoff; other
// answers handed back or classified. No axios error object ever leaves this file: their config
// holds the token.
import { Agent as HttpAgent } from 'node:http';
import axios, { type AxiosInstance } from 'axios';
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

const RETRY: RetryPolicy = { attempts: 5, initialDelayMs: 200, maxDelayMs: 3_000 };

export interface Failure {
  status?: number;
  code?: string;
  description?: string;
}

export interface Answer<T> {
  status: number;
  data: T;
}

function failureOf(err: unknown): Failure {
  if (axios.isAxiosError(err)) return { status: err.response?.status, code: err.code, description: descriptionOf(err.response?.data) };
  return { description: err instanceof Error ? err.message : String(err) };
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

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export class StargateClient {
  private readonly http: AxiosInstance;
  private token: Promise<string> | undefined;
  /** Tokens obtained, the first included: a renewal after a 401 shows as 2. */
  logins = 0;

  constructor(readonly s: StargateSettings) {
    this.http = axios.create({
      timeout: s.timeoutMs ?? 10_000,
      validateStatus: () => true,
      // Keep-alive: a REST write is one small request per row, and a new connection for each
      // would cost Stargate's Jetty and both kernels more than the write.
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: s.maxSockets ?? 64 }),
      maxContentLength: 64 * 1024 * 1024,
      maxBodyLength: 64 * 1024 * 1024,
    });
  }

  private async login(): Promise<string> {
    let res;
    try {
      res = await this.http.post(`${this.s.authUrl}/v1/auth`, { username: this.s.username, password: this.s.password });
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
    return withRetry(async () => {
      for (let renewed = false; ; renewed = true) {
        const { token, value } = await this.currentToken();
        let res;
        try {
          res = await this.http.request({
            method,
            url: `${this.s.restUrl}${path}`,
            ...(opts.params ? { params: opts.params } : {}),
            ...(opts.body === undefined ? {} : { data: opts.body }),
            headers: { 'X-Cassandra-Token': value, ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }) },
          });
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
}
