// The S3 adapter retries a 503 itself and says so only through the hook rapflow's logger is given:
// nothing on the console. Against an in-process HTTP server, because a real MinIO answers 503 only
// while it starts (where `stack up` met minio's own retry line) and cannot be made to on demand.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { RapflowError } from '../../src/errors.js';
import { ObjectStore, S3_RETRY, s3Client } from '../../src/source/s3.js';

let server: Server;
let endpoint = '';
/** Requests the server answers 503 before answering normally. */
let unavailableFor = 0;
let requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    if (requests.length <= unavailableFor) {
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>starting</Message></Error>');
      return;
    }
    // HEAD /bucket: the bucket exists.
    res.writeHead(200);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

let consoleLines: unknown[][] = [];
beforeEach(() => {
  requests = [];
  consoleLines = [];
  for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) vi.spyOn(console, m).mockImplementation((...args: unknown[]) => void consoleLines.push(args));
});
afterEach(() => vi.restoreAllMocks());

const client = () => s3Client({ endpoint, accessKey: 'test', secretKey: 'test-secret' });

describe('S3 calls answered 503', () => {
  it('are retried by rapflow, reported to its hook, and print nothing on the console', async () => {
    unavailableFor = 1;
    const retries: { code: string; httpStatus: unknown; attempt: number }[] = [];
    const store = new ObjectStore(client(), { onRetry: (err, attempt) => retries.push({ code: err.code, httpStatus: err.context.httpStatus, attempt }) });
    await store.ensureBucket('rap-inbox');
    expect(consoleLines).toEqual([]);
    expect(requests).toEqual(['HEAD /rap-inbox', 'HEAD /rap-inbox']);
    expect(retries).toEqual([{ code: 'OBJECT_STORE_UNAVAILABLE', httpStatus: 503, attempt: 1 }]);
  });

  it('end, past the retry budget, in OBJECT_STORE_UNAVAILABLE naming the status (exit 75), still silent', async () => {
    unavailableFor = Infinity;
    const err = await new ObjectStore(client()).ensureBucket('rap-inbox').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RapflowError);
    expect((err as RapflowError).code).toBe('OBJECT_STORE_UNAVAILABLE');
    expect((err as RapflowError).context.httpStatus).toBe(503);
    expect((err as RapflowError).message).toBe('creating bucket rap-inbox: object store unavailable (HTTP 503)');
    expect(requests).toHaveLength(S3_RETRY.attempts);
    expect(consoleLines).toEqual([]);
  });
});
