// Stargate's REST API v2 (what K8ssandra puts in front of Cassandra), as rapflow's HTTP client:
// a token from the auth API, renewed once on 401; 429 and 503 retried with backoff; other
// failures classified. No axios error object ever leaves this file: their config holds the token.
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
}

const RETRY: RetryPolicy = { attempts: 5, initialDelayMs: 200, maxDelayMs: 3_000 };

type Failure = { status?: number; code?: string; description?: string };

function failureOf(err: unknown): Failure {
  if (axios.isAxiosError(err)) {
    const data = err.response?.data as { description?: unknown } | undefined;
    return { status: err.response?.status, code: err.code, description: typeof data?.description === 'string' ? data.description.slice(0, 300) : undefined };
  }
  return { description: err instanceof Error ? err.message : String(err) };
}

/** What an HTTP failure means for us; the message carries status and Stargate's description, never headers. */
export function stargateError(f: Failure, what: string): RapflowError {
  const detail = [f.status ? `HTTP ${f.status}` : f.code, f.description].filter(Boolean).join(': ');
  const context = f.status ? { service: 'stargate', httpStatus: f.status } : { service: 'stargate' };
  if (f.status === 401 || f.status === 403) return new RapflowError('SINK_AUTH_FAILED', `${what}: Stargate refused the credentials (${detail})`, { context });
  if (f.status === undefined || f.status === 429 || f.status >= 500) return new RapflowError('SINK_UNAVAILABLE', `${what}: Stargate unavailable (${detail})`, { context });
  return new RapflowError('INTERNAL', `${what}: Stargate answered ${detail}`, { context });
}

export class StargateClient {
  private readonly http: AxiosInstance;
  private token: Promise<string> | undefined;

  constructor(private readonly s: StargateSettings) {
    this.http = axios.create({ timeout: s.timeoutMs ?? 10_000, validateStatus: () => true });
  }

  private async login(): Promise<string> {
    let res;
    try {
      res = await this.http.post(`${this.s.authUrl}/v1/auth`, { username: this.s.username, password: this.s.password });
    } catch (err) {
      throw stargateError(failureOf(err), 'authenticating');
    }
    const token = (res.data as { authToken?: unknown } | undefined)?.authToken;
    if (res.status === 201 && typeof token === 'string') return token;
    throw stargateError({ status: res.status, description: (res.data as { description?: string } | undefined)?.description }, `authenticating as ${this.s.username}`);
  }

  /** A GET on the REST API; `null` for 404. A 401 renews the token once; 429/5xx retry with backoff. */
  async get<T>(path: string, params: Record<string, string> = {}): Promise<T | null> {
    return withRetry(async () => {
      for (let renewed = false; ; renewed = true) {
        this.token ??= this.login();
        const token = this.token;
        const value = await token.catch((err: unknown) => {
          if (this.token === token) this.token = undefined; // a failed login is not cached
          throw err;
        });
        let res;
        try {
          res = await this.http.get(`${this.s.restUrl}${path}`, { params, headers: { 'X-Cassandra-Token': value } });
        } catch (err) {
          throw stargateError(failureOf(err), `GET ${path}`);
        }
        if (res.status === 200) return res.data as T;
        if (res.status === 404) return null;
        if (res.status === 401 && !renewed) {
          // Tokens expire after a while unused (1800 s by default): get a new one, once.
          if (this.token === token) this.token = undefined;
          continue;
        }
        throw stargateError({ status: res.status, description: (res.data as { description?: string } | undefined)?.description }, `GET ${path}`);
      }
    }, this.s.retry ?? RETRY);
  }
}
