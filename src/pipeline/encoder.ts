// Runs encodeFile inline, or on a worker thread so that validation and encoding overlap with producing.
import { isMarkedAsUntransferable, Worker } from 'node:worker_threads';
import { RapflowError } from '../errors.js';
import type { ModelTypes } from '../model/validate.js';
import { encodeFile, type EncodeInput, type EncodeResult, type EncodeSettings } from './encode.js';

export interface FileEncoder {
  encode(input: EncodeInput): Promise<EncodeResult>;
  close(): Promise<void>;
}

export class InlineEncoder implements FileEncoder {
  constructor(
    private readonly types: ModelTypes,
    private readonly settings: EncodeSettings,
  ) {}

  encode(input: EncodeInput): Promise<EncodeResult> {
    return Promise.resolve().then(() => encodeFile(input, this.types, this.settings));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** What crosses the thread boundary: settings once, then files in and records out (values as one transferred buffer). */
export interface WorkerSettings {
  avroDir: string;
  ids: [string, { id: number; version: number }][];
  topicPrefix: string;
  limits: EncodeSettings['limits'];
  partitions?: Record<string, number>;
}

export type WorkerReply =
  | { seq: number; ok: true; topics: string[]; keys: string[]; schemaIds: number[]; schemaVersions: number[]; partitions: number[]; offsets: Uint32Array; data: Uint8Array }
  | { seq: number; ok: false; problems: Extract<EncodeResult, { ok: false }>['problems'] }
  | { seq: number; error: { code?: string; message: string } };

export class WorkerEncoder implements FileEncoder {
  private readonly worker: Worker;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: EncodeResult) => void; reject: (e: unknown) => void }>();

  constructor(settings: WorkerSettings) {
    // The compiled worker next to this file (dist/pipeline/encode-worker.js).
    this.worker = new Worker(new URL('./encode-worker.js', import.meta.url), { workerData: settings });
    this.worker.on('message', (reply: WorkerReply) => this.settle(reply));
    this.worker.on('error', (err: Error) => this.failAll(new RapflowError('INTERNAL', `encoder thread failed: ${err.message}`, { cause: err })));
    this.worker.on('exit', (code) => {
      if (this.pending.size > 0) this.failAll(new RapflowError('INTERNAL', `encoder thread exited (${code}) with work pending`));
    });
  }

  encode(input: EncodeInput): Promise<EncodeResult> {
    const seq = ++this.seq;
    return new Promise<EncodeResult>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      // The file's bytes are not needed here any more: move them instead of copying, unless they
      // share memory (a view) or sit in memory Node will not move (its Buffer pool, on Node 22+).
      const whole = input.bytes.byteOffset === 0 && input.bytes.byteLength === input.bytes.buffer.byteLength && !isMarkedAsUntransferable(input.bytes.buffer);
      // (A copy: Buffer's own slice() would be a view of the same memory.)
      const bytes = whole ? input.bytes : new Uint8Array(input.bytes);
      this.worker.postMessage({ seq, uri: input.uri, bytes }, [bytes.buffer as ArrayBuffer]);
    });
  }

  private settle(reply: WorkerReply): void {
    const p = this.pending.get(reply.seq);
    if (!p) return;
    this.pending.delete(reply.seq);
    if ('error' in reply) {
      const code = reply.error.code as ConstructorParameters<typeof RapflowError>[0] | undefined;
      p.reject(new RapflowError(code ?? 'INTERNAL', reply.error.message));
    } else if (!reply.ok) {
      p.resolve({ ok: false, problems: reply.problems });
    } else {
      const data = Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength);
      const values = reply.keys.map((_, i) => data.subarray(reply.offsets[i], reply.offsets[i + 1]));
      p.resolve({ ok: true, topics: reply.topics, keys: reply.keys, schemaIds: reply.schemaIds, schemaVersions: reply.schemaVersions, partitions: reply.partitions, values });
    }
  }

  private failAll(err: RapflowError): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
