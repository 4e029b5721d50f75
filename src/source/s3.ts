// S3 / MinIO as an ObjectSource through the minio SDK (plain S3 API, path-style), errors translated at this boundary.
import { setTimeout as wait } from 'node:timers/promises';
import * as Minio from 'minio';
import { classify, RapflowError } from '../errors.js';
import { backoffDelay, withRetry, type RetryPolicy } from '../retry.js';
import { RAP_FILE, type ObjectRef, type ObjectSource } from './types.js';

export interface S3Settings {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region?: string;
}

export function s3Client(s: S3Settings): Minio.Client {
  const url = new URL(s.endpoint);
  return new Minio.Client({
    endPoint: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    useSSL: url.protocol === 'https:',
    accessKey: s.accessKey,
    secretKey: s.secretKey,
    region: s.region ?? 'us-east-1',
    pathStyle: true,
    // minio retries a 5xx once by itself and prints each retry on the console with console.warn
    // (its src/internal/request.ts); rapflow retries S3 calls itself (S3_RETRY) and says so through
    // its own logger, so the SDK's retry is off.
    retryOptions: { disableRetry: true },
  });
}

/** Bounded retries of one S3 request (503 while MinIO starts or is busy, a dropped connection). */
export const S3_RETRY: RetryPolicy = { attempts: 3, initialDelayMs: 200, maxDelayMs: 2_000 };

/** Told of each retry of an S3 call: the error (ours already), the attempt that failed, the wait before the next. */
export type S3RetryHook = (err: RapflowError, attempt: number, delayMs: number) => void;

export interface S3Options {
  onRetry?: S3RetryHook;
}

/** One S3 request: foreign errors become ours, retryable ones are retried within S3_RETRY. */
function s3Call<T>(fn: () => Promise<T>, what: string, objectKey: string | undefined, options: S3Options): Promise<T> {
  const { onRetry } = options;
  return withRetry(
    async () => {
      try {
        return await fn();
      } catch (err) {
        throw err instanceof RapflowError ? err : s3Error(err, what, objectKey);
      }
    },
    S3_RETRY,
    onRetry ? { onRetry: (err, attempt, delayMs) => onRetry(err as RapflowError, attempt, delayMs) } : {},
  );
}

/** `s3://bucket/prefix` -> { bucket, prefix }. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) throw new RapflowError('CONFIG_INVALID', `"${uri}" is not an s3://bucket/prefix address`);
  return { bucket: m[1]!, prefix: m[2] ?? '' };
}

const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up/i;
/** What minio throws for a 408, 429 or 5xx once its own retry is off: "Request failed after 0 retries: Error: Retryable HTTP status: 503". */
const RETRYABLE_STATUS = /Retryable HTTP status: (\d{3})/;

export function s3Error(err: unknown, what: string, objectKey?: string): RapflowError {
  const e = err as { code?: string; message?: string };
  const context = objectKey === undefined ? {} : { objectKey };
  const status = RETRYABLE_STATUS.exec(e.message ?? '');
  if (status) {
    return new RapflowError('OBJECT_STORE_UNAVAILABLE', `${what}: object store unavailable (HTTP ${status[1]})`, { cause: err, context: { ...context, httpStatus: Number(status[1]) } });
  }
  if (NETWORK.test(e.code ?? '') || NETWORK.test(e.message ?? '') || e.code === 'SlowDown' || e.code === 'ServiceUnavailable' || e.code === 'InternalError') {
    return new RapflowError('OBJECT_STORE_UNAVAILABLE', `${what}: object store unavailable (${e.code ?? e.message ?? 'no answer'})`, { cause: err, context });
  }
  if (e.code === 'NoSuchBucket' || e.code === 'AccessDenied' || e.code === 'InvalidAccessKeyId' || e.code === 'SignatureDoesNotMatch') {
    return new RapflowError('CONFIG_INVALID', `${what}: ${e.code} (check the bucket name and the S3 credentials)`, { cause: err, context });
  }
  return new RapflowError('INTERNAL', `${what}: ${e.code ?? ''} ${e.message ?? String(err)}`.trim(), { cause: err, context });
}

