// S3 / MinIO as an ObjectSource through the minio SDK (plain S3 API, path-style), errors translated at this boundary.
import * as Minio from 'minio';
import { RapflowError } from '../errors.js';
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
  });
}

/** `s3://bucket/prefix` -> { bucket, prefix }. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) throw new RapflowError('CONFIG_INVALID', `"${uri}" is not an s3://bucket/prefix address`);
  return { bucket: m[1]!, prefix: m[2] ?? '' };
}

const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up/i;

export function s3Error(err: unknown, what: string, objectKey?: string): RapflowError {
  const e = err as { code?: string; message?: string };
  const context = objectKey === undefined ? {} : { objectKey };
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
  ) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Uri(uri));
  }

  /** Rap-as-Code files under the prefix (or, with `pattern`, the keys it matches). */
  async *list(pattern: RegExp = RAP_FILE): AsyncIterable<ObjectRef> {
    try {
      for await (const item of this.client.listObjectsV2(this.bucket, this.prefix, true)) {
        const o = item as { name?: string; etag?: string; size?: number };
        if (!o.name || !pattern.test(o.name)) continue;
        yield { uri: `s3://${this.bucket}/${o.name}`, bucket: this.bucket, key: o.name, etag: o.etag, size: o.size ?? 0 };
      }
    } catch (err) {
      throw s3Error(err, `listing s3://${this.bucket}/${this.prefix}`);
    }
  }

  async read(ref: ObjectRef): Promise<Uint8Array> {
    try {
      const stream = await this.client.getObject(ref.bucket ?? this.bucket, ref.key);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch (err) {
      throw s3Error(err, `reading ${ref.uri}`, ref.key);
    }
  }
}

/** The bucket operations the pipeline needs beyond reading: upload, quarantine, reports. */
export class ObjectStore {
  constructor(readonly client: Minio.Client) {}

  async ensureBucket(bucket: string): Promise<void> {
    try {
      if (!(await this.client.bucketExists(bucket))) await this.client.makeBucket(bucket);
    } catch (err) {
      throw s3Error(err, `creating bucket ${bucket}`);
    }
  }

  /** Objects under a prefix that look like Rap-as-Code files (or whose keys match `pattern`), with their etags. */
  list(bucket: string, prefix: string, pattern?: RegExp): AsyncIterable<ObjectRef> {
    return new S3Source(this.client, `s3://${bucket}/${prefix}`).list(pattern);
  }

  async stat(bucket: string, key: string): Promise<ObjectRef> {
    try {
      const s = await this.client.statObject(bucket, key);
      return { uri: `s3://${bucket}/${key}`, bucket, key, etag: s.etag, size: s.size };
    } catch (err) {
      if ((err as { code?: string }).code === 'NotFound' || (err as { code?: string }).code === 'NoSuchKey') {
        throw new RapflowError('INPUT_INVALID', `s3://${bucket}/${key}: no such object`, { cause: err, context: { objectKey: key } });
      }
      throw s3Error(err, `reading s3://${bucket}/${key}`, key);
    }
  }

  read(ref: ObjectRef): Promise<Uint8Array> {
    return new S3Source(this.client, `s3://${ref.bucket}/`).read(ref);
  }

  /** Puts an object; returns its etag. `metadata` becomes x-amz-meta-* headers. */
  async put(bucket: string, key: string, body: Buffer, contentType: string, metadata: Record<string, string> = {}): Promise<string> {
    try {
      const r = await this.client.putObject(bucket, key, body, body.length, { 'Content-Type': contentType, ...metadata });
      return r.etag;
    } catch (err) {
      throw s3Error(err, `writing s3://${bucket}/${key}`, key);
    }
  }

  async copy(bucket: string, fromKey: string, toKey: string): Promise<void> {
    try {
      await this.client.copyObject(new Minio.CopySourceOptions({ Bucket: bucket, Object: fromKey }), new Minio.CopyDestinationOptions({ Bucket: bucket, Object: toKey }));
    } catch (err) {
      throw s3Error(err, `copying s3://${bucket}/${fromKey} to ${toKey}`, fromKey);
    }
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
  try {
    await client.setBucketNotification(bucket, config);
  } catch (err) {
    throw s3Error(err, `configuring notifications of ${bucket}`);
  }
}
