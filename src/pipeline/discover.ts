// Upload and discover: files into the inbox, and the inbox objects no run has finished yet.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { ObjectRef, ObjectSource } from '../source/types.js';
import type { Ledger } from './ledger.js';

export interface InboxStore {
  list(bucket: string, prefix: string): AsyncIterable<ObjectRef>;
  put(bucket: string, key: string, body: Buffer, contentType: string, metadata?: Record<string, string>): Promise<string>;
}

export interface Uploaded {
  file: string;
  key: string;
  etag: string;
  sha256: string;
  bytes: number;
}

/** Puts every Rap-as-Code file of `source` under `prefix`, with content type and a SHA-256 checksum. */
export async function upload(source: ObjectSource, store: InboxStore, bucket: string, prefix: string, relativeTo: string): Promise<Uploaded[]> {
  const out: Uploaded[] = [];
  for await (const ref of source.list()) {
    const body = Buffer.from(await source.read(ref));
    const sha256 = createHash('sha256').update(body).digest('hex');
    // A file under the folder keeps its path below it; a single file given itself keeps its name.
    const name = (ref.key.startsWith(relativeTo) ? ref.key.slice(relativeTo.length).replace(/^\/+/, '') : ref.key) || basename(ref.key);
    const key = `${prefix}${name}`;
    const etag = await store.put(bucket, key, body, 'application/yaml', { 'x-amz-meta-sha256': sha256 });
    out.push({ file: ref.uri, key, etag, sha256, bytes: body.length });
  }
  return out;
}

export interface Discovered {
  bucket: string;
  key: string;
  etag: string;
  size: number;
}

/**
 * Inbox objects whose (key, etag) the ledger has not finished: new files and changed ones.
 * At most `max` (a workflow fans out over the list; the rest waits for the next run).
 */
export async function discover(store: InboxStore, ledger: Ledger, bucket: string, prefix: string, max = Number.POSITIVE_INFINITY): Promise<{ todo: Discovered[]; finished: number; deferred: number }> {
  const finished = await ledger.finished(bucket);
  const todo: Discovered[] = [];
  let done = 0;
  let deferred = 0;
  for await (const ref of store.list(bucket, prefix)) {
    if (finished.get(ref.key)?.has(ref.etag ?? '')) {
      done++;
      continue;
    }
    if (todo.length >= max) deferred++;
    else todo.push({ bucket, key: ref.key, etag: ref.etag ?? '', size: ref.size });
  }
  return { todo, finished: done, deferred };
}