export class S3Source implements ObjectSource {
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    private readonly client: Minio.Client,
    uri: string,
    private readonly options: S3Options = {},
  ) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Uri(uri));
  }

  /**
   * Rap-as-Code files under the prefix (or, with `pattern`, the keys it matches). A listing that
   * fails before its first key is retried within S3_RETRY; one that fails later is not (its keys
   * would be given twice).
   */
  async *list(pattern: RegExp = RAP_FILE): AsyncIterable<ObjectRef> {
    const what = `listing s3://${this.bucket}/${this.prefix}`;
    for (let attempt = 1; ; attempt++) {
      let given = false;
      try {
        for await (const item of this.client.listObjectsV2(this.bucket, this.prefix, true)) {
          const o = item as { name?: string; etag?: string; size?: number; lastModified?: Date };
          if (!o.name || !pattern.test(o.name)) continue;
          given = true;
          yield { uri: `s3://${this.bucket}/${o.name}`, bucket: this.bucket, key: o.name, etag: o.etag, size: o.size ?? 0, lastModified: o.lastModified };
        }
        return;
      } catch (err) {
        const e = s3Error(err, what);
        if (given || classify(e) !== 'retryable' || attempt >= S3_RETRY.attempts) throw e;
        const delayMs = backoffDelay(S3_RETRY, attempt - 1);
        this.options.onRetry?.(e, attempt, delayMs);
        await wait(delayMs);
      }
    }
  }

  read(ref: ObjectRef): Promise<Uint8Array> {
    return s3Call(
      async () => {
        const stream = await this.client.getObject(ref.bucket ?? this.bucket, ref.key);
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      },
      `reading ${ref.uri}`,
      ref.key,
      this.options,
    );
  }
}

/** The bucket operations the pipeline needs beyond reading: upload, quarantine, reports. */
export class ObjectStore {
  constructor(
    readonly client: Minio.Client,
    private readonly options: S3Options = {},
  ) {}

  async ensureBucket(bucket: string): Promise<void> {
    await s3Call(
      async () => {
        if (!(await this.client.bucketExists(bucket))) await this.client.makeBucket(bucket);
      },
      `creating bucket ${bucket}`,
      undefined,
      this.options,
    );
  }

  /** Objects under a prefix that look like Rap-as-Code files (or whose keys match `pattern`), with their etags. */
  list(bucket: string, prefix: string, pattern?: RegExp): AsyncIterable<ObjectRef> {
    return new S3Source(this.client, `s3://${bucket}/${prefix}`, this.options).list(pattern);
  }

  stat(bucket: string, key: string): Promise<ObjectRef> {
    return s3Call(
      async () => {
        try {
          const s = await this.client.statObject(bucket, key);
          return { uri: `s3://${bucket}/${key}`, bucket, key, etag: s.etag, size: s.size, lastModified: s.lastModified };
        } catch (err) {
          if ((err as { code?: string }).code === 'NotFound' || (err as { code?: string }).code === 'NoSuchKey') {
            throw new RapflowError('INPUT_INVALID', `s3://${bucket}/${key}: no such object`, { cause: err, context: { objectKey: key } });
          }
          throw err;
        }
      },
      `reading s3://${bucket}/${key}`,
      key,
      this.options,
    );
  }

  read(ref: ObjectRef): Promise<Uint8Array> {
    return new S3Source(this.client, `s3://${ref.bucket}/`, this.options).read(ref);
  }

  /** Puts an object; returns its etag. `metadata` becomes x-amz-meta-* headers. */
  async put(bucket: string, key: string, body: Buffer, contentType: string, metadata: Record<string, string> = {}): Promise<string> {
    const r = await s3Call(() => this.client.putObject(bucket, key, body, body.length, { 'Content-Type': contentType, ...metadata }), `writing s3://${bucket}/${key}`, key, this.options);
    return r.etag;
  }

  async copy(bucket: string, fromKey: string, toKey: string): Promise<void> {
    await s3Call(
      () => this.client.copyObject(new Minio.CopySourceOptions({ Bucket: bucket, Object: fromKey }), new Minio.CopyDestinationOptions({ Bucket: bucket, Object: toKey })),
      `copying s3://${bucket}/${fromKey} to ${toKey}`,
      fromKey,
      this.options,
    );
  }
}

/** MinIO's ARN for the Kafka notification target named PRIMARY (scripts/stack/minio.sh configures it). */
export const MINIO_KAFKA_ARN = 'arn:minio:sqs::PRIMARY:kafka';

/** Sends "object created" events for `prefix*suffix` in `bucket` to a notification target (idempotent). */
export async function enableNotifications(client: Minio.Client, bucket: string, prefix: string, suffix: string, arn = MINIO_KAFKA_ARN): Promise<void> {
  const queue = new Minio.QueueConfig(arn);
  queue.addEvent(Minio.ObjectCreatedAll);
  if (prefix) queue.addFilterPrefix(prefix);
  if (suffix) queue.addFilterSuffix(suffix);
  const config = new Minio.NotificationConfig();
  config.add(queue);
  await s3Call(() => client.setBucketNotification(bucket, config), `configuring notifications of ${bucket}`, undefined, {});
}
