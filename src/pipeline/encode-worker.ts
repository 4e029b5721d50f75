// Worker thread entry: validates and encodes files for split, replying with all values in one transferred buffer.
import { parentPort, workerData } from 'node:worker_threads';
import { loadSchemaSet, type RecordName } from '../codec/schemas.js';
import { RapflowError } from '../errors.js';
import { encodeFile } from './encode.js';
import type { WorkerReply, WorkerSettings } from './encoder.js';

const settings = workerData as WorkerSettings;
const { types } = loadSchemaSet(settings.avroDir);
const encodeSettings = { ids: new Map(settings.ids as [RecordName, { id: number; version: number }][]), topicPrefix: settings.topicPrefix, limits: settings.limits, partitions: settings.partitions };

parentPort!.on('message', (msg: { seq: number; uri: string; bytes: Uint8Array }) => {
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const r = encodeFile({ uri: msg.uri, bytes: msg.bytes }, types, encodeSettings);
    if (!r.ok) {
      reply = { seq: msg.seq, ok: false, problems: r.problems };
    } else {
      const offsets = new Uint32Array(r.values.length + 1);
      let total = 0;
      r.values.forEach((v, i) => {
        offsets[i] = total;
        total += v.length;
      });
      offsets[r.values.length] = total;
      const data = new Uint8Array(total);
      r.values.forEach((v, i) => data.set(v, offsets[i]));
      transfer.push(data.buffer, offsets.buffer);
      reply = { seq: msg.seq, ok: true, topics: r.topics, keys: r.keys, schemaIds: r.schemaIds, schemaVersions: r.schemaVersions, partitions: r.partitions, offsets, data };
    }
  } catch (err) {
    reply = { seq: msg.seq, error: { code: err instanceof RapflowError ? err.code : undefined, message: err instanceof Error ? err.message : String(err) } };
  }
  parentPort!.postMessage(reply, transfer);
});
